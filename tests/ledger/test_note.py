"""Signed notes, checkpoints and cosignatures: round trips, properties and failure cases."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import CheckpointError, MalformedKeyError, MalformedNoteError, SignatureError
from ledger.keys import PrivateKey, b64decode, b64encode
from ledger.note import (
    Checkpoint,
    CosignatureSigner,
    CosignatureVerifier,
    Ed25519Signer,
    Ed25519Verifier,
    Note,
    NoteSignature,
    SignedCheckpoint,
    add_signature_lines,
    cosignature_message,
    open_checkpoint,
    parse_note,
    sign_checkpoint,
    sign_note,
    verify_cosignatures,
    verify_note,
    vkey_from_text,
)

ORIGIN = "ledger.example/farm-coop"
ROOT = bytes(range(32))


def key(n: int) -> PrivateKey:
    """A deterministic test key: tests never depend on randomness."""
    return PrivateKey.from_seed(bytes([n]) * 32)


OPERATOR = Ed25519Signer(ORIGIN, key(1))
WITNESSES = [CosignatureSigner(f"witness.example/w{i}", key(10 + i)) for i in range(3)]


def signed_checkpoint(
    size: int = 7, *cosigners: tuple[CosignatureSigner, int]
) -> tuple[Checkpoint, str]:
    checkpoint = Checkpoint(ORIGIN, size, ROOT)
    text = sign_checkpoint(checkpoint, OPERATOR)
    lines = [signer.cosign(checkpoint, timestamp) for signer, timestamp in cosigners]
    return checkpoint, add_signature_lines(text, lines)


# --- strategies ----------------------------------------------------------------------------

#: Any character a note may hold except newline (no ASCII controls, no surrogates).
_NOTE_CHAR = st.characters(codec="utf-8", exclude_characters="\n").filter(lambda c: c >= " ")
_NOTE_LINE = st.text(_NOTE_CHAR, max_size=20)
_NOTE_BODY = st.lists(_NOTE_LINE, min_size=1, max_size=4).map(
    lambda lines: "".join(line + "\n" for line in lines)
)
#: Key names: non-empty, no whitespace, no "+", no controls.
_KEY_NAME = st.text(
    _NOTE_CHAR.filter(lambda c: not c.isspace() and c != "+"), min_size=1, max_size=30
)
_EXTENSION = st.text(_NOTE_CHAR, min_size=1, max_size=20)


# --- notes ---------------------------------------------------------------------------------


def test_sign_and_verify_round_trip_with_two_signers() -> None:
    other = Ed25519Signer("other.example/key", key(2))
    text = sign_note("hello\nworld\n", [OPERATOR, other])
    note, verified = verify_note(text, [OPERATOR.verifier(), other.verifier()])
    assert note.body == "hello\nworld\n"
    assert verified == list(note.signatures)
    assert parse_note(text).text() == text


def test_note_text_may_contain_blank_lines() -> None:
    body = "first\n\nthird\n\n"
    text = sign_note(body, [OPERATOR])
    note, _ = verify_note(text, [OPERATOR.verifier()])
    assert note.body == body


def test_signing_twice_with_one_key_writes_one_line() -> None:
    text = sign_note("x\n", [OPERATOR, OPERATOR])
    assert len(parse_note(text).signatures) == 1


@pytest.mark.parametrize(
    "body",
    ["", "no final newline", "bell\x07\n", "cr\r\n"],
    ids=["empty", "no-newline", "bel", "cr"],
)
def test_signing_a_malformed_body_is_refused(body: str) -> None:
    with pytest.raises(MalformedNoteError):
        OPERATOR.sign(body)


def test_sign_note_needs_a_signer() -> None:
    with pytest.raises(MalformedNoteError, match="at least one signature"):
        sign_note("x\n", [])


def test_verify_note_with_no_verifiers_is_rejected() -> None:
    with pytest.raises(SignatureError, match="no verifiable signatures"):
        verify_note(sign_note("x\n", [OPERATOR]), [])


def test_note_signature_line_round_trips() -> None:
    sig = OPERATOR.sign("x\n")
    assert NoteSignature.from_line(sig.line()) == sig
    assert NoteSignature.from_line(sig.line().rstrip("\n")) == sig


def test_non_canonical_base64_signature_is_malformed() -> None:
    # 68 bytes encode to 91 characters and "=": the last character carries 2 unused bits.
    # Go's decoder ignores them; ours refuses, so a signature line has one spelling.
    text = sign_note("x\n", [OPERATOR])
    last = text.index("=\n") - 1
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    variant = alphabet[alphabet.index(text[last]) ^ 1]
    tampered = text[:last] + variant + text[last + 1 :]
    with pytest.raises(MalformedNoteError, match="canonical"):
        verify_note(tampered, [OPERATOR.verifier()])


@pytest.mark.parametrize(
    "line",
    [
        "- name AAAAAAA=",  # hyphen, not em dash
        "—name AAAAAAA=",  # no space after the dash
        "— name",  # no signature
        "— name AAAA",  # 3 bytes: shorter than a key id plus a signature
        "— name AAAAAAA",  # missing padding
        "— name AAAA AAA=",  # space inside the base64
        "— a+b AAAAAAA=",  # "+" in the name
    ],
)
def test_malformed_signature_line_is_refused(line: str) -> None:
    with pytest.raises(MalformedNoteError):
        NoteSignature.from_line(line)


def test_note_cannot_be_built_without_signatures_or_with_too_many() -> None:
    sig = OPERATOR.sign("x\n")
    with pytest.raises(MalformedNoteError):
        Note("x\n", ())
    with pytest.raises(MalformedNoteError):
        Note("x\n", (sig,) * 101)
    assert len(Note("x\n", (sig,) * 100).signatures) == 100


@settings(deadline=None)
@given(body=_NOTE_BODY)
def test_parse_note_round_trips_any_signed_note(body: str) -> None:
    text = sign_note(body, [OPERATOR])
    assert parse_note(text).text() == text
    note, verified = verify_note(text, [OPERATOR.verifier()])
    assert note.body == body
    assert len(verified) == 1


@settings(deadline=None)
@given(body=_NOTE_BODY, data=st.data())
def test_any_single_character_change_is_detected(body: str, data: st.DataObject) -> None:
    text = sign_note(body, [OPERATOR])
    i = data.draw(st.integers(0, len(text) - 1), label="position")
    replacement = data.draw(st.characters().filter(lambda c: c != text[i]), label="replacement")
    tampered = text[:i] + replacement + text[i + 1 :]
    with pytest.raises((SignatureError, MalformedNoteError)):
        verify_note(tampered, [OPERATOR.verifier()])


# --- keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["", "a b", "a+b", "a\tb", "a\u00a0b", "a\u2003b", "a\nb"], ids=repr
)
def test_invalid_key_name_is_refused(name: str) -> None:
    with pytest.raises(MalformedKeyError):
        Ed25519Verifier(name, key(1).public_key)
    with pytest.raises(MalformedKeyError):
        CosignatureVerifier(name, key(1).public_key)


def test_vkey_from_text_dispatches_on_the_type_byte() -> None:
    witness = WITNESSES[0]
    assert vkey_from_text(OPERATOR.vkey) == OPERATOR.verifier()
    assert vkey_from_text(witness.vkey) == witness.verifier()
    assert isinstance(vkey_from_text(OPERATOR.vkey), Ed25519Verifier)
    assert isinstance(vkey_from_text(witness.vkey), CosignatureVerifier)
    assert b64decode(OPERATOR.vkey.split("+", 2)[2], what="vkey")[0] == 0x01
    assert b64decode(witness.vkey.split("+", 2)[2], what="vkey")[0] == 0x04


def test_one_key_has_different_ids_as_signer_and_as_witness() -> None:
    as_log = Ed25519Signer("same.example/key", key(5))
    as_witness = CosignatureSigner("same.example/key", key(5))
    assert as_log.key_id != as_witness.key_id


def test_verifier_classes_refuse_each_others_vkeys() -> None:
    with pytest.raises(MalformedKeyError, match="expected 0x01"):
        Ed25519Verifier.from_vkey(WITNESSES[0].vkey)
    with pytest.raises(MalformedKeyError, match="expected 0x04"):
        CosignatureVerifier.from_vkey(OPERATOR.vkey)


@pytest.mark.parametrize("algorithm", [0x00, 0x02, 0x03, 0x05, 0x06, 0xFF])
def test_vkey_of_an_unsupported_type_is_refused(algorithm: int) -> None:
    encoded = b64encode(bytes([algorithm]) + key(1).public_key.raw)
    with pytest.raises(MalformedKeyError, match=f"type 0x{algorithm:02x}"):
        vkey_from_text(f"name+00000000+{encoded}")


def test_vkey_with_uppercase_key_id_is_refused() -> None:
    name, hex_id, encoded = OPERATOR.vkey.split("+", 2)
    with pytest.raises(MalformedKeyError, match="lowercase"):
        vkey_from_text(f"{name}+{hex_id.upper()}+{encoded}")


def test_skeys_round_trip() -> None:
    assert Ed25519Signer.from_skey(OPERATOR.skey).vkey == OPERATOR.vkey
    witness = CosignatureSigner.from_skey(WITNESSES[0].skey)
    assert witness.vkey == WITNESSES[0].vkey
    assert WITNESSES[0].skey.startswith("PRIVATE+KEY+witness.example/w0+")
    with pytest.raises(MalformedKeyError, match="expected 0x01"):
        Ed25519Signer.from_skey(WITNESSES[0].skey)


def test_signers_do_not_print_their_private_key() -> None:
    assert "private_key" not in repr(OPERATOR)
    assert "private_key" not in repr(WITNESSES[0])


# --- checkpoints ---------------------------------------------------------------------------


@settings(deadline=None)
@given(
    origin=_KEY_NAME,
    size=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(_EXTENSION, max_size=2).map(tuple),
)
def test_checkpoint_round_trips_through_sign_and_open(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    checkpoint = Checkpoint(origin, size, root, extensions)
    signer = Ed25519Signer(origin, key(3))
    text = sign_checkpoint(checkpoint, signer)
    signed = open_checkpoint(text, signer.verifier(), origin=origin)
    assert signed.checkpoint == checkpoint
    assert signed.text == text
    assert Checkpoint.from_body(checkpoint.body()) == checkpoint


def test_checkpoint_body_is_the_c2sp_format() -> None:
    checkpoint = Checkpoint(ORIGIN, 0, ROOT, ("ext one",))
    assert checkpoint.body() == f"{ORIGIN}\n0\n{b64encode(ROOT)}\next one\n"


@pytest.mark.parametrize(
    ("size", "root", "extra"),
    [
        ("010", b64encode(ROOT), ""),  # leading zero
        ("-1", b64encode(ROOT), ""),
        ("+1", b64encode(ROOT), ""),
        (" 1", b64encode(ROOT), ""),
        ("\u0661", b64encode(ROOT), ""),  # ARABIC-INDIC DIGIT ONE: not ASCII decimal
        (str(2**64), b64encode(ROOT), ""),  # beyond uint64
        ("1", b64encode(ROOT[:31]), ""),  # 31-byte root
        ("1", b64encode(ROOT)[:-1], ""),  # unpadded
        ("1", b64encode(ROOT)[:-2] + "9=", ""),  # non-canonical pad bits
        ("1", b64encode(ROOT), "\n"),  # empty extension line
    ],
    ids=[
        "leading-zero",
        "negative",
        "plus-sign",
        "space",
        "non-ascii-digit",
        "over-uint64",
        "short-root",
        "unpadded-root",
        "non-canonical-root",
        "empty-extension",
    ],
)
def test_malformed_checkpoint_body_is_refused(size: str, root: str, extra: str) -> None:
    with pytest.raises(MalformedNoteError):
        Checkpoint.from_body(f"{ORIGIN}\n{size}\n{root}\n{extra}")


@pytest.mark.parametrize(
    "body", ["", f"{ORIGIN}\n1\n", f"{ORIGIN}\n1\n{b64encode(ROOT)}", f"\n1\n{b64encode(ROOT)}\n"]
)
def test_checkpoint_body_with_missing_parts_is_refused(body: str) -> None:
    with pytest.raises(MalformedNoteError):
        Checkpoint.from_body(body)


def test_checkpoint_size_limits() -> None:
    assert Checkpoint.from_body(f"{ORIGIN}\n{2**64 - 1}\n{b64encode(ROOT)}\n").size == 2**64 - 1
    with pytest.raises(MalformedNoteError):
        Checkpoint(ORIGIN, -1, ROOT)
    with pytest.raises(MalformedNoteError):
        Checkpoint(ORIGIN, True, ROOT)


def test_open_checkpoint_for_another_origin_is_refused() -> None:
    _, text = signed_checkpoint()
    with pytest.raises(CheckpointError, match="another log") as info:
        open_checkpoint(text, OPERATOR.verifier(), origin="ledger.example/other")
    assert info.value.expected == "ledger.example/other"
    assert info.value.observed == ORIGIN


def test_checkpoint_whose_origin_is_not_the_key_name_is_refused() -> None:
    body = Checkpoint("ledger.example/other", 1, ROOT).body()
    text = sign_note(body, [OPERATOR])
    with pytest.raises(CheckpointError, match="origin is not the log's key name"):
        open_checkpoint(text, OPERATOR.verifier())
    with pytest.raises(CheckpointError, match="origin must be the log's key name"):
        sign_checkpoint(Checkpoint("ledger.example/other", 1, ROOT), OPERATOR)


def test_checkpoint_without_the_operator_signature_is_refused() -> None:
    impostor = Ed25519Signer(ORIGIN, key(99))  # same name, another key: an unknown key
    text = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), impostor)
    with pytest.raises(CheckpointError, match="no signature by the log's key"):
        open_checkpoint(text, OPERATOR.verifier())


def test_checkpoint_with_a_bad_operator_signature_is_refused() -> None:
    _, text = signed_checkpoint(7)
    tampered = text.replace(f"\n7\n{b64encode(ROOT)}", f"\n8\n{b64encode(ROOT)}", 1)
    with pytest.raises(SignatureError, match="invalid signature"):
        open_checkpoint(tampered, OPERATOR.verifier())


def test_open_checkpoint_keeps_cosignatures_unverified() -> None:
    _, text = signed_checkpoint(7, (WITNESSES[0], 100))
    signed = open_checkpoint(text, OPERATOR.verifier())
    assert [s.name for s in signed.note.signatures] == [ORIGIN, "witness.example/w0"]
    assert signed.note.text() == text


def test_signed_checkpoint_parts_must_agree() -> None:
    checkpoint, text = signed_checkpoint(7)
    signed = open_checkpoint(text, OPERATOR.verifier())
    with pytest.raises(MalformedNoteError, match="disagree"):
        SignedCheckpoint(Checkpoint(ORIGIN, 8, ROOT), signed.note, text)
    assert SignedCheckpoint(checkpoint, signed.note, text) == signed


# --- cosignatures --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cosigners", "required"), [(0, 0), (1, 1), (2, 1), (2, 2), (3, 3), (1, 2), (2, 3), (0, 1)]
)
def test_cosignature_threshold_k_of_n(cosigners: int, required: int) -> None:
    _, text = signed_checkpoint(7, *((w, 1_700_000_000) for w in WITNESSES[:cosigners]))
    signed = open_checkpoint(text, OPERATOR.verifier())
    witnesses = [w.verifier() for w in WITNESSES]
    if cosigners >= required:
        names = verify_cosignatures(signed, witnesses, required=required)
        assert names == [w.name for w in WITNESSES[:cosigners]]
    else:
        with pytest.raises(CheckpointError, match=f"{cosigners} of 3 witnesses") as info:
            verify_cosignatures(signed, witnesses, required=required)
        assert info.value.expected is not None
        assert info.value.expected.startswith(f"at least {required}")


def test_cosignature_by_an_unlisted_witness_does_not_count() -> None:
    outsider = CosignatureSigner("outsider.example/w", key(50))
    _, text = signed_checkpoint(7, (outsider, 1))
    signed = open_checkpoint(text, OPERATOR.verifier())
    with pytest.raises(CheckpointError):
        verify_cosignatures(signed, [w.verifier() for w in WITNESSES], required=1)


def test_one_witness_cosigning_twice_counts_once() -> None:
    witness = WITNESSES[0]
    _, text = signed_checkpoint(7, (witness, 1), (witness, 2))
    signed = open_checkpoint(text, OPERATOR.verifier())
    assert len(signed.note.signatures) == 3
    assert verify_cosignatures(signed, [witness.verifier()], required=1) == [witness.name]
    with pytest.raises(CheckpointError):
        verify_cosignatures(signed, [witness.verifier()], required=2)


def test_cosignature_copied_from_another_checkpoint_is_rejected() -> None:
    witness = WITNESSES[0]
    stolen = witness.cosign(Checkpoint(ORIGIN, 6, ROOT), 1)
    _, text = signed_checkpoint(7)
    signed = open_checkpoint(add_signature_lines(text, [stolen]), OPERATOR.verifier())
    with pytest.raises(SignatureError, match=r"witness\.example/w0"):
        verify_cosignatures(signed, [witness.verifier()], required=0)


def test_cosignature_timestamp_is_signed() -> None:
    witness = WITNESSES[1]
    checkpoint = Checkpoint(ORIGIN, 7, ROOT)
    sig = witness.cosign(checkpoint, 1_700_000_000)
    verifier = witness.verifier()
    assert verifier.timestamp_of(sig.blob) == 1_700_000_000
    assert verifier.verify(checkpoint.body().encode(), sig.blob)
    moved = (1_700_000_001).to_bytes(8, "big") + sig.blob[8:]
    assert not verifier.verify(checkpoint.body().encode(), moved)


def test_cosignature_timestamp_beyond_2_63_is_refused() -> None:
    witness = WITNESSES[1]
    body = Checkpoint(ORIGIN, 7, ROOT).body()
    timestamp = 2**63
    blob = timestamp.to_bytes(8, "big") + witness.private_key.sign(
        cosignature_message(body, timestamp)
    )
    assert not witness.verifier().verify(body.encode(), blob)
    with pytest.raises(ValueError, match="2\\*\\*63"):
        witness.cosign(Checkpoint(ORIGIN, 7, ROOT), timestamp)
    with pytest.raises(ValueError, match="2\\*\\*63"):
        witness.cosign(Checkpoint(ORIGIN, 7, ROOT), -1)


def test_cosignature_blob_of_the_wrong_length_is_refused() -> None:
    verifier = WITNESSES[0].verifier()
    assert not verifier.verify(b"x\n", bytes(71))
    with pytest.raises(MalformedNoteError, match="72 bytes"):
        verifier.timestamp_of(bytes(71))


def test_verify_cosignatures_refuses_a_negative_threshold() -> None:
    _, text = signed_checkpoint(7)
    signed = open_checkpoint(text, OPERATOR.verifier())
    with pytest.raises(ValueError, match="required"):
        verify_cosignatures(signed, [], required=-1)


# --- adding signature lines ----------------------------------------------------------------


def test_add_signature_lines_skips_lines_already_present() -> None:
    checkpoint, text = signed_checkpoint(7)
    cosignature = WITNESSES[0].cosign(checkpoint, 5)
    once = add_signature_lines(text, [cosignature, cosignature])
    assert add_signature_lines(once, [cosignature]) == once
    assert once == text + cosignature.line()


def test_add_signature_lines_refuses_more_than_100() -> None:
    checkpoint, text = signed_checkpoint(7)
    lines = [WITNESSES[0].cosign(checkpoint, t) for t in range(99)]
    full = add_signature_lines(text, lines)
    assert len(parse_note(full).signatures) == 100
    with pytest.raises(MalformedNoteError, match="at most 100"):
        add_signature_lines(full, [WITNESSES[1].cosign(checkpoint, 0)])

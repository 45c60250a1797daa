"""Known-answer vectors from ``shared/vectors/signed_note.txt`` (C2SP, Go, Sigsum, sum.golang.org).

The vector file is data: a small parser below splits it into its ``V<n>`` sections and pulls out
keys, notes and labelled blocks, so the strings are not copied here. The negative cases are
ports of Go's ``golang.org/x/mod/sumdb/note`` ``TestOpen``/``TestNewVerifier``/``TestNewSigner``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import pytest

from ledger.errors import CheckpointError, MalformedKeyError, MalformedNoteError, SignatureError
from ledger.keys import PrivateKey
from ledger.note import (
    Checkpoint,
    CosignatureSigner,
    CosignatureVerifier,
    Ed25519Signer,
    Ed25519Verifier,
    NoteSignature,
    add_signature_lines,
    open_checkpoint,
    parse_note,
    sign_checkpoint,
    sign_note,
    verify_cosignatures,
    verify_note,
    vkey_from_text,
)
from tests.shared import VECTORS_DIR

# --- a parser for the vector file ----------------------------------------------------------

_HEADER = re.compile(r"(V\d+b?)\. ")
_KEY_LINE = re.compile(r"(skey|vkey|derived vkey|derived witness vkey): (\S+)")
_SEPARATOR = re.compile(r"-{20,}")
_SIG = "— "


@dataclass(frozen=True)
class Vector:
    """One ``V<n>`` section of the vector file, as its lines."""

    id: str
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def keys(self, label: str) -> list[str]:
        """Values of ``<label>: <key>`` lines, in order."""
        found = []
        for line in self.lines:
            match = _KEY_LINE.fullmatch(line)
            if match and match.group(1) == label:
                found.append(match.group(2))
        return found

    def key(self, label: str) -> str:
        (value,) = self.keys(label)
        return value

    def notes(self) -> list[str]:
        """Every signed note: body lines, a blank line, one or more ``— `` lines.

        The body runs back from the blank line to the nearest label (``note:``), indented
        source line or section header.
        """
        notes = []
        lines = self.lines
        for i in range(1, len(lines) - 1):
            if lines[i] or not lines[i + 1].startswith(_SIG):
                continue
            start = i
            while start > 0 and _is_body_line(lines[start - 1]):
                start -= 1
            end = i + 1
            while end < len(lines) and lines[end].startswith(_SIG):
                end += 1
            notes.append("".join(line + "\n" for line in lines[start:end]))
        return notes

    def note(self) -> str:
        (value,) = self.notes()
        return value

    def block(self, label: str) -> list[str]:
        """The lines after a ``<label>:`` line, up to the next label line."""
        start = self.lines.index(f"{label}:") + 1
        end = start
        while end < len(self.lines) and not self.lines[end].endswith(":"):
            end += 1
        return list(self.lines[start:end])

    def signature_lines(self) -> list[str]:
        return [line for line in self.lines if line.startswith(_SIG)]


def _is_body_line(line: str) -> bool:
    return (
        bool(line)
        and not line.endswith(":")
        and not line[0].isspace()
        and not (_HEADER.match(line))
    )


@cache
def vectors() -> dict[str, Vector]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in (VECTORS_DIR / "signed_note.txt").read_text(encoding="utf-8").splitlines():
        header = _HEADER.match(line)
        if header:
            current = sections.setdefault(header.group(1), [])
        elif _SEPARATOR.fullmatch(line):
            current = None
        if current is not None:
            current.append(line)
    return {vid: Vector(vid, tuple(lines)) for vid, lines in sections.items()}


def vector(vid: str) -> Vector:
    return vectors()[vid]


#: V4/V5: "Ed25519 seed = 0x11 followed by 31 zero bytes" (sigsum-go ``crypto.PrivateKey{17}``).
SIGSUM_TEST_SEED = bytes([0x11]) + bytes(31)


def sigsum_test_key() -> PrivateKey:
    assert "seed = 0x11 followed by 31 zero bytes" in vector("V4").text
    return PrivateKey.from_seed(SIGSUM_TEST_SEED)


def test_vector_file_has_every_section() -> None:
    assert set(vectors()) == {"V1", "V2", "V3", "V3b", "V4", "V5", "V5b", "V6"}


# --- V1: the C2SP signed-note example ------------------------------------------------------


def test_v1_spec_example_verifies() -> None:
    v1 = vector("V1")
    verifier = Ed25519Verifier.from_vkey(v1.key("vkey"))
    note, verified = verify_note(v1.note(), [verifier])
    assert note.body == "This is an example message.\n"
    assert [s.name for s in verified] == ["example.com/foo"]
    assert verifier.vkey == v1.key("vkey")


def test_v1_changing_any_character_of_the_text_fails() -> None:
    v1 = vector("V1")
    verifier = Ed25519Verifier.from_vkey(v1.key("vkey"))
    text = v1.note()
    body_length = len(parse_note(text).body)
    for i in range(body_length):
        replacement = "X" if text[i] != "X" else "Y"
        tampered = text[:i] + replacement + text[i + 1 :]
        with pytest.raises((SignatureError, MalformedNoteError)):
            verify_note(tampered, [verifier])


# --- V2: Go x/mod/sumdb/note ---------------------------------------------------------------


def _v2() -> tuple[str, str, str, Ed25519Verifier, Ed25519Verifier]:
    """(note text, PeterNeumann line, EnochRoot line, Peter's verifier, Enoch's verifier)."""
    v2 = vector("V2")
    peter_vkey, enoch_vkey = v2.keys("vkey")
    peter_line, enoch_line = (line + "\n" for line in v2.signature_lines())
    return (
        v2.note(),
        peter_line,
        enoch_line,
        Ed25519Verifier.from_vkey(peter_vkey),
        Ed25519Verifier.from_vkey(enoch_vkey),
    )


def _v2_body() -> str:
    return parse_note(vector("V2").note()).body


def test_v2_signing_with_the_skey_reproduces_the_peterneumann_line() -> None:
    _, peter_line, _, _, _ = _v2()
    signer = Ed25519Signer.from_skey(vector("V2").key("skey"))
    assert signer.sign(_v2_body()).line() == peter_line
    assert sign_note(_v2_body(), [signer]) == _v2_body() + "\n" + peter_line


def test_v2_skey_round_trips_and_derives_the_vkey() -> None:
    v2 = vector("V2")
    signer = Ed25519Signer.from_skey(v2.key("skey"))
    assert signer.skey == v2.key("skey")
    assert signer.vkey == v2.keys("vkey")[0]
    assert signer.key_id.hex() == "c74f20a3"
    assert signer.verifier() == Ed25519Verifier.from_vkey(v2.keys("vkey")[0])


def test_v2_both_signatures_verify() -> None:
    text, _, _, peter, enoch = _v2()
    note, verified = verify_note(text, [peter, enoch])
    assert [(s.name, s.key_id.hex()) for s in verified] == [
        ("PeterNeumann", "c74f20a3"),
        ("EnochRoot", "af0cfe78"),
    ]
    assert note.text() == text


def test_v2_signature_by_unknown_key_is_kept_but_not_verified() -> None:
    text, _, _, peter, _ = _v2()
    note, verified = verify_note(text, [peter])
    assert [s.name for s in verified] == ["PeterNeumann"]
    assert [s.name for s in note.signatures if s not in verified] == ["EnochRoot"]


def test_v2_note_without_signature_by_a_known_key_is_rejected() -> None:
    text, _, _, _, _ = _v2()
    with pytest.raises(SignatureError, match="no verifiable signatures"):
        verify_note(text, [])


@pytest.mark.parametrize("known", [True, False], ids=["known-key", "no-keys"])
def test_v2_more_than_100_signatures_is_malformed(known: bool) -> None:
    _, peter_line, _, peter, _ = _v2()
    text = _v2_body() + "\n" + peter_line * 101
    with pytest.raises(MalformedNoteError, match="at most 100"):
        verify_note(text, [peter] if known else [])


def test_v2_100_identical_signatures_verify_once() -> None:
    _, peter_line, _, peter, _ = _v2()
    _, verified = verify_note(_v2_body() + "\n" + peter_line * 100, [peter])
    assert len(verified) == 1


def _insert_abcd_at_byte_60(line: str) -> str:
    """Go's ``sig[:60] + "ABCD" + sig[60:]`` (a byte offset; the em dash is 3 bytes)."""
    raw = line.encode("utf-8")
    return (raw[:60] + b"ABCD" + raw[60:]).decode("utf-8")


def test_v2_bad_signature_from_a_known_key_rejects_the_note() -> None:
    _, peter_line, _, peter, _ = _v2()
    text = _v2_body() + "\n" + _insert_abcd_at_byte_60(peter_line)
    with pytest.raises(SignatureError, match=r"invalid signature for key PeterNeumann\+c74f20a3"):
        verify_note(text, [peter])


def test_v2_bad_signature_from_an_unknown_key_is_ignored() -> None:
    # Go: "Duplicated verified and unverified signatures".
    _, peter_line, enoch_line, peter, _ = _v2()
    enoch_abcd = _insert_abcd_at_byte_60(enoch_line)
    text = _v2_body() + "\n" + peter_line + peter_line + enoch_line + enoch_line + enoch_abcd
    note, verified = verify_note(text, [peter])
    assert [s.line() for s in verified] == [peter_line]
    unverified = [s.line() for s in dict.fromkeys(note.signatures) if s not in verified]
    assert unverified == [enoch_line, enoch_abcd]


# Go's TestOpen ``badMsgs``: (note built from the text and Peter's line, expected error).
# "\xff" (invalid UTF-8 bytes) becomes a lone surrogate in a str.
_MALFORMED: dict[str, tuple[Callable[[str, str], str], str]] = {
    "text-only": (lambda body, sig: body, "no blank line"),
    "no-signature-lines": (lambda body, sig: body + "\n", "no signature lines"),
    "missing-final-newline": (
        lambda body, sig: body + "\n" + sig[:-1],
        "does not end with a newline",
    ),
    "control-character": (lambda body, sig: "\x01" + body + "\n" + sig, "control character"),
    "invalid-utf8": (lambda body, sig: "\udcff" + body + "\n" + sig, "not valid UTF-8"),
    "name-with-a-space": (
        lambda body, sig: body + "\n" + sig.replace("PeterNeumann", "Bad Name"),
        "key names contain no spaces",
    ),
    "trailing-garbage-line": (
        lambda body, sig: body + "\n" + sig + "Unexpected line.\n",
        "must start with '— '",
    ),
}


@pytest.mark.parametrize("case", sorted(_MALFORMED))
def test_v2_malformed_note_is_rejected(case: str) -> None:
    _, peter_line, _, peter, _ = _v2()
    build, message = _MALFORMED[case]
    with pytest.raises(MalformedNoteError, match=re.escape(message)):
        verify_note(build(_v2_body(), peter_line), [peter])


def test_v2_duplicate_verifiers_for_a_used_key_are_ambiguous() -> None:
    _, _, enoch_line, peter, enoch = _v2()
    with pytest.raises(MalformedKeyError, match=r"ambiguous key EnochRoot\+af0cfe78"):
        verify_note(_v2_body() + "\n" + enoch_line, [enoch, peter, enoch])


def test_v2_duplicate_verifiers_for_an_unused_key_are_not_an_error() -> None:
    _, peter_line, _, peter, enoch = _v2()
    _, verified = verify_note(_v2_body() + "\n" + peter_line, [enoch, peter, enoch])
    assert [s.name for s in verified] == ["PeterNeumann"]


def _manglings(text: str) -> list[str]:
    """Go's TestNewVerifier/TestNewSigner: every proper substring, every byte incremented."""
    out = [text[i:j] for i in range(len(text) + 1) for j in range(i + 1, len(text) + 1)]
    out.remove(text)
    out += [text[:i] + chr(ord(text[i]) + 1) + text[i + 1 :] for i in range(len(text))]
    return out


def test_v2_every_mangled_vkey_is_refused() -> None:
    vkey = vector("V2").keys("vkey")[0]
    for mangled in _manglings(vkey):
        with pytest.raises(MalformedKeyError):
            Ed25519Verifier.from_vkey(mangled)


@pytest.mark.parametrize(
    "vkey",
    [
        # Go: wrong length key, with adjusted key hash; unknown algorithm, with adjusted hash.
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
    ids=["wrong-key-length", "unknown-algorithm"],
)
def test_v2_vkey_with_adjusted_key_id_is_still_refused(vkey: str) -> None:
    with pytest.raises(MalformedKeyError):
        vkey_from_text(vkey)


def test_v2_every_mangled_skey_is_refused() -> None:
    for mangled in _manglings(vector("V2").key("skey")):
        with pytest.raises(MalformedKeyError):
            Ed25519Signer.from_skey(mangled)


# --- V3, V3b: real sum.golang.org checkpoints ----------------------------------------------


@pytest.mark.parametrize("vid", ["V3", "V3b"])
def test_sum_golang_org_checkpoint_verifies(vid: str) -> None:
    # V3b: "verifies with the same vkey" as V3.
    verifier = Ed25519Verifier.from_vkey(vector("V3").key("vkey"))
    text = vector(vid).note()
    note, verified = verify_note(text, [verifier])
    assert [s.name for s in verified] == ["sum.golang.org"]
    checkpoint = Checkpoint.from_body(note.body)
    origin, size, _root = note.body.splitlines()
    assert checkpoint == Checkpoint(origin, int(size), checkpoint.root)
    assert checkpoint.origin == "go.sum database tree"
    assert checkpoint.body() == note.body
    assert len(checkpoint.root) == 32


def test_sum_golang_org_checkpoint_sizes_differ() -> None:
    sizes = [Checkpoint.from_body(parse_note(vector(v).note()).body).size for v in ("V3", "V3b")]
    assert sizes == [30055305, 31700353]


def test_sum_golang_org_checkpoint_is_refused_by_open_checkpoint() -> None:
    # Its origin is not its key name, which open_checkpoint (FairLedger policy) requires.
    verifier = Ed25519Verifier.from_vkey(vector("V3").key("vkey"))
    with pytest.raises(CheckpointError, match="origin is not the log's key name"):
        open_checkpoint(vector("V3").note(), verifier)


# --- V4: Sigsum checkpoint with a public test key ------------------------------------------


def _v4_signer() -> Ed25519Signer:
    key = sigsum_test_key()
    origin = "sigsum.org/v1/tree/" + hashlib.sha256(key.public_key.raw).hexdigest()
    return Ed25519Signer(origin, key)


def test_v4_seed_derives_the_sigsum_vkey() -> None:
    signer = _v4_signer()
    assert signer.vkey == vector("V4").key("derived vkey")
    assert signer.key_id.hex() == "809da1a3"


def test_v4_signing_the_checkpoint_reproduces_the_note() -> None:
    text = vector("V4").note()
    checkpoint = Checkpoint.from_body(parse_note(text).body)
    assert sign_checkpoint(checkpoint, _v4_signer()) == text


def test_v4_checkpoint_opens_with_the_derived_vkey() -> None:
    v4 = vector("V4")
    verifier = Ed25519Verifier.from_vkey(v4.key("derived vkey"))
    signed = open_checkpoint(v4.note(), verifier, origin=verifier.name)
    assert signed.checkpoint.size == 10
    assert signed.checkpoint.root == bytes.fromhex("1c0e47") + bytes(29)
    assert signed.text == v4.note()


# --- V5, V5b: cosignature/v1 ---------------------------------------------------------------

#: V5: "produced by Cosign(signer{17}, timestamp 1234)".
V5_TIMESTAMP = 1234


def _v5() -> tuple[Checkpoint, NoteSignature, CosignatureVerifier]:
    v5 = vector("V5")
    assert f"timestamp {V5_TIMESTAMP}" in v5.text
    body = "".join(line + "\n" for line in v5.block("cosigned checkpoint body"))
    (line,) = v5.signature_lines()  # the line under "cosignature line:"
    verifier = CosignatureVerifier.from_vkey(v5.key("derived witness vkey"))
    return Checkpoint.from_body(body), NoteSignature.from_line(line), verifier


def test_v5_seed_derives_the_witness_vkey() -> None:
    witness = CosignatureSigner("example.org/witness", sigsum_test_key())
    assert witness.vkey == vector("V5").key("derived witness vkey")
    assert witness.key_id.hex() == "cacf2e50"


def test_v5_cosignature_verifies() -> None:
    checkpoint, cosignature, verifier = _v5()
    assert cosignature.key_id == verifier.key_id
    assert len(cosignature.key_id + cosignature.blob) == 76
    assert verifier.timestamp_of(cosignature.blob) == V5_TIMESTAMP
    assert verifier.verify(checkpoint.body().encode(), cosignature.blob)


def test_v5_cosigning_reproduces_the_line() -> None:
    checkpoint, cosignature, _ = _v5()
    witness = CosignatureSigner("example.org/witness", sigsum_test_key())
    assert witness.cosign(checkpoint, V5_TIMESTAMP).line() == cosignature.line()
    assert cosignature.line() == vector("V5").signature_lines()[0] + "\n"


def test_v5_bumping_the_timestamp_fails() -> None:
    checkpoint, cosignature, verifier = _v5()
    bumped = (V5_TIMESTAMP + 1).to_bytes(8, "big") + cosignature.blob[8:]
    assert not verifier.verify(checkpoint.body().encode(), bumped)


def test_v5_vkey_dispatches_to_a_cosignature_verifier() -> None:
    _, _, verifier = _v5()
    parsed = vkey_from_text(vector("V5").key("derived witness vkey"))
    assert isinstance(parsed, CosignatureVerifier)
    assert parsed == verifier
    with pytest.raises(MalformedKeyError, match="0x04"):
        Ed25519Verifier.from_vkey(verifier.vkey)


def _v5_log() -> Ed25519Signer:
    """A log key of our own for the V5 origin (the vector gives no log signature)."""
    return Ed25519Signer("example.org/log", PrivateKey.from_seed(bytes(range(32))))


def _v5_signed(checkpoint: Checkpoint, *lines: NoteSignature) -> str:
    """``checkpoint`` signed by ``_v5_log()``, with ``lines`` appended."""
    return add_signature_lines(sign_checkpoint(checkpoint, _v5_log()), lines)


def test_v5_cosignature_counts_on_a_signed_checkpoint() -> None:
    checkpoint, cosignature, verifier = _v5()
    signed = open_checkpoint(_v5_signed(checkpoint, cosignature), _v5_log().verifier())
    assert verify_cosignatures(signed, [verifier], required=1) == ["example.org/witness"]


@pytest.mark.parametrize("change", ["key-id", "name"])
def test_v5_cosignature_with_wrong_key_id_or_name_is_ignored(change: str) -> None:
    checkpoint, cosignature, verifier = _v5()
    if change == "key-id":
        wrong = NoteSignature(cosignature.name, bytes(4), cosignature.blob)
    else:
        wrong = NoteSignature("example.org/other", cosignature.key_id, cosignature.blob)
    signed = open_checkpoint(_v5_signed(checkpoint, wrong), _v5_log().verifier())
    assert verify_cosignatures(signed, [verifier], required=0) == []
    with pytest.raises(CheckpointError, match="1 required"):
        verify_cosignatures(signed, [verifier], required=1)


def test_v5_cosignature_on_another_size_is_rejected() -> None:
    checkpoint, cosignature, verifier = _v5()
    bigger = Checkpoint(checkpoint.origin, checkpoint.size + 1, checkpoint.root)
    signed = open_checkpoint(_v5_signed(bigger, cosignature), _v5_log().verifier())
    with pytest.raises(SignatureError, match=r"example\.org/witness"):
        verify_cosignatures(signed, [verifier], required=1)


def test_v5b_spec_cosignature_line_decodes() -> None:
    v5b = vector("V5b")
    match = re.search(r"keyid=([0-9a-f]{8}), timestamp=(\d+)", v5b.text)
    assert match is not None
    (line,) = v5b.signature_lines()
    cosignature = NoteSignature.from_line(line)
    assert cosignature.name == "witness.example.com/w1"
    assert cosignature.key_id.hex() == match.group(1)
    any_witness = CosignatureSigner("w", sigsum_test_key()).verifier()
    assert any_witness.timestamp_of(cosignature.blob) == int(match.group(2))
    assert len(cosignature.blob) - 8 == 64


# --- V6: ECDSA (not supported) -------------------------------------------------------------


def test_v6_ecdsa_vkey_is_refused_with_a_clear_error() -> None:
    vkey = vector("V6").key("vkey")
    with pytest.raises(MalformedKeyError, match=r"type 0x02 \(ECDSA"):
        vkey_from_text(vkey)
    with pytest.raises(MalformedKeyError, match="0x02"):
        Ed25519Verifier.from_vkey(vkey)


def test_v6_rekor_note_parses_but_no_ed25519_key_can_verify_it() -> None:
    text = vector("V6").note()
    note = parse_note(text)
    assert Checkpoint.from_body(note.body).size == 798034
    assert note.signatures[0].key_id.hex() == "c0d23d6a"
    with pytest.raises(SignatureError, match="no verifiable signatures"):
        verify_note(text, [Ed25519Verifier.from_vkey(vector("V2").keys("vkey")[0])])

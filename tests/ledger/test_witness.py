"""The witness (``ledger.witness``): cosigns checkpoints that extend the last one it cosigned,
refuses rollbacks and forks with evidence that stands on its own, keeps its state atomically;
and the ledger's side of cosignatures (trusted keys only, over checkpoints it signed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.errors import (
    CheckpointError,
    ForkError,
    MalformedNoteError,
    SignatureError,
    StorageError,
)
from ledger.evidence import check_evidence
from ledger.note import (
    Checkpoint,
    CosignatureSigner,
    Ed25519Signer,
    add_signature_lines,
    open_checkpoint,
    parse_note,
    sign_checkpoint,
    verify_cosignatures,
)
from ledger.witness import (
    CosignatureInvalidError,
    UnknownCheckpointError,
    UnknownWitnessError,
    Witness,
    WitnessStateFile,
    check_submitted_cosignatures,
    parse_submission,
    refusal_evidence,
)
from tests.factory import ORIGIN, Chain, key_for
from tests.ledger.forks import replay, twin

T = 1_795_341_600  # 2026-11-22T10:00:00Z: time is a parameter
WITNESS = CosignatureSigner("witness.example.org", key_for("witness"))


@pytest.fixture
def a(tmp_path: Path) -> Chain:
    chain = twin(tmp_path / "a.db")
    replay(chain, chain.sale("mill", 20))
    return chain


def witness_for(chain: Chain) -> Witness:
    return Witness(WITNESS, chain.ledger.verifier)


def test_cosigns_a_first_checkpoint_and_then_consistent_ones(a: Chain) -> None:
    witness = witness_for(a)
    first = witness.cosign(None, a.ledger.checkpoint_at(14) or "", [], timestamp=T)
    signed = open_checkpoint(first.note, a.ledger.verifier)
    assert signed.checkpoint.size == 14
    assert verify_cosignatures(signed, [WITNESS.verifier()], required=1) == [WITNESS.name]
    assert WITNESS.verifier().timestamp_of(first.line.blob) == T
    proof = a.ledger.consistency_proof(14, 24)
    second = witness.cosign(first.state, a.ledger.latest_checkpoint(), proof, timestamp=T + 60)
    assert second.state.size == 24
    again = witness.cosign(second.state, a.ledger.latest_checkpoint(), [], timestamp=T + 120)
    assert again.state.size == 24


def test_other_cosignatures_on_the_served_note_are_dropped(a: Chain) -> None:
    other = CosignatureSigner("other.example", key_for("other-witness"))
    note = a.ledger.latest_checkpoint()
    served = add_signature_lines(
        note, [other.cosign(Checkpoint.from_body(parse_note(note).body), T)]
    )
    cosigned = witness_for(a).cosign(None, served, [], timestamp=T)
    assert [s.name for s in parse_note(cosigned.note).signatures] == [ORIGIN, WITNESS.name]
    assert cosigned.state.checkpoint == note


def test_refuses_a_rollback(a: Chain) -> None:
    witness = witness_for(a)
    latest = witness.cosign(None, a.ledger.latest_checkpoint(), [], timestamp=T)
    older = a.ledger.checkpoint_at(14) or ""
    with pytest.raises(ForkError) as info:
        witness.cosign(latest.state, older, [], timestamp=T + 1)
    assert info.value.checkpoints == (latest.state.checkpoint, older)
    evidence = refusal_evidence(a.ledger.verifier, latest.state, older, [], info.value)
    assert evidence["kind"] == "rollback"
    assert check_evidence(evidence, a.ledger.verifier.vkey).startswith("rollback")


def test_refuses_an_equivocating_ledger(a: Chain, tmp_path: Path) -> None:
    """The server serves a checkpoint from another history than the one cosigned: no proof
    can relate them, the witness refuses, and its evidence convinces anyone with the vkey."""
    witness = witness_for(a)
    cosigned = witness.cosign(None, a.ledger.latest_checkpoint(), [], timestamp=T)
    b = twin(tmp_path / "b.db")
    replay(b, b.sale("farm-a", 30))
    presented = b.ledger.latest_checkpoint()
    proof = b.ledger.consistency_proof(24, 34)  # the equivocating server's own proof
    with pytest.raises(ForkError) as info:
        witness.cosign(cosigned.state, presented, proof, timestamp=T + 1)
    evidence = refusal_evidence(a.ledger.verifier, cosigned.state, presented, proof, info.value)
    assert evidence["kind"] == "fork"
    assert evidence["verified_checkpoint"] == a.ledger.latest_checkpoint()
    assert evidence["presented_checkpoint"] == presented
    assert check_evidence(evidence, a.ledger.verifier.vkey).startswith("fork")


def test_refuses_two_roots_for_one_size(a: Chain, tmp_path: Path) -> None:
    witness = witness_for(a)
    cosigned = witness.cosign(None, a.ledger.latest_checkpoint(), [], timestamp=T)
    b = twin(tmp_path / "b.db")
    replay(b, b.sale("farm-a", 20))
    with pytest.raises(ForkError):
        witness.cosign(cosigned.state, b.ledger.latest_checkpoint(), [], timestamp=T + 1)


def test_refuses_a_checkpoint_the_operator_did_not_sign(a: Chain) -> None:
    impostor = Ed25519Signer(ORIGIN, key_for("impostor"))
    forged = sign_checkpoint(Checkpoint(ORIGIN, 24, a.ledger.root(24)), impostor)
    with pytest.raises(CheckpointError):
        witness_for(a).cosign(None, forged, [], timestamp=T)


def test_state_is_saved_atomically_and_keyed_by_the_operator(a: Chain, tmp_path: Path) -> None:
    store = WitnessStateFile(tmp_path / "witness.json")
    vkey = a.ledger.verifier.vkey
    assert store.load(vkey) is None
    cosigned = witness_for(a).cosign(None, a.ledger.latest_checkpoint(), [], timestamp=T)
    store.save(cosigned.state)
    assert store.load(vkey) == cosigned.state
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    (tmp_path / "witness.json").write_text('{"format": "other"}')
    with pytest.raises(StorageError):
        store.load(vkey)


# -- the ledger's side ------------------------------------------------------------------------


def test_ledger_accepts_only_trusted_witnesses_over_its_own_checkpoint(a: Chain) -> None:
    note = a.ledger.latest_checkpoint()
    checkpoint = Checkpoint.from_body(parse_note(note).body)
    line = WITNESS.cosign(checkpoint, T)
    submitted = add_signature_lines(note, [line])
    size, body, lines = parse_submission(submitted, None)
    assert size == 24
    accepted = check_submitted_cosignatures(note, body, lines, [WITNESS.verifier()])
    assert [(c.witness.name, c.timestamp) for c in accepted] == [(WITNESS.name, T)]

    with pytest.raises(UnknownWitnessError):
        check_submitted_cosignatures(note, body, lines, [])
    stranger = CosignatureSigner(WITNESS.name, key_for("stranger"))
    with pytest.raises(UnknownWitnessError):
        check_submitted_cosignatures(note, body, lines, [stranger.verifier()])

    older = Checkpoint.from_body(parse_note(a.ledger.checkpoint_at(14) or "").body)
    wrong = WITNESS.cosign(older, T)  # a valid cosignature, of another checkpoint
    with pytest.raises(CosignatureInvalidError) as bad:
        check_submitted_cosignatures(note, body, [wrong], [WITNESS.verifier()])
    assert isinstance(bad.value, SignatureError)

    other_body = Checkpoint(ORIGIN, 24, bytes(32)).body()
    with pytest.raises(UnknownCheckpointError):
        check_submitted_cosignatures(note, other_body, lines, [WITNESS.verifier()])


def test_bare_lines_need_a_size() -> None:
    line = WITNESS.cosign(Checkpoint(ORIGIN, 3, bytes(32)), T).line()
    assert parse_submission(line, 3)[0] == 3
    with pytest.raises(MalformedNoteError):
        parse_submission(line, None)
    with pytest.raises(MalformedNoteError):
        parse_submission("", 3)

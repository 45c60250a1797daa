"""Lot proof bundles (``ledger.bundle``): built from a real multi-tier ledger, verified offline
with only the operator's vkey, and refused, naming what, when anything in them is altered.

The story is the bakery scenario (two farms → mill → bakery → retailer and café, with pallets,
a partial rejection and a correction by errorDeclaration), then the bakery rotates its key and
ships more loaves with the new one, and a witness cosigns the checkpoint.

Two kinds of tampering: editing the bundle (any byte of a record, proof or checkpoint is
caught by hashes and signatures), and *forging* one, as a dishonest operator holding its own
signing key could: re-signing a checkpoint over a rewritten history so that every hash and
inclusion proof is consistent. Forged bundles must still fail on what the operator cannot
fake: the authors' signatures, the key records and the provenance the records imply.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import ledger.bundle as bundle_module
from ledger import merkle
from ledger.bundle import (
    BUNDLE_FORMAT,
    BundleIncompleteError,
    MalformedBundleError,
    ProvenanceMismatchError,
    VerifiedLot,
    build_bundle,
    bundle_document,
    verify_bundle,
)
from ledger.canonical import canonical_bytes
from ledger.errors import (
    ChainLinkError,
    CheckpointError,
    InclusionProofError,
    LedgerError,
    MalformedError,
    MalformedKeyError,
    RecordRuleError,
    SignatureError,
    VerificationError,
)
from ledger.keys import b64encode
from ledger.log import Ledger
from ledger.note import (
    Checkpoint,
    CosignatureSigner,
    Ed25519Signer,
    parse_note,
    sign_checkpoint,
)
from ledger.state import Kind
from ledger.statement import STATEMENT_DOMAIN, prove_possession
from ledger.storage.cosignatures import StoredCosignature, insert_cosignature
from ledger.trace.builders import Amount, sell, ship
from ledger.trace.errors import MalformedIdentifierError, UnknownLotError
from ledger.trace.service import provenance
from tests.factory import ORIGIN, key_for
from tests.ledger.trace.test_ledger_chain import TraceChain
from tests.ledger.trace.test_scenario_bakery import (
    FLOUR,
    LOAVES,
    SCENARIO_CAST,
    WHEAT_A,
    WHEAT_B,
    Scenario,
    bakery_scenario,
)

WITNESS = CosignatureSigner("witness.example.org", key_for("witness"))
OTHER_WITNESS = CosignatureSigner("witness-2.example.org", key_for("witness-2"))
COSIGNED_AT = 1_795_000_000


@dataclass
class Story:
    tc: TraceChain
    scenario: Scenario
    rotate_seq: int
    new_key_seq: int  # the bakery's first record signed with its rotated key

    @property
    def ledger(self) -> Ledger:
        return self.tc.ledger

    @property
    def vkey(self) -> str:
        return self.tc.ledger.verifier.vkey

    def seq(self, name: str) -> int:
        return self.scenario.seqs[name]


def cosign(ledger: Ledger, signer: CosignatureSigner, timestamp: int = COSIGNED_AT) -> int:
    """Store ``signer``'s cosignature on the latest checkpoint (what the API does after
    checking it); returns the checkpoint's size."""
    checkpoint = Checkpoint.from_body(parse_note(ledger.latest_checkpoint()).body)
    line = signer.cosign(checkpoint, timestamp)
    with ledger.store.write() as tx:
        insert_cosignature(
            tx,
            StoredCosignature(
                checkpoint.size, signer.name, line.key_id.hex(), timestamp, line.line().rstrip()
            ),
        )
    return checkpoint.size


def build_story(target: Path | str) -> Story:
    """The bakery scenario, a key rotation by the bakery, a shipment signed with the new key,
    and a witness's cosignature on the latest checkpoint."""
    tc = TraceChain.create(target, SCENARIO_CAST)
    scenario = bakery_scenario(tc)
    new = key_for("bakery-rotated")
    rotation = tc.chain.statement(
        "bakery",
        Kind.KEY_ROTATE,
        {
            "new_public_key": new.public_key.b64,
            "proof_of_possession": prove_possession(ORIGIN, "bakery", new),
        },
    )
    rotate_seq = tc.ledger.submit(rotation, now=tc.chain.tick()).receipt.seq
    tc.chain.keys["bakery"] = new
    g = tc.gln
    new_key_seq = tc.record(
        "bakery",
        ship(
            **tc.kw(),
            shipper_gln=g("bakery"),
            receiver_gln=g("retailer"),
            lots=[Amount(LOAVES, 100, "EA")],
        ),
    )
    cosign(tc.ledger, WITNESS)
    return Story(tc, scenario, rotate_seq, new_key_seq)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    built = build_story(tmp_path_factory.mktemp("bundle") / "ledger.db")
    yield built
    built.tc.close()


@pytest.fixture(scope="module")
def valid(story: Story) -> bytes:
    return build_bundle(story.ledger, LOAVES)


def _doc(data: bytes) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(data)
    return value


def _bytes(doc: dict[str, Any]) -> bytes:
    return canonical_bytes(doc)


def _index(doc: dict[str, Any], seq: int) -> int:
    for i, entry in enumerate(doc["records"]):
        if entry["record"]["seq"] == seq:
            return i
    raise AssertionError(f"seq {seq} is not in the bundle")


def _fails(
    data: bytes | dict[str, Any],
    error: type[LedgerError],
    *,
    vkey: str,
    seq: int | None = None,
    field: str | None = None,
    **options: Any,
) -> LedgerError:
    raw = data if isinstance(data, bytes) else _bytes(data)
    with pytest.raises(error) as caught:
        verify_bundle(raw, vkey, **options)
    found = caught.value
    if seq is not None:
        assert isinstance(found, VerificationError)
        assert found.seq == seq, found.message
    if field is not None:
        assert found.field == field, found.message
        assert field in found.message
    return found


# -- building and verifying --------------------------------------------------------------------


def test_a_bundle_verifies_and_rebuilds_the_provenance(story: Story, valid: bytes) -> None:
    verified = verify_bundle(valid, story.vkey)
    size = story.ledger.size
    assert verified.size == size
    expected = provenance(story.ledger, LOAVES, as_of_seq=size - 1)
    assert verified.provenance.to_json() == expected.to_json()
    assert [t.lot for t in verified.provenance.lots] == [LOAVES, FLOUR, WHEAT_A, WHEAT_B]
    shares = {t.lot: str(t.share) for t in verified.provenance.lots}
    assert shares == {LOAVES: "1", FLOUR: "50/51", WHEAT_A: "10/17", WHEAT_B: "20/51"}
    assert story.new_key_seq in verified.record_seqs
    assert story.seq("mill-wrong") in verified.record_seqs  # retracted, cited by a correction
    assert story.rotate_seq in verified.key_seqs
    assert verified.key_seqs[0] == 0
    assert set(verified.participants) >= {"operator", "farm-a", "farm-b", "mill", "bakery"}
    assert verified.witnesses == ()
    assert verified.to_json()["provenance"] == expected.to_json()


def test_the_bundle_is_canonical_json_of_the_documented_shape(story: Story, valid: bytes) -> None:
    doc = _doc(valid)
    assert canonical_bytes(doc) == valid
    assert set(doc) == {"format", "origin", "lot", "checkpoint", "records", "provenance"}
    assert doc["format"] == BUNDLE_FORMAT == "fairledger-lot-bundle/v1"
    assert doc["origin"] == ORIGIN
    seqs = [e["record"]["seq"] for e in doc["records"]]
    assert seqs == sorted(set(seqs))
    kinds = {e["record"]["statement"]["kind"] for e in doc["records"]}
    assert kinds == {"ledger.genesis", "participant.register", "key.rotate", "trace.event"}
    assert bundle_document(story.ledger, LOAVES) == doc


def test_witnesses_k_of_n(story: Story, valid: bytes) -> None:
    verified = verify_bundle(valid, story.vkey, witnesses=[WITNESS.vkey], min_witnesses=1)
    assert verified.witnesses == (WITNESS.name,)
    verified = verify_bundle(
        valid, story.vkey, witnesses=[WITNESS.vkey, OTHER_WITNESS.vkey], min_witnesses=1
    )
    assert verified.witnesses == (WITNESS.name,)
    _fails(
        valid,
        CheckpointError,
        vkey=story.vkey,
        field="checkpoint",
        witnesses=[WITNESS.vkey, OTHER_WITNESS.vkey],
        min_witnesses=2,
    )
    with pytest.raises(MalformedError):
        verify_bundle(valid, story.vkey, witnesses=[WITNESS.vkey], min_witnesses=2)
    with pytest.raises(MalformedKeyError):
        verify_bundle(valid, story.vkey, witnesses=[story.vkey], min_witnesses=1)


def test_a_bundle_from_a_reader_and_older_checkpoints(story: Story) -> None:
    early = story.seq("ship-cafe") + 1  # before the rotation: no key.rotate record needed
    with story.ledger.store.read() as reader:
        data = build_bundle(reader, LOAVES, checkpoint_size=early)
    verified = verify_bundle(data, story.vkey)
    assert verified.size == early
    assert story.rotate_seq not in verified.key_seqs
    assert verified.provenance.as_of_seq == early - 1
    with pytest.raises(MalformedError, match="no checkpoint of size"):
        build_bundle(story.ledger, LOAVES, checkpoint_size=story.ledger.size + 5)
    with pytest.raises(UnknownLotError):
        build_bundle(story.ledger, LOAVES, checkpoint_size=story.seq("harvest-a") + 1)


def test_unknown_and_malformed_lots_are_refused(story: Story) -> None:
    with pytest.raises(UnknownLotError):
        build_bundle(story.ledger, "https://id.gs1.org/01/09506000134352/10/NEVER")
    with pytest.raises(MalformedIdentifierError):
        build_bundle(story.ledger, "https://id.gs1.org/01/09506000134353/10/BAD-CHECK")


def test_the_checkpoint_is_the_newest_witnessed_one_that_covers_the_lot(tmp_path: Path) -> None:
    s = build_story(tmp_path / "choice.db")
    try:
        cosigned = s.ledger.size
        s.tc.register("grocer", "buyer")  # a record that does not touch the lot
        data = build_bundle(s.ledger, LOAVES)
        verified = verify_bundle(data, s.vkey, witnesses=[WITNESS.vkey], min_witnesses=1)
        assert verified.size == cosigned < s.ledger.size
        g = s.tc.gln
        s.tc.record(
            "retailer", sell(**s.tc.kw(), gln=g("retailer"), lots=[Amount(LOAVES, 5, "EA")])
        )
        data = build_bundle(s.ledger, LOAVES)
        verified = verify_bundle(data, s.vkey)
        assert verified.size == s.ledger.size  # the newest record is part of the lot's story
        _fails(data, CheckpointError, vkey=s.vkey, witnesses=[WITNESS.vkey], min_witnesses=1)
    finally:
        s.tc.close()


def test_each_backend(database_url: str) -> None:
    s = build_story(database_url)
    try:
        data = build_bundle(s.ledger, LOAVES)
        verified = verify_bundle(data, s.vkey, witnesses=[WITNESS.vkey], min_witnesses=1)
        assert verified.provenance.to_json() == provenance(s.ledger, LOAVES).to_json() | {
            "as_of_seq": s.ledger.size - 1
        }
        flour = verify_bundle(build_bundle(s.ledger, FLOUR), s.vkey)
        assert [t.lot for t in flour.provenance.lots] == [FLOUR, WHEAT_A, WHEAT_B]
        assert "bakery" in flour.participants  # the flour's buyer, a counterparty
    finally:
        s.tc.close()


# -- editing the bundle ------------------------------------------------------------------------


def _flip_hex(text: str) -> str:
    return ("1" if text[0] == "0" else "0") + text[1:]


def test_an_edited_record_fails_at_its_seq(story: Story, valid: bytes) -> None:
    doc = _doc(valid)
    seq = story.seq("harvest-a")
    i = _index(doc, seq)
    doc["records"][i]["record"]["statement"]["body"]["event"]["quantityList"][0]["quantity"] = (
        "5000"
    )
    _fails(doc, ChainLinkError, vkey=story.vkey, seq=seq, field=f"records[{i}].entry_hash")


def test_an_edited_record_with_a_matching_entry_hash_fails_its_inclusion_proof(
    story: Story, valid: bytes
) -> None:
    doc = _doc(valid)
    seq = story.seq("ship-b")
    i = _index(doc, seq)
    record = doc["records"][i]["record"]
    record["recorded_at"] = record["recorded_at"][:-2] + "7Z"  # a microsecond later
    doc["records"][i]["entry_hash"] = merkle.leaf_hash(canonical_bytes(record)).hex()
    _fails(
        doc, InclusionProofError, vkey=story.vkey, seq=seq, field=f"records[{i}].inclusion_proof"
    )


def test_an_edited_signature_fails(story: Story, valid: bytes) -> None:
    doc = _doc(valid)
    seq = story.seq("bake")
    i = _index(doc, seq)
    doc["records"][i]["record"]["signature"] = b64encode(bytes(64))
    _fails(doc, ChainLinkError, vkey=story.vkey, seq=seq, field=f"records[{i}].entry_hash")


@pytest.mark.parametrize("how", ["flip", "drop", "extra", "swap"])
def test_an_edited_inclusion_proof_fails(story: Story, valid: bytes, how: str) -> None:
    doc = _doc(valid)
    seq = story.seq("receive-1")
    i = _index(doc, seq)
    proof = doc["records"][i]["inclusion_proof"]
    if how == "flip":
        proof[0] = _flip_hex(proof[0])
    elif how == "drop":
        proof.pop()
    elif how == "extra":
        proof.append(proof[0])
    else:  # the proof of another record (another index)
        doc["records"][i]["inclusion_proof"] = doc["records"][i + 1]["inclusion_proof"]
        assert doc["records"][i]["inclusion_proof"] != proof
    _fails(
        doc, InclusionProofError, vkey=story.vkey, seq=seq, field=f"records[{i}].inclusion_proof"
    )


def test_an_edited_key_record_fails_at_its_seq(story: Story, valid: bytes) -> None:
    doc = _doc(valid)
    i = _index(doc, story.rotate_seq)
    doc["records"][i]["record"]["statement"]["body"]["new_public_key"] = key_for(
        "mallory"
    ).public_key.b64
    _fails(doc, ChainLinkError, vkey=story.vkey, seq=story.rotate_seq)


def test_a_changed_checkpoint_signature_fails(story: Story, valid: bytes) -> None:
    doc = _doc(valid)
    note = parse_note(doc["checkpoint"])
    operator_line = next(s for s in note.signatures if s.name == ORIGIN).line()
    forged = operator_line[:-10] + ("A" if operator_line[-10] != "A" else "B") + operator_line[-9:]
    doc["checkpoint"] = doc["checkpoint"].replace(operator_line, forged)
    found = _fails(doc, LedgerError, vkey=story.vkey, field="checkpoint")
    assert isinstance(found, SignatureError | MalformedError)


def test_a_changed_checkpoint_root_fails(story: Story, valid: bytes) -> None:
    doc = _doc(valid)
    body = parse_note(doc["checkpoint"]).body
    lines = body.split("\n")
    lines[2] = b64encode(bytes(32))
    doc["checkpoint"] = doc["checkpoint"].replace(body, "\n".join(lines))
    _fails(doc, SignatureError, vkey=story.vkey, field="checkpoint")


def test_a_checkpoint_signed_by_another_key_fails(story: Story, valid: bytes) -> None:
    doc = _doc(valid)
    cp = Checkpoint.from_body(parse_note(doc["checkpoint"]).body)
    doc["checkpoint"] = sign_checkpoint(cp, Ed25519Signer(ORIGIN, key_for("not-the-operator")))
    _fails(doc, CheckpointError, vkey=story.vkey, field="checkpoint")


def test_another_operator_vkey_fails(valid: bytes) -> None:
    other = Ed25519Signer(ORIGIN, key_for("not-the-operator")).vkey
    _fails(valid, CheckpointError, vkey=other, field="checkpoint")


def test_a_tampered_cosignature_fails_when_witnesses_are_required(
    story: Story, valid: bytes
) -> None:
    doc = _doc(valid)
    note = parse_note(doc["checkpoint"])
    line = next(s for s in note.signatures if s.name == WITNESS.name).line()
    forged = line[:-10] + ("A" if line[-10] != "A" else "B") + line[-9:]
    doc["checkpoint"] = doc["checkpoint"].replace(line, forged)
    _fails(doc, SignatureError, vkey=story.vkey, witnesses=[WITNESS.vkey], min_witnesses=1)


def test_a_dropped_record_is_named(story: Story, valid: bytes) -> None:
    doc = _doc(valid)
    seq = story.seq("ship-b")
    del doc["records"][_index(doc, seq)]
    found = _fails(doc, BundleIncompleteError, vkey=story.vkey, seq=seq)
    assert found.field is not None
    assert found.field.startswith("provenance.")


def test_a_dropped_key_rotation_is_named_at_the_first_record_signed_with_the_new_key(
    story: Story, valid: bytes
) -> None:
    doc = _doc(valid)
    del doc["records"][_index(doc, story.rotate_seq)]
    found = _fails(doc, RecordRuleError, vkey=story.vkey, seq=story.new_key_seq)
    assert "unknown-key" in found.message
    assert found.field is not None
    assert found.field.endswith("statement.key")


def test_a_dropped_registration_is_named(story: Story, valid: bytes) -> None:
    doc = _doc(valid)
    registration = next(
        e
        for e in doc["records"]
        if e["record"]["statement"]["kind"] == "participant.register"
        and e["record"]["statement"]["body"]["participant"] == "mill"
    )
    doc["records"].remove(registration)
    first_mill = min(
        e["record"]["seq"] for e in doc["records"] if e["record"]["statement"]["author"] == "mill"
    )
    found = _fails(doc, RecordRuleError, vkey=story.vkey, seq=first_mill)
    assert "mill" in found.message


def test_a_dropped_genesis_is_named(story: Story, valid: bytes) -> None:
    doc = _doc(valid)
    del doc["records"][0]
    _fails(doc, BundleIncompleteError, vkey=story.vkey, seq=0)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("lots", 1, "share"), "1/2", "provenance.lots[1].share"),
        (
            ("lots", 2, "movements", 0, "quantity"),
            "2000",
            "provenance.lots[2].movements[0].quantity",
        ),
        (("links", 0, "weight"), "1", "provenance.links[0].weight"),
        (("parties",), ["farm-a"], "provenance.parties"),
        (("lot",), WHEAT_A, "provenance.lot"),
        (("lots", 0, "depth"), False, "provenance.lots[0].depth"),  # false is not 0
    ],
)
def test_an_edited_provenance_claim_is_named(
    story: Story, valid: bytes, path: tuple[str | int, ...], value: object, field: str
) -> None:
    doc = _doc(valid)
    node: Any = doc["provenance"]
    for part in path[:-1]:
        node = node[part]
    assert canonical_bytes(node[path[-1]]) != canonical_bytes(value)
    node[path[-1]] = value
    found = _fails(doc, ProvenanceMismatchError, vkey=story.vkey)
    assert found.field is not None
    assert found.field.startswith(field)


def test_a_dropped_provenance_lot_is_named(story: Story, valid: bytes) -> None:
    doc = _doc(valid)
    del doc["provenance"]["lots"][3]
    found = _fails(doc, ProvenanceMismatchError, vkey=story.vkey, field="provenance.lots[3]")
    assert isinstance(found, VerificationError)
    assert found.observed == "missing"


def test_records_out_of_order_are_malformed(story: Story, valid: bytes) -> None:
    doc = _doc(valid)
    doc["records"][3], doc["records"][4] = doc["records"][4], doc["records"][3]
    _fails(doc, MalformedBundleError, vkey=story.vkey, field="records[4].record.seq")


# -- forging: a dishonest operator re-signs a consistent history --------------------------------


def forge(story: Story, data: bytes, seq: int, change: Callable[[dict[str, Any]], None]) -> bytes:
    """The bundle ``data`` over a history in which record ``seq`` was changed by ``change``
    (and every later ``prev`` relinked), with a checkpoint the operator re-signed and fresh
    entry hashes and inclusion proofs: every hash and proof in it is consistent."""
    doc = _doc(data)
    size = Checkpoint.from_body(parse_note(doc["checkpoint"]).body).size
    leaves = [stored.leaf for stored in story.ledger.iter_stored()][:size]
    record = json.loads(leaves[seq])
    change(record)
    leaves[seq] = canonical_bytes(record)
    for later in range(seq + 1, size):
        relinked = json.loads(leaves[later])
        relinked["prev"] = merkle.leaf_hash(leaves[later - 1]).hex()
        leaves[later] = canonical_bytes(relinked)
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]

    def nodes(wanted: Any) -> list[bytes]:
        return [merkle.root_of(hashes[i << level : (i + 1) << level]) for level, i in wanted]

    operator = Ed25519Signer(ORIGIN, key_for("operator"))
    doc["checkpoint"] = sign_checkpoint(Checkpoint(ORIGIN, size, merkle.root_of(hashes)), operator)
    for entry in doc["records"]:
        s = entry["record"]["seq"]
        entry["record"] = json.loads(leaves[s])
        entry["entry_hash"] = hashes[s].hex()
        entry["inclusion_proof"] = [h.hex() for h in merkle.inclusion_proof(s, size, nodes)]
    return _bytes(doc)


def _resign_as_operator(record: dict[str, Any]) -> None:
    signed = STATEMENT_DOMAIN + canonical_bytes(record["statement"])
    record["signature"] = b64encode(key_for("operator").sign(signed))


def test_a_forged_history_that_changes_nothing_still_verifies(story: Story, valid: bytes) -> None:
    """The forging helper itself: an identity change keeps the bundle valid."""
    verify_bundle(forge(story, valid, story.seq("ship-b"), lambda record: None), story.vkey)


def test_a_forged_statement_fails_its_authors_signature(story: Story, valid: bytes) -> None:
    seq = story.seq("harvest-a")

    def more_wheat(record: dict[str, Any]) -> None:
        record["statement"]["body"]["event"]["quantityList"][0]["quantity"] = "5000"

    data = forge(story, valid, seq, more_wheat)
    doc = _doc(data)
    i = _index(doc, seq)
    found = _fails(
        data, SignatureError, vkey=story.vkey, seq=seq, field=f"records[{i}].record.signature"
    )
    assert "farm-a" in found.message
    assert "farm-a" in doc["records"][i]["record"]["statement"]["author"]


def test_a_forged_signature_fails(story: Story, valid: bytes) -> None:
    seq = story.seq("ship-b")
    other = json.loads(story.ledger.stored_records(story.seq("harvest-b"), 1)[0].leaf)

    def swap(record: dict[str, Any]) -> None:
        record["signature"] = other["signature"]

    _fails(forge(story, valid, seq, swap), SignatureError, vkey=story.vkey, seq=seq)


def test_a_forged_key_registration_fails_its_proof_of_possession(
    story: Story, valid: bytes
) -> None:
    doc = _doc(valid)
    registration = next(
        e["record"]
        for e in doc["records"]
        if e["record"]["statement"]["kind"] == "participant.register"
        and e["record"]["statement"]["body"]["participant"] == "bakery"
    )
    mallory = key_for("mallory")

    def swap_key(record: dict[str, Any]) -> None:  # the operator re-signs its registration
        record["statement"]["body"]["public_key"] = mallory.public_key.b64
        _resign_as_operator(record)

    found = _fails(
        forge(story, valid, registration["seq"], swap_key),
        RecordRuleError,
        vkey=story.vkey,
        seq=registration["seq"],
    )
    assert "proof_of_possession" in (found.field or "")


def test_a_forged_key_registration_with_a_valid_possession_proof_fails_later_signatures(
    story: Story, valid: bytes
) -> None:
    """The operator registers its own key for the bakery (re-signing the registration as
    the operator could): the bakery's real statements then fail at the first one."""
    doc = _doc(valid)
    registration = next(
        e["record"]
        for e in doc["records"]
        if e["record"]["statement"]["kind"] == "participant.register"
        and e["record"]["statement"]["body"]["participant"] == "bakery"
    )
    mallory = key_for("mallory")

    def swap_key(record: dict[str, Any]) -> None:
        body = record["statement"]["body"]
        body["public_key"] = mallory.public_key.b64
        body["proof_of_possession"] = prove_possession(ORIGIN, "bakery", mallory)
        _resign_as_operator(record)

    data = forge(story, valid, registration["seq"], swap_key)
    first_bakery = min(
        e["record"]["seq"]
        for e in _doc(data)["records"]
        if e["record"]["statement"]["author"] == "bakery"
    )
    found = _fails(data, RecordRuleError, vkey=story.vkey, seq=first_bakery)
    assert "unknown-key" in found.message


def test_a_forged_history_cannot_change_the_claimed_provenance(story: Story, valid: bytes) -> None:
    """Re-signing everything does not help a claim the records do not support."""
    data = forge(story, valid, story.seq("ship-b"), lambda record: None)
    doc = _doc(data)
    doc["provenance"]["lots"][3]["share"] = "1/2"
    _fails(doc, ProvenanceMismatchError, vkey=story.vkey, field="provenance.lots[3].share")


# -- hostile input -----------------------------------------------------------------------------


def _set(doc: dict[str, Any], path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    node: Any = out
    for part in path[:-1]:
        node = node[part]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


_DELETE = object()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "JSON object"),
        (b'{"format": 1.5}', "not an integer"),
        (b'{"a": 1, "a": 2}', "duplicate"),
        (b'{"a": NaN}', "not an integer"),
        (b'{"a": 123456789012345678901234567890}', "outside"),
        (b"[" * 100_000 + b"]" * 100_000, "deeper"),
        (b'{"a":' * 60 + b"1" + b"}" * 60, "deeper"),
        ("\ud800", "surrogate"),
        (12, "bytes or text"),
    ],
)
def test_malformed_documents_are_refused(story: Story, data: Any, message: str) -> None:
    with pytest.raises(MalformedBundleError, match=message):
        verify_bundle(data, story.vkey)


def test_an_oversized_bundle_is_refused_before_parsing(
    story: Story, valid: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundle_module, "MAX_BUNDLE_BYTES", len(valid) - 1)
    with pytest.raises(MalformedBundleError, match="at most"):
        verify_bundle(valid, story.vkey)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("format",), "fairledger-lot-bundle/v2", "format"),
        (("format",), _DELETE, "format"),
        (("extra",), 1, "extra"),
        (("origin",), 7, "origin"),
        (("lot",), None, "lot"),
        (("lot",), "not a lot", "lot"),
        (("checkpoint",), ["x"], "checkpoint"),
        (("checkpoint",), "not a note", "checkpoint"),
        (("records",), [], "records"),
        (("records",), {"0": 1}, "records"),
        (("records", 0), "x", "records[0]"),
        (("records", 0, "entry_hash"), "AB" * 32, "records[0].entry_hash"),
        (("records", 0, "proof"), [], "records[0].proof"),
        (("records", 0, "inclusion_proof"), "00", "records[0].inclusion_proof"),
        (("records", 0, "inclusion_proof"), ["00" * 32] * 65, "records[0].inclusion_proof"),
        (("records", 0, "inclusion_proof"), [5], "records[0].inclusion_proof[0]"),
        (("records", 0, "record"), [], "records[0].record"),
        (("provenance",), "x", "provenance"),
    ],
)
def test_ill_typed_members_are_named(
    story: Story, valid: bytes, path: tuple[str | int, ...], value: object, field: str
) -> None:
    doc = _set(_doc(valid), path, value)
    with pytest.raises(MalformedBundleError) as caught:
        verify_bundle(_bytes(doc), story.vkey)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("records", 2, "record", "seq"), "2"),
        (("records", 2, "record", "statement"), None),
        (("records", 2, "record", "signature"), "not base64"),
        (("records", 2, "record", "unknown"), 1),
        (("records", 2, "record", "statement", "kind"), 7),
    ],
)
def test_malformed_records_are_named(
    story: Story, valid: bytes, path: tuple[str | int, ...], value: object
) -> None:
    doc = _set(_doc(valid), path, value)
    found = _fails(doc, RecordRuleError, vkey=story.vkey)
    assert found.field is not None
    assert found.field.startswith("records[2].record")


def test_bad_vkeys_are_refused(valid: bytes) -> None:
    with pytest.raises(MalformedKeyError):
        verify_bundle(valid, "not a vkey")
    with pytest.raises(MalformedKeyError):
        verify_bundle(valid, WITNESS.vkey)  # a cosignature key is not an operator key


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value: object, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


@pytest.fixture(scope="module")
def fuzz_base(
    story: Story, valid: bytes
) -> tuple[bytes, dict[str, Any], list[tuple[str | int, ...]]]:
    doc = _doc(valid)
    return valid, doc, [p for p in _paths(doc) if p]


def _verify_mutant(story: Story, data: bytes | str) -> None:
    """A mutant never verifies and never raises anything but ``LedgerError``."""
    with pytest.raises(LedgerError):
        verify_bundle(data, story.vkey, witnesses=[WITNESS.vkey], min_witnesses=1)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fuzz_structural_mutations_never_verify(
    story: Story,
    fuzz_base: tuple[bytes, dict[str, Any], list[tuple[str | int, ...]]],
    data: st.DataObject,
) -> None:
    _valid, doc, paths = fuzz_base
    path = data.draw(st.sampled_from(paths))
    action = data.draw(st.sampled_from(["replace", "delete", "string"]))
    node: Any = doc
    for part in path[:-1]:
        node = node[part]
    old = node[path[-1]]
    if action == "delete":
        mutant = _set(doc, path, _DELETE)
    elif action == "string" and isinstance(old, str) and old:
        at = data.draw(st.integers(0, len(old) - 1))
        char = data.draw(st.characters(codec="utf-8"))
        mutant = _set(doc, path, old[:at] + char + old[at + 1 :])
    else:
        mutant = _set(doc, path, data.draw(_JSON))
    assume(mutant != doc)
    _verify_mutant(story, _bytes(mutant))


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fuzz_byte_mutations_never_verify(
    story: Story,
    fuzz_base: tuple[bytes, dict[str, Any], list[tuple[str | int, ...]]],
    data: st.DataObject,
) -> None:
    valid, doc, _ = fuzz_base
    at = data.draw(st.integers(0, len(valid) - 1))
    action = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
    byte = bytes([data.draw(st.integers(0, 255))])
    if action == "flip":
        mutant = valid[:at] + byte + valid[at + 1 :]
    elif action == "delete":
        mutant = valid[:at] + valid[at + 1 :]
    elif action == "insert":
        mutant = valid[:at] + byte + valid[at:]
    else:
        mutant = valid[:at]
    try:
        same = json.loads(mutant) == doc
    except (ValueError, RecursionError):
        same = False
    assume(not same)
    _verify_mutant(story, mutant)


def test_verified_lot_json_is_canonicalisable(story: Story, valid: bytes) -> None:
    verified: VerifiedLot = verify_bundle(valid, story.vkey, witnesses=[WITNESS.vkey])
    out = json.loads(canonical_bytes(verified.to_json()))
    assert out["checkpoint"]["size"] == verified.size
    assert out["witnesses"] == [WITNESS.name]
    assert out["participants"]["bakery"]["roles"] == ["buyer", "supplier"]

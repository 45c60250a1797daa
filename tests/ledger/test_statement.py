"""Statements, submissions and records follow DESIGN §2 to the byte."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.canonical import canonical_bytes
from ledger.errors import MalformedStatementError
from ledger.keys import PrivateKey
from ledger.statement import (
    STATEMENT_DOMAIN,
    Record,
    Statement,
    Submission,
    record_leaf,
    sign_statement,
)
from tests.factory import ORIGIN, T0

KEY = PrivateKey.from_seed(bytes(range(32)))


def _doc(**overrides: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "ledger": ORIGIN,
        "kind": "trace.event",
        "author": "farm-a",
        "key": KEY.public_key.key_id,
        "nonce": "nonce-0001",
        "issued_at": "2026-11-22T10:00:00Z",
        "body": {"x": "1"},
    }
    doc.update(overrides)
    return doc


def test_signature_covers_domain_prefix_and_jcs() -> None:
    statement = Statement(_doc())  # type: ignore[arg-type]
    submission = sign_statement(statement, KEY)
    expected = b"fairledger/statement/v1\n" + canonical_bytes(_doc())
    assert statement.signing_bytes() == expected
    assert STATEMENT_DOMAIN == b"fairledger/statement/v1\n"
    assert KEY.public_key.verify(submission.signature, expected)
    wire = submission.to_json()
    assert wire["signature"] == base64.b64encode(submission.signature).decode()


def test_submission_round_trip_through_json() -> None:
    submission = sign_statement(Statement(_doc()), KEY)  # type: ignore[arg-type]
    parsed = Submission.parse(canonical_bytes(submission.to_json()))
    assert parsed == submission
    assert parsed.verify_signature(KEY.public_key)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"author": "Farm A"}, "statement.author"),
        ({"author": "a"}, "statement.author"),
        ({"key": "ABC"}, "statement.key"),
        ({"nonce": "short"}, "statement.nonce"),
        ({"nonce": "x" * 65}, "statement.nonce"),
        ({"issued_at": "2026-11-22 10:00:00"}, "statement.issued_at"),
        ({"issued_at": "2026-11-22T10:00:00+01:00"}, "statement.issued_at"),
        ({"issued_at": "2026-02-30T10:00:00Z"}, "statement.issued_at"),
        ({"kind": "Trace"}, "statement.kind"),
        ({"ledger": "has space"}, "statement.ledger"),
        ({"body": []}, "statement.body"),
        ({"extra": 1}, "statement.extra"),
    ],
)
def test_malformed_statements_name_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(MalformedStatementError) as info:
        Statement(_doc(**overrides))  # type: ignore[arg-type]
    assert info.value.field == field


def test_missing_statement_field() -> None:
    doc = _doc()
    del doc["nonce"]
    with pytest.raises(MalformedStatementError, match="missing nonce"):
        Statement(doc)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"statement": {}, "signature": "AA=="}', "missing"),
        (b'{"statement": 1, "signature": "x"}', "JSON object"),
        (b'{"signature": "x"}', "missing statement"),
        (b'{"statement": {}, "signature": "x", "more": 1}', "unknown"),
        (b"[]", "JSON object"),
        (b'{"statement": {"a": 1.5}, "signature": "x"}', "not an integer"),
    ],
)
def test_malformed_submissions(text: bytes, message: str) -> None:
    with pytest.raises(MalformedStatementError, match=message):
        Submission.parse(text)


def test_signature_must_be_canonical_base64_of_64_bytes() -> None:
    submission = sign_statement(Statement(_doc()), KEY)  # type: ignore[arg-type]
    wire = submission.to_json()
    for bad in ["", "AAAA", str(wire["signature"]).rstrip("=") + "A="]:
        wire["signature"] = bad
        with pytest.raises(MalformedStatementError, match="signature"):
            Submission.from_json(wire)


@given(
    seq=st.integers(min_value=0, max_value=2**53 - 1),
    prev=st.binary(min_size=32, max_size=32),
    micros=st.integers(min_value=0, max_value=10**12),
    body=st.dictionaries(st.text(max_size=5), st.text(max_size=8), max_size=4),
)
def test_spliced_leaf_equals_jcs_of_record(
    seq: int, prev: bytes, micros: int, body: dict[str, str]
) -> None:
    from datetime import timedelta

    from ledger.statement import format_timestamp

    statement = Statement(_doc(body=body))  # type: ignore[arg-type]
    submission = sign_statement(statement, KEY)
    recorded_at = format_timestamp(T0 + timedelta(microseconds=micros))
    record = Record.create(seq, prev.hex(), recorded_at, submission)
    assert record.leaf == canonical_bytes(record.to_json())
    assert record.leaf == record_leaf(
        seq,
        prev.hex(),
        recorded_at,
        statement.canonical,
        base64.b64encode(submission.signature).decode(),
    )
    assert Record.from_leaf(record.leaf) == record


def test_non_canonical_leaf_is_refused() -> None:
    submission = sign_statement(Statement(_doc()), KEY)  # type: ignore[arg-type]
    record = Record.create(3, "0" * 64, "2026-11-22T10:00:00.000000Z", submission)
    spaced = record.leaf.replace(b'"seq":3', b'"seq": 3')
    with pytest.raises(MalformedStatementError, match="canonical"):
        Record.from_leaf(spaced)

"""Hostile input for every parser: whatever the bytes, a parser returns a valid object or
raises a ``LedgerError`` subclass (which the API maps to a 4xx problem and the CLI to a
message) — never another exception, never a crash.

Inputs mix random bytes, random JSON and mutations of valid documents, plus the edge cases
named in the threat model: deep nesting, huge and overflowing integers, duplicate keys, lone
surrogates, NFC/NFD look-alikes, control characters and impossible timestamps.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.terms import parse_terms
from ledger.canonical import canonical_bytes, parse_json
from ledger.errors import LedgerError
from ledger.keys import PrivateKey
from ledger.note import Checkpoint, Ed25519Signer, open_checkpoint, parse_note, vkey_from_text
from ledger.receipt import Receipt
from ledger.statement import Record, Statement, Submission, sign_statement
from ledger.trace.documents import load_epcis_json, parse_epcis_document
from ledger.trace.epcis import parse_ledger_event
from tests.factory import ORIGIN, T0

KEY = PrivateKey.from_seed(bytes(range(32)))
SIGNER = Ed25519Signer(ORIGIN, KEY)
VALID_SUBMISSION = canonical_bytes(
    sign_statement(
        Statement.build(
            ledger=ORIGIN,
            kind="trace.event",
            author="farm-a",
            key=KEY.public_key.key_id,
            nonce="nonce-0001",
            issued_at=T0,
            body={"event": {"type": "ObjectEvent"}},
        ),
        KEY,
    ).to_json()
)
VALID_NOTE = SIGNER.sign(Checkpoint(ORIGIN, 7, bytes(32)).body()).line()
VALID_CHECKPOINT = Checkpoint(ORIGIN, 7, bytes(32)).body() + "\n" + VALID_NOTE

EDGE_TEXT = [
    "\u00e9",  # NFC é
    "e\u0301",  # NFD é
    "\ufeff",  # BOM
    "\u202e",  # right-to-left override
    "\x00",
    "\x7f",
    "ｆａｒｍ",  # fullwidth look-alikes
    "2026-02-30T10:00:00Z",
    "9999-12-31T23:59:60Z",
    "0000-01-01T00:00:00Z",
    "1" * 400,
]
EDGE_JSON = [
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b"1" + b"0" * 5000,
    b"-" + b"9" * 40,
    b'{"a":1,"a":1}',
    b'"\\ud800"',
    b'"\\udc00\\ud800"',
    b"1e400",
    b"NaN",
    b"\xef\xbb\xbf{}",
    b'{"statement": {}, "signature": "' + b"A" * 100_000 + b'"}',
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.sampled_from(EDGE_TEXT),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def mutate(data: bytes, positions: list[int], byte: int) -> bytes:
    out = bytearray(data)
    for p in positions:
        if out:
            out[p % len(out)] = byte
    return bytes(out)


mutated_submissions = st.builds(
    mutate,
    st.just(VALID_SUBMISSION),
    st.lists(st.integers(min_value=0), max_size=3),
    st.integers(0, 255),
)
any_bytes = st.one_of(st.binary(max_size=300), st.sampled_from(EDGE_JSON), mutated_submissions)


def _refuses_cleanly(parse: Callable[[], object]) -> None:
    with contextlib.suppress(LedgerError):
        parse()


FUZZ = settings(
    max_examples=int(os.environ.get("FAIRLEDGER_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@FUZZ
@given(any_bytes)
def test_submission_parser(data: bytes) -> None:
    _refuses_cleanly(lambda: Submission.parse(data))


@FUZZ
@given(any_bytes)
def test_strict_json_reader(data: bytes) -> None:
    _refuses_cleanly(lambda: parse_json(data))


@FUZZ
@given(any_bytes)
def test_record_leaf_parser(data: bytes) -> None:
    _refuses_cleanly(lambda: Record.from_leaf(data))


@FUZZ
@given(
    st.one_of(
        st.text(max_size=300),
        st.builds(
            lambda t, i, c: t[:i] + c + t[i + 1 :],
            st.just(VALID_CHECKPOINT),
            st.integers(0, len(VALID_CHECKPOINT)),
            st.sampled_from(["", "\n", " ", "+", "\x00", "—", "A"]),
        ),
    )
)
def test_signed_note_and_checkpoint_parsers(text: str) -> None:
    _refuses_cleanly(lambda: parse_note(text))
    _refuses_cleanly(lambda: open_checkpoint(text, SIGNER.verifier()))
    _refuses_cleanly(lambda: vkey_from_text(text))


@FUZZ
@given(json_values)
def test_receipt_and_terms_parsers(value: object) -> None:
    _refuses_cleanly(lambda: Receipt.from_json(value))  # type: ignore[arg-type]
    _refuses_cleanly(lambda: parse_terms(value))


@FUZZ
@given(
    st.one_of(
        json_values,
        st.builds(
            lambda v: {
                "type": "EPCISDocument",
                "schemaVersion": "2.0",
                "creationDate": "2026-11-22T10:00:00Z",
                "epcisBody": {"eventList": [v]},
            },
            json_values,
        ),
    )
)
def test_epcis_parsers(value: object) -> None:
    _refuses_cleanly(lambda: parse_epcis_document(value))  # type: ignore[arg-type]
    _refuses_cleanly(lambda: parse_ledger_event(value))  # type: ignore[arg-type]


@FUZZ
@given(any_bytes)
def test_epcis_json_loader(data: bytes) -> None:
    _refuses_cleanly(lambda: load_epcis_json(data))


@pytest.mark.parametrize("text", EDGE_TEXT)
def test_edge_text_in_identifiers_is_refused_not_normalised(text: str) -> None:
    doc = json.loads(VALID_SUBMISSION)
    doc["statement"]["author"] = "farm" + text
    with pytest.raises(LedgerError):
        Submission.from_json(doc)

"""The fast canonical encoder is byte-identical to the rfc8785 reference (DESIGN §2), and the
strict reader refuses everything that could not be signed."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from ledger.canonical import MAX_DEPTH, MAX_SAFE_INTEGER, canonical_bytes, parse_json
from ledger.errors import CanonicalizationError

# Any string Python can encode to UTF-8 (no lone surrogates), keys included: non-BMP and
# U+E000..U+FFFF keys exercise the UTF-16 sort order of RFC 8785 §3.2.3.
texts = st.text(st.characters(codec="utf-8"), max_size=12)
keys = st.one_of(texts, st.sampled_from(["a", "b", "\ue000", "\U0001f600", "\uffff", "é", ""]))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER),
    texts,
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=30,
)


@given(documents)
def test_fast_encoder_matches_rfc8785(document: object) -> None:
    assert canonical_bytes(document) == rfc8785.dumps(document)  # type: ignore[arg-type]


@given(documents)
def test_parse_then_encode_round_trips(document: object) -> None:
    encoded = canonical_bytes(document)
    assert canonical_bytes(parse_json(encoded)) == encoded


def test_known_answer_rfc8785_key_order() -> None:
    # RFC 8785 §3.2.3 sorts by UTF-16 code units: U+1F600 (D83D DE00) sorts before U+E000.
    assert canonical_bytes({"\ue000": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\ue000":1}'.encode()


def test_control_characters_escaped_as_ecmascript() -> None:
    assert canonical_bytes("\u0001\n\u001f\u007f") == b'"\\u0001\\n\\u001f\x7f"'


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (1.5, "floating-point"),
        ({"a": [1.0]}, "floating-point"),
        (2**53, "outside"),
        (-(2**53), "outside"),
        ({1: "x"}, "not a string"),
        ("\ud800", "lone surrogate"),
        ({"\udfff": 1}, "lone surrogate"),
        ((1, 2), "not a JSON value"),
    ],
)
def test_unsignable_documents_refused(document: object, message: str) -> None:
    with pytest.raises(CanonicalizationError, match=message):
        canonical_bytes(document)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"a":1,"a":2}', "duplicate object key 'a'"),
        (b'{"q": 12.5}', "not an integer"),
        (b'{"q": 1e3}', "not an integer"),
        (b"[NaN]", "not valid JSON"),
        (b"9007199254740992", "outside"),
        (b"123456789012345678901234567890", "outside"),
        (b'"\\ud800"', "lone surrogate"),
        (b"\xff\xfe", "invalid UTF-8"),
        (b'{"a":', "invalid JSON"),
        (b"[" * (MAX_DEPTH + 2) + b"]" * (MAX_DEPTH + 2), "deeper"),
        (b"[" * 100_000, "deeper|invalid JSON"),
    ],
)
def test_strict_reader_refuses(text: bytes, message: str) -> None:
    with pytest.raises(CanonicalizationError, match=message):
        parse_json(text)

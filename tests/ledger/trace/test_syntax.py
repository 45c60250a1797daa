"""The private syntax checks agree with the validators the JSON schema's format checker uses,
and canonical decimals are one string per value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import rfc3339_validator  # type: ignore[import-untyped]
import rfc3986_validator  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st

from ledger.trace._syntax import (
    MAX_DECIMAL_CHARS,
    canonical_decimal,
    format_utc,
    has_authority,
    is_absolute_uri,
    json_path,
    parse_canonical_decimal,
    parse_date_time,
)

URI_ALPHABET = "abcxyzABC019:/?#[]@!$&'()*+,;=-._~% \"<>\\^`{|}é"


@given(st.text(alphabet=URI_ALPHABET, max_size=24))
def test_uri_check_agrees_with_the_schema_format_checker(text: str) -> None:
    expected = bool(rfc3986_validator.validate_rfc3986(text, rule="URI"))
    assert is_absolute_uri(text) == expected


@pytest.mark.parametrize(
    ("text", "absolute", "authority"),
    [
        ("https://id.gs1.org/01/1", True, True),
        ("urn:epc:id:sgtin:1.2.3", True, False),
        ("ni:///sha-256;abc", True, True),
        ("example:myField", True, False),
        ("shipping", False, False),
        ("https://x.org/a b", False, False),
        ("https://x.org/\n", False, False),
        ("https://x.org/é", False, False),
    ],
)
def test_uri_examples(text: str, absolute: bool, authority: bool) -> None:
    assert is_absolute_uri(text) == absolute
    assert has_authority(text) == authority


DATE_ALPHABET = "0123456789-:.TtZz+ "


@given(st.text(alphabet=DATE_ALPHABET, min_size=18, max_size=30))
def test_date_time_check_agrees_with_the_schema_format_checker(text: str) -> None:
    # jsonschema's date-time format upper-cases the text before rfc3339-validator sees it.
    expected = bool(rfc3339_validator.validate_rfc3339(text.upper()))
    try:
        parse_date_time(text)
        ours = True
    except ValueError:
        ours = False
    assert ours == expected


@given(st.datetimes(timezones=st.just(UTC)), st.integers(-14 * 60, 14 * 60))
def test_date_times_parse_to_the_same_instant(moment: datetime, minutes: int) -> None:
    local = moment.astimezone(timezone(timedelta(minutes=minutes)))
    text = local.isoformat()
    assert parse_date_time(text) == moment
    assert parse_date_time(format_utc(moment)) == moment


def test_format_utc_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_utc(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("200", "200"),
        ("200.50", "200.5"),
        ("2E+2", "200"),
        ("0.000001", "0.000001"),
        ("1E-7", "0.0000001"),
        ("-0", "0"),
        ("-0.0", "0"),
        ("-12.340", "-12.34"),
        ("007.10", "7.1"),
        ("12345678901234567890.123456789012345", "12345678901234567890.123456789012345"),
    ],
)
def test_canonical_decimal_examples(value: str, text: str) -> None:
    assert canonical_decimal(Decimal(value)) == text
    assert parse_canonical_decimal(text) == Decimal(value)


@pytest.mark.parametrize("text", ["200.50", "+1", "1e2", "01", ".5", "5.", "-0", " 1", "１", "NaN"])
def test_non_canonical_decimal_strings_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"canonical|decimal"):
        parse_canonical_decimal(text)


def test_absurd_decimals_are_refused() -> None:
    with pytest.raises(ValueError, match="characters"):
        canonical_decimal(Decimal("1E+60"))
    with pytest.raises(ValueError, match="finite"):
        canonical_decimal(Decimal("Infinity"))
    assert len(canonical_decimal(Decimal("9" * MAX_DECIMAL_CHARS))) == MAX_DECIMAL_CHARS


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, min_value=-(10**15), max_value=10**15, places=20
    )
)
def test_canonical_decimal_is_exact_and_idempotent(value: Decimal) -> None:
    text = canonical_decimal(value)
    assert Decimal(text) == value
    assert "E" not in text
    assert "e" not in text
    assert canonical_decimal(parse_canonical_decimal(text)) == text


def test_json_path() -> None:
    assert json_path(("epcisBody", "eventList", 2, "quantityList", 0, "quantity")) == (
        "epcisBody.eventList[2].quantityList[0].quantity"
    )
    assert json_path(("@context", 0)) == '["@context"][0]'
    assert json_path(("eventList", 0, "example:x")) == 'eventList[0]["example:x"]'
    assert json_path(()) == ""

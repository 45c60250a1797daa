"""The fairness report's direct reading of statement amounts agrees with ``Money.parse`` and
its integer floor test with exact ``Fraction`` arithmetic."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.audit import _below_floor, _minor
from contracts.errors import ContractError
from contracts.money import Currency, Money

amount_texts = st.one_of(
    st.integers(-(10**12), 10**12).map(lambda n: f"{Decimal(n).scaleb(-2):f}"),
    st.from_regex(r"-?[0-9]{1,6}(\.[0-9]{0,4})?", fullmatch=True),
    st.text(max_size=8),
)


@settings(max_examples=400, deadline=None)
@given(text=amount_texts, code=st.sampled_from(["EUR", "JPY", "BHD"]))
def test_minor_units_are_read_as_money_parse_reads_them(text: str, code: str) -> None:
    currency = Currency(code)
    try:
        expected: int | str = Money.parse(text, currency).minor
    except ContractError as exc:
        expected = type(exc).__name__
    try:
        observed: int | str = _minor(text, currency)
    except ContractError as exc:
        observed = type(exc).__name__
    assert observed == expected


@settings(max_examples=400, deadline=None)
@given(
    net=st.integers(-(10**9), 10**9),
    accepted=st.decimals(min_value="0.001", max_value=100_000, places=3),
    floor=st.decimals(min_value=0, max_value=100, places=4),
)
def test_the_floor_test_is_exact(net: int, accepted: Decimal, floor: Decimal) -> None:
    exact = Fraction(net, 100) / Fraction(accepted) < Fraction(floor)
    assert _below_floor(net, 2, accepted, floor) is exact

"""Largest-remainder allocation: worked examples, refusals, and the conservation properties."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.errors import AllocationError
from contracts.money import Currency, Money, allocate

EUR = Currency("EUR")


def minors(parts: list[Money]) -> list[int]:
    return [part.minor for part in parts]


def test_three_equal_parts_tie_broken_by_key() -> None:
    """1.00 EUR in three equal parts.

    Exact shares 100/3 = 33.33.. each; floors 33 + 33 + 33 = 99, one cent left. All three
    remainders are 1/3, a tie, so the cent goes to the smallest key, "a": [34, 33, 33].
    Listing the keys in another order gives the cent to "a" all the same.
    """
    total = Money(100, EUR)
    assert minors(allocate(total, [1, 1, 1], ["a", "b", "c"])) == [34, 33, 33]
    assert minors(allocate(total, [1, 1, 1], ["c", "b", "a"])) == [33, 33, 34]


def test_largest_remainder_gets_the_leftover() -> None:
    """1.01 EUR by weights 0.5 / 0.3 / 0.2.

    Exact shares 50.5, 30.3, 20.2; floors 50 + 30 + 20 = 100, one cent left; the largest
    remainder is 0.5 (key "x"), so: [51, 30, 20]. Negated total: [-51, -30, -20].
    """
    weights = [Decimal("0.5"), Decimal("0.3"), Decimal("0.2")]
    keys = ["x", "y", "z"]
    assert minors(allocate(Money(101, EUR), weights, keys)) == [51, 30, 20]
    assert minors(allocate(Money(-101, EUR), weights, keys)) == [-51, -30, -20]


def test_exact_split_needs_no_leftover() -> None:
    """10.00 EUR by 2 : 3 : 5 is exactly 2.00, 3.00, 5.00."""
    assert minors(allocate(Money(1000, EUR), [2, 3, 5], ["p", "q", "r"])) == [200, 300, 500]


def test_zero_weight_gets_zero() -> None:
    """0.07 EUR by 0 : 1 : 1: exact 0, 3.5, 3.5; floors 0 + 3 + 3 = 6; the tie between "b"
    and "c" goes to "b": [0, 4, 3]."""
    assert minors(allocate(Money(7, EUR), [0, 1, 1], ["a", "b", "c"])) == [0, 4, 3]


@pytest.mark.parametrize(
    ("weights", "keys", "message"),
    [
        pytest.param([0, 0], ["a", "b"], "every weight is zero", id="all-zero"),
        pytest.param([1, -1], ["a", "b"], "negative", id="negative-weight"),
        pytest.param([1, 0.5], ["a", "b"], "not an exact number", id="float-weight"),
        pytest.param([1, True], ["a", "b"], "not an exact number", id="bool-weight"),
        pytest.param([1, 1], ["a", "a"], "distinct", id="duplicate-keys"),
        pytest.param([1, 1], ["a"], "2 weights but 1 keys", id="length-mismatch"),
        pytest.param([], [], "no weights", id="empty"),
    ],
)
def test_refused_allocations(weights: list[object], keys: list[str], message: str) -> None:
    with pytest.raises(AllocationError, match=message):
        allocate(Money(100, EUR), weights, keys)  # type: ignore[arg-type]


weights_strategy = st.lists(
    st.one_of(
        st.integers(min_value=0, max_value=10**6),
        st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False),
    ),
    min_size=1,
    max_size=20,
).filter(lambda ws: any(w != 0 for w in ws))


@given(total=st.integers(min_value=-(10**12), max_value=10**12), weights=weights_strategy)
def test_allocation_conserves_every_minor_unit(total: int, weights: list[Decimal | int]) -> None:
    keys = [f"k{i:02d}" for i in range(len(weights))]
    parts = allocate(Money(total, EUR), weights, keys)
    assert sum(part.minor for part in parts) == total
    weight_sum = sum(Fraction(w) for w in weights)
    for part, weight in zip(parts, weights, strict=True):
        share = Fraction(total) * Fraction(weight) / weight_sum
        assert abs(part.minor - share) < 1, (part, share)
        if weight == 0:
            assert part.minor == 0


@given(
    total=st.integers(min_value=-(10**9), max_value=10**9),
    weights=weights_strategy,
    data=st.data(),
)
def test_allocation_does_not_depend_on_input_order(
    total: int, weights: list[Decimal | int], data: st.DataObject
) -> None:
    keys = [f"lot-{i}" for i in range(len(weights))]
    order = data.draw(st.permutations(range(len(weights))))
    straight = dict(zip(keys, allocate(Money(total, EUR), weights, keys), strict=True))
    shuffled_keys = [keys[i] for i in order]
    shuffled = allocate(Money(total, EUR), [weights[i] for i in order], shuffled_keys)
    assert dict(zip(shuffled_keys, shuffled, strict=True)) == straight


@given(total=st.integers(min_value=0, max_value=10**9), weights=weights_strategy)
def test_negative_totals_are_symmetric(total: int, weights: list[Decimal | int]) -> None:
    keys = [str(i) for i in range(len(weights))]
    positive = allocate(Money(total, EUR), weights, keys)
    negative = allocate(Money(-total, EUR), weights, keys)
    assert negative == [-part for part in positive]

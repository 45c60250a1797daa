"""The statement's canonical bytes, written directly from its lines, are RFC 8785 (DESIGN §2).

``SettlementStatement.canonical`` does not build ``to_json()`` and encode it; it writes the
text itself. These properties prove it byte-identical to ``ledger.canonical.canonical_bytes``
of ``to_json()`` and to the reference ``rfc8785`` package, for statements with every kind of
line and for strings holding anything a record may carry (quotes, backslashes, control
characters, non-ASCII, characters beyond the BMP).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.provenance import UpstreamContribution
from contracts.settlement import (
    DeliveryLine,
    SettlementStatement,
    ShareLine,
    SharePartLine,
    _s,
    settle,
)
from ledger.canonical import canonical_bytes
from ledger.errors import CanonicalizationError
from tests.contracts.test_settlement_properties import (
    DeliverySpec,
    build_month,
    deliveries,
    sales_strategy,
)
from tests.contracts.test_settlement_worked import CONTRACT

texts = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]) | st.sampled_from('"\\\x00\x1f\x7f'),
    max_size=30,
)


@settings(max_examples=500, deadline=None)
@given(text=texts)
def test_strings_are_written_as_rfc8785_writes_them(text: str) -> None:
    assert _s(text).encode("utf-8") == rfc8785.dumps(text) == canonical_bytes(text)


def test_a_lone_surrogate_is_refused_as_the_encoder_refuses_it() -> None:
    with pytest.raises(CanonicalizationError):
        _s("lot-\ud800")


def _statement(
    specs: list[DeliverySpec], sales: list[tuple[list[int], int]]
) -> SettlementStatement:
    log, graph, prices = build_month(specs, sales)
    return settle(CONTRACT, "2026-07", log.last, log.entries, graph, market_prices=prices)


def _assert_canonical(statement: SettlementStatement) -> None:
    body = statement.to_json()
    assert statement.canonical == canonical_bytes(body)
    assert statement.canonical == rfc8785.dumps(body)


@settings(max_examples=40, deadline=None)
@given(specs=st.lists(deliveries, min_size=1, max_size=10), sales=sales_strategy)
def test_statement_bytes_equal_the_reference_encoding(
    specs: list[DeliverySpec], sales: list[tuple[list[int], int]]
) -> None:
    _assert_canonical(_statement(specs, sales))


@settings(max_examples=60, deadline=None)
@given(
    lot=texts,
    supplier=texts,
    reason=st.none() | texts,
    seqs=st.lists(st.integers(0, 2**53 - 1), max_size=4),
)
def test_any_strings_in_lines_are_encoded_canonically(
    lot: str, supplier: str, reason: str | None, seqs: list[int]
) -> None:
    """Lines rewritten with arbitrary text in every string a record can carry."""
    base = _statement(
        [DeliverySpec("finca-aurora", "07612345000022", Decimal(100), 90, 3, 2, None, False)],
        [([0], 1000)],
    )
    (line,) = base.deliveries
    (share,) = base.revenue_shares
    odd_delivery = line.delivery._replace(
        delivery_id=f"{seqs}:{lot}",
        lot=lot,
        supplier=supplier,
        rejection_reason=reason,
        seqs=(seqs[0], seqs[1]) if len(seqs) >= 2 else (0, 1),
    )
    odd_part = SharePartLine(
        UpstreamContribution(lot or "x", supplier or "y", Decimal("0.5"), tuple(seqs)),
        share.parts[0].amount,
        share.parts[0].exact,
    )
    statement = replace(
        base,
        deliveries=(DeliveryLine(odd_delivery, 1, line.unit, line.currency, line.priced),),
        revenue_shares=(
            ShareLine(share.sale_seq, supplier, lot, share.revenue, 1, share.pool, (odd_part,)),
        ),
        issued_on=date(2026, 7, 31) + timedelta(days=len(lot)),
    )
    _assert_canonical(statement)


def test_an_integer_beyond_the_safe_range_is_refused() -> None:
    """As ``canonical_bytes`` refuses it (DESIGN §2: integers stay within ±2^53)."""
    statement = _statement(
        [DeliverySpec("finca-aurora", "07612345000022", Decimal(100), 100, 3, 0, None, False)],
        [],
    )
    huge = replace(statement, as_of_seq=2**53)
    with pytest.raises(CanonicalizationError):
        canonical_bytes(huge.to_json())
    with pytest.raises(CanonicalizationError):
        huge.canonical_text()


def test_an_empty_month_is_encoded_canonically() -> None:
    statement = _statement(
        [DeliverySpec("finca-aurora", "07612345000022", Decimal(100), 100, 3, 0, None, False)],
        [],
    )
    _assert_canonical(replace(statement, deliveries=(), revenue_shares=(), obligations=()))


@pytest.mark.parametrize("seq", [2**53, -(2**53), True])
def test_a_line_with_an_odd_seq_is_written_as_the_encoder_writes_it(seq: int) -> None:
    """The one-``format`` line writers hand anything outside the plain case (a seq beyond
    ±(2^53-1), or a bool) to the field-by-field writer, which refuses the integer as
    ``canonical_bytes`` does and writes the bool as it does (``true``)."""
    base = _statement(
        [DeliverySpec("finca-aurora", "07612345000022", Decimal(100), 90, 3, 2, None, False)],
        [([0], 1000)],
    )
    (line,) = base.deliveries
    (share,) = base.revenue_shares
    odd_line = DeliveryLine(
        line.delivery._replace(seqs=(seq, 1)), 1, line.unit, line.currency, line.priced
    )
    part = share.parts[0]
    c = part.contribution
    odd_part = SharePartLine(
        UpstreamContribution(c.lot, c.supplier, c.fraction, (1,)), part.amount, part.exact
    )
    object.__setattr__(odd_part.contribution, "seqs", (seq,))  # past the fact's own check
    for statement in (
        replace(base, deliveries=(odd_line,)),
        replace(base, revenue_shares=(replace(share, parts=(odd_part,)),)),
        replace(base, revenue_shares=(replace(share, sale_seq=seq),)),
    ):
        if type(seq) is bool:
            _assert_canonical(statement)
            continue
        with pytest.raises(CanonicalizationError):
            canonical_bytes(statement.to_json())
        with pytest.raises(CanonicalizationError):
            statement.canonical_text()

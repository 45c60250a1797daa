"""The fairness report from the contract projection's summaries equals the reference.

``contracts.reports.ledger_fairness_report`` reads the ``fairness`` summaries the projection
keeps (one per statement in force, sales totals per seller and period) and never decodes a
statement; ``reference_fairness_report`` decodes the statements and reads every sale document
(the code path the summaries replace), and ``contracts.audit.fairness_report`` replays the
records. All three must agree, on a ledger with several contracts, periods, sales, floor
findings and late payments, after an amendment that changes the version in force for a
settled period, on a ledger whose projection predates the summaries, and after a rebuild.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from contracts import reports
from contracts.audit import FairnessReport, StatementSummary, fairness_report, payments_audit
from contracts.engine import ledger_entries, record_settlement, settle_ledger
from contracts.fairness_bench import build_fairness_ledger, open_fairness_ledger
from contracts.projection import FAIRNESS, FAIRNESS_LAYOUT, SETTLEMENTS
from contracts.provenance import ProvenanceGraph
from contracts.reports import ledger_fairness_report, load_contracts, reference_fairness_report
from contracts.scenario import Reading, lot_id, receiving_event, sale_body, shipping_event
from contracts.terms import parse_terms
from ledger.canonical import JSONObject, JSONValue
from ledger.log import Ledger
from ledger.state import Kind
from tests.contracts.samples import GTIN_BERRIES, set_path, terms_document
from tests.contracts.test_lifecycle import AURORA, BUYER, CONTRACT, bind, chain, submit
from tests.contracts.test_projection import rich_history
from tests.factory import Chain

if TYPE_CHECKING:
    from ledger.storage.store import Reader

__all__ = ["chain"]

PERIODS = ("2026-01", "2026-02", "2026-03")
#: A day when the small bench ledger's March obligations (never paid: the bench pays each
#: month's obligations in the next month) are long past due.
AUDIT_DAY = date(2026, 12, 31)


def fairness_documents(ledger: Ledger) -> list[tuple[str, int, JSONValue]]:
    with ledger.store.read() as tx:
        return tx.documents(FAIRNESS, limit=100_000)


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The seqs of the statements the reports decode (``contracts.reports._statement_body``)."""
    seen: list[int] = []
    read = reports._statement_body

    def counting(tx: Reader, seq: int) -> JSONObject | None:
        seen.append(seq)
        return read(tx, seq)

    monkeypatch.setattr(reports, "_statement_body", counting)
    return seen


def assert_same_everywhere(ledger: Ledger, periods: tuple[str, ...]) -> FairnessReport:
    """The summary-based report equals the reference and the record replay, in full and
    for each period; the full report."""
    entries = ledger_entries(ledger)
    for period in (None, *periods):
        summarised = ledger_fairness_report(ledger, period=period).to_json()
        assert summarised == reference_fairness_report(ledger, period=period).to_json()
        assert summarised == fairness_report(entries, period=period).to_json()
    return ledger_fairness_report(ledger)


@pytest.fixture(scope="module")
def small_bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small ``fairness_bench`` ledger: 4 contracts of 2 buyers over 8 farms, 3 months of
    deliveries, sales, statements and payments (some late, some never made)."""
    path = tmp_path_factory.mktemp("fairness") / "ledger.db"
    build_fairness_ledger(
        f"sqlite:///{path}", records=2500, buyers=2, contracts=4, suppliers=8, months=3
    )
    return path


@pytest.fixture
def bench_copy(small_bench: Path, tmp_path: Path) -> str:
    copy = tmp_path / "ledger.db"
    copy.write_bytes(small_bench.read_bytes())
    return f"sqlite:///{copy}"


def test_summaries_equal_the_reference_on_a_bench_ledger(
    bench_copy: str, decoded: list[int]
) -> None:
    ledger = open_fairness_ledger(bench_copy)
    try:
        ledger_fairness_report(ledger)
        assert decoded == []  # every statement read from its summary
        report = assert_same_everywhere(ledger, PERIODS)
        # The scenario is not trivial: every contract settled every month, with sales,
        # several participants per period, realised floor findings, and late payments.
        assert Counter(share.period for share in report.producer_shares) == dict.fromkeys(
            PERIODS, 4
        )
        assert all(share.end_revenue.minor > 0 for share in report.producer_shares)
        assert all(len(dist.values) > 4 for dist in report.distributions)
        entries = ledger_entries(ledger)
        late = [a for a in payments_audit(entries, AUDIT_DAY).obligations if a.days_late > 0]
        assert late
        with ledger.store.read() as tx:
            settled = tx.documents(SETTLEMENTS, limit=1000)
            summaries = tx.documents(FAIRNESS, "statement/", limit=1000)
        assert len(summaries) == len(settled) == 12
    finally:
        ledger.close()


def test_rebuild_reproduces_the_summaries(bench_copy: str) -> None:
    ledger = open_fairness_ledger(bench_copy)
    try:
        before = fairness_documents(ledger)
        assert any(key.startswith("sales/") for key, _seq, _body in before)
        ledger.rebuild_projections()
        assert fairness_documents(ledger) == before
        assert_same_everywhere(ledger, PERIODS)
    finally:
        ledger.close()


def test_a_ledger_without_summaries_is_reported_from_statements_until_rebuilt(
    bench_copy: str,
) -> None:
    """A projection written before the summaries existed has no ``fairness`` documents:
    the report falls back to the statements, even once new records are appended (the layout
    marker then says the summaries are incomplete); a rebuild makes them complete."""
    ledger = open_fairness_ledger(bench_copy)
    try:
        expected = reference_fairness_report(ledger).to_json()
        with ledger.store.write() as tx:
            for key, _seq, _body in tx.documents(FAIRNESS, limit=100_000):
                tx.delete_document(FAIRNESS, key)
        assert fairness_documents(ledger) == []
        assert ledger_fairness_report(ledger).to_json() == expected
        ledger.rebuild_projections()
        with ledger.store.read() as tx:
            layout = tx.document(FAIRNESS, FAIRNESS_LAYOUT)
        assert layout is not None
        assert layout[1] == {"summaries": 1, "complete": True}
        assert ledger_fairness_report(ledger).to_json() == expected
    finally:
        ledger.close()


def test_appending_to_a_ledger_without_summaries_marks_them_incomplete(chain: Chain) -> None:
    """Contract documents written without the summaries, then a record appended by the
    current projection: the layout marker says incomplete, and the report still equals the
    reference (it reads the statements) until a rebuild."""
    rich_history(chain)
    with chain.ledger.store.write() as tx:
        for key, _seq, _body in tx.documents(FAIRNESS, limit=100_000):
            tx.delete_document(FAIRNESS, key)
    lot = lot_id(GTIN_BERRIES, "S-2")
    submit(chain, BUYER, Kind.SALE_REPORT, sale_body(lot, "2026-07", "2", "20.00"))
    with chain.ledger.store.read() as tx:
        layout = tx.document(FAIRNESS, FAIRNESS_LAYOUT)
    assert layout is not None
    assert isinstance(layout[1], dict)
    assert layout[1]["complete"] is False
    assert_same_everywhere(chain.ledger, ("2026-07",))
    chain.ledger.rebuild_projections()
    with chain.ledger.store.read() as tx:
        layout = tx.document(FAIRNESS, FAIRNESS_LAYOUT)
    assert layout is not None
    assert isinstance(layout[1], dict)
    assert layout[1]["complete"] is True
    assert_same_everywhere(chain.ledger, ("2026-07",))


def test_a_summary_made_under_a_superseded_version_is_not_used(
    chain: Chain, decoded: list[int]
) -> None:
    """``rich_history`` settles July, then binds version 2 valid from the same day: July's
    summary was made under version 1, so the report recomputes that statement under
    version 2 and still equals the reference."""
    rich_history(chain)
    contract = load_contracts(chain.ledger)[CONTRACT]
    in_force = contract.in_force_during("2026-07")
    assert in_force is not None
    with chain.ledger.store.read() as tx:
        found = tx.document(FAIRNESS, f"statement/{CONTRACT}/2026-07")
    assert found is not None
    assert isinstance(found[1], dict)
    summary = StatementSummary.from_json(found[1])
    assert summary.version == 1
    assert not summary.fits(in_force)
    ledger_fairness_report(chain.ledger)
    assert decoded == [summary.seq]
    assert_same_everywhere(chain.ledger, ("2026-07",))


def test_realised_floor_findings_come_from_the_summary(chain: Chain, decoded: list[int]) -> None:
    """Berries agreed at 4.20 under a declared 4.50 floor; a 10 kg delivery kept at 12 °C
    nets 31.50 (3.15/kg, below the floor after the condition penalty) and a 100 kg one at
    the agreed temperature 450.00 (the floor applies): one realised finding, one terms
    finding, the same from the summary as from the statement."""
    document = terms_document()
    set_path(document, "products.1.pricing.floor", "4.50")
    bind(chain, parse_terms(document))
    cold, warm = lot_id(GTIN_BERRIES, "W-1"), lot_id(GTIN_BERRIES, "W-2")
    for lot, kilos, readings in ((cold, "10", (Reading(value="12"),)), (warm, "100", ())):
        po = f"https://roastery-nord.example/po/{lot.rsplit('/', 1)[-1]}"
        on = date(2026, 7, 2)
        submit(chain, AURORA, Kind.TRACE_EVENT, {"event": shipping_event(lot, kilos, on=on, po=po)})
        event = receiving_event(lot, kilos, on=on, po=po, readings=list(readings))
        submit(chain, BUYER, Kind.TRACE_EVENT, {"event": event})
    submit(
        chain,
        BUYER,
        Kind.SALE_REPORT,
        sale_body(lot_id(GTIN_BERRIES, "S-9"), "2026-07", "5", "900.00"),
    )
    statement = settle_ledger(chain.ledger, CONTRACT, "2026-07", ProvenanceGraph())
    record_settlement(chain.ledger, statement, chain.operator, now=chain.tick())
    ledger_fairness_report(chain.ledger)
    assert decoded == []
    report = assert_same_everywhere(chain.ledger, ("2026-07", "2026-08"))
    assert sorted(f.kind for f in report.floor_findings) == ["realised", "terms"]
    (realised,) = (f for f in report.floor_findings if f.kind == "realised")
    assert "3.1500 per KGM" in realised.detail
    with chain.ledger.store.read() as tx:
        found = tx.document(FAIRNESS, f"statement/{CONTRACT}/2026-07")
    assert found is not None
    assert isinstance(found[1], dict)
    assert StatementSummary.from_json(found[1]).findings == (realised,)

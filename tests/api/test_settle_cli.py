"""``fairledger settle`` and ``fairledger audit`` through click, on a real ledger."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from api.settings import Settings, load_settings
from api.settle_cli import CliContext, make_audit_group, make_settle_command
from contracts.provenance import ProvenanceGraph, ProvenanceSource
from contracts.scenario import lot_id, sale_body
from ledger.keys import PrivateKey
from ledger.log import Ledger
from ledger.state import Kind
from tests.contracts.samples import GTIN_BERRIES, GTIN_COFFEE, GTIN_FLOUR
from tests.contracts.test_lifecycle import (
    AURORA,
    BRISA,
    BUYER,
    CONTRACT,
    TERMS,
    bind,
    contract_chain,
    submit,
)
from tests.contracts.test_settlement_ledger import deliver_on_ledger
from tests.factory import Chain, key_for

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@dataclass
class Context:
    settings: Settings
    as_json: bool

    def operator_key(self) -> PrivateKey:
        return key_for("operator")


def cli(url: str, provenance: ProvenanceSource | None = None) -> click.Group:
    @click.group()
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def root(ctx: click.Context, as_json: bool) -> None:
        context: CliContext = Context(load_settings(None, url), as_json)
        ctx.obj = context

    if provenance is None:
        root.add_command(make_settle_command(clock=lambda: NOW))
    else:
        source = provenance
        root.add_command(make_settle_command(lambda ledger: source, clock=lambda: NOW))
    root.add_command(make_audit_group(clock=lambda: NOW))
    return root


@pytest.fixture
def chain(tmp_path: Path) -> Chain:
    c = contract_chain(tmp_path / "ledger.db")
    bind(c, TERMS)
    deliver_on_ledger(c, AURORA, lot_id(GTIN_BERRIES, "K-1"), "100", "100", date(2026, 7, 3))
    deliver_on_ledger(c, BRISA, lot_id(GTIN_FLOUR, "K-2"), "500", "500", date(2026, 7, 9))
    c.ledger.close()
    return c


def test_settle_prints_the_statement(chain: Chain) -> None:
    done = CliRunner().invoke(cli(chain.url), ["settle", CONTRACT, "--period", "2026-07"])
    assert done.exit_code == 0, done.output
    assert "Settlement of roastery-nord-2026 for 2026-07" in done.output
    assert "roastery-nord owes finca-aurora 420.00 EUR [principal] due 2026-08-30" in done.output
    assert "(411.60 if paid by 2026-08-10)" in done.output
    assert "Recorded" not in done.output


def test_settle_and_record_as_json(chain: Chain) -> None:
    runner = CliRunner()
    args = ["--json", "settle", CONTRACT, "--period", "2026-07", "--record"]
    done = runner.invoke(cli(chain.url), args)
    assert done.exit_code == 0, done.output
    out = json.loads(done.output)
    assert out["statement"]["contract_id"] == CONTRACT
    assert out["recorded_seq"] is not None
    ledger = Ledger.open(chain.url)
    try:
        record = ledger.record(out["recorded_seq"])
        assert record is not None
        assert record.statement.kind == Kind.SETTLEMENT
        assert record.statement.body == out["statement"]
        assert record.recorded_at.startswith("2026-11-23T09:00:00")
    finally:
        ledger.close()
    as_of = str(out["statement"]["as_of_seq"])
    again = runner.invoke(cli(chain.url), [*args[1:], "--as-of-seq", as_of])
    assert again.exit_code == 0, again.output
    assert f"Already recorded as seq {out['recorded_seq']}" in again.output


def test_audit_commands(chain: Chain) -> None:
    runner = CliRunner()
    assert (
        runner.invoke(
            cli(chain.url), ["settle", CONTRACT, "--period", "2026-07", "--record"]
        ).exit_code
        == 0
    )
    payments = runner.invoke(
        cli(chain.url), ["--json", "audit", "payments", "--as-of", "2026-09-15"]
    )
    assert payments.exit_code == 0, payments.output
    report = json.loads(payments.output)
    states = {row["payee"]: (row["state"], row["days_late"]) for row in report["obligations"]}
    assert states == {AURORA: ("late", 16), BRISA: ("late", 16)}
    human = runner.invoke(cli(chain.url), ["audit", "payments"])
    assert "Payments audit as of 2026-11-23" in human.output
    fairness = runner.invoke(cli(chain.url), ["audit", "fairness", "--period", "2026-07"])
    assert fairness.exit_code == 0, fairness.output
    assert "2026-07 EUR: 3 participants" in fairness.output


def test_market_prices_on_the_command_line(tmp_path: Path) -> None:
    c = contract_chain(tmp_path / "ledger.db")
    bind(c, TERMS)
    deliver_on_ledger(c, BRISA, lot_id(GTIN_COFFEE, "K-3"), "60", "60", date(2026, 7, 12))
    c.ledger.close()
    runner = CliRunner()
    missing = runner.invoke(cli(c.url), ["settle", CONTRACT, "--period", "2026-07"])
    assert missing.exit_code == 1
    assert f"no market price was given for GTIN {GTIN_COFFEE} on 2026-07-12" in missing.output
    done = runner.invoke(
        cli(c.url),
        [
            "settle",
            CONTRACT,
            "--period",
            "2026-07",
            "--market-price",
            f"{GTIN_COFFEE}@2026-07-12=3.50",
        ],
    )
    assert done.exit_code == 0, done.output
    assert "owes finca-brisa 301.20 EUR" in done.output
    bad = runner.invoke(
        cli(c.url), ["settle", CONTRACT, "--period", "2026-07", "--market-price", "3.50"]
    )
    assert bad.exit_code == 2
    assert "expected GTIN@YYYY-MM-DD=PRICE" in bad.output


def test_revenue_share_needs_provenance(tmp_path: Path) -> None:
    c = contract_chain(tmp_path / "ledger.db")
    bind(c, TERMS)
    lot = lot_id(GTIN_BERRIES, "K-4")
    ship, _ = deliver_on_ledger(c, AURORA, lot, "10", "10", date(2026, 7, 1))
    submit(c, BUYER, Kind.SALE_REPORT, sale_body(lot, "2026-07", "10", "100.00"))
    c.ledger.close()
    unwired = CliRunner().invoke(cli(c.url), ["settle", CONTRACT, "--period", "2026-07"])
    assert unwired.exit_code == 1
    assert "lot provenance is not available to this command" in unwired.output
    graph = ProvenanceGraph().supplied(lot, AURORA, ship)
    done = CliRunner().invoke(cli(c.url, graph), ["settle", CONTRACT, "--period", "2026-07"])
    assert done.exit_code == 0, done.output
    assert "owes finca-aurora 44.00 EUR" in done.output  # 42.00 goods + 2 % of 100.00


def test_unknown_contract_and_missing_database(tmp_path: Path, chain: Chain) -> None:
    runner = CliRunner()
    unknown = runner.invoke(cli(chain.url), ["settle", "nope", "--period", "2026-07"])
    assert unknown.exit_code == 1
    assert "no contract nope" in unknown.output
    missing = runner.invoke(
        cli(f"sqlite:///{tmp_path / 'none.db'}"), ["settle", CONTRACT, "--period", "2026-07"]
    )
    assert missing.exit_code == 3

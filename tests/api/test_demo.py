"""The demo the README's first Quickstart command runs: a realistic grain-to-bread ecosystem,
every statement signed by its author and appended through the normal path, that the auditor's
check accepts. Each element the demo promises is asserted through the library."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from api import demo, wiring
from api.cli import main
from api.settings import load_settings
from contracts.audit import payments_audit
from contracts.engine import ledger_entries, recorded_settlements, verify_recorded_settlements
from contracts.lifecycle import Contract, ContractStatus
from ledger.canonical import JSONObject
from ledger.log import Ledger
from ledger.state import Kind
from ledger.statement import Record
from ledger.trace import service
from ledger.verify import audit_database
from tests.api.served import start_logged, wait_until_serving

FAIRLEDGER = str(Path(sys.executable).parent / "fairledger")

pytestmark = pytest.mark.xdist_group("demo")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[demo.DemoResult, Path]:
    home = tmp_path_factory.mktemp("demo") / "home"
    settings = load_settings(home, None)
    settings.database_url = None
    return demo.run_demo(settings, lambda _: None), home


@pytest.fixture
def ledger(built: tuple[demo.DemoResult, Path]) -> Iterator[Ledger]:
    opened = wiring.open_ledger(f"sqlite:///{built[1] / 'ledger.db'}")
    yield opened
    opened.close()


def _records(ledger: Ledger) -> list[Record]:
    with ledger.store.read() as tx:
        return [Record.from_leaf(r.leaf) for r in tx.records_of_kinds(0, sorted(Kind))]


def _events(ledger: Ledger) -> list[tuple[Record, JSONObject]]:
    found = []
    for record in _records(ledger):
        if record.statement.kind == Kind.TRACE_EVENT:
            event = record.statement.body["event"]
            assert isinstance(event, dict)
            found.append((record, event))
    return found


def test_the_auditor_verifies_every_record(built: tuple[demo.DemoResult, Path]) -> None:
    result, home = built
    report = audit_database(
        f"sqlite:///{home / 'ledger.db'}",
        operator_vkey=result.vkey,
        validators=wiring.validators(),
        parallel=False,
    )
    assert report.ok, report.findings
    assert report.records_checked == result.size > 80


def test_every_participant_signs_its_own_statements(ledger: Ledger) -> None:
    records = _records(ledger)
    authors = {r.statement.author for r in records}
    trading = {m.id for m in demo.CAST if m.roles != ("auditor",)}
    assert trading | {"operator"} <= authors
    for record in records:
        kind, author = record.statement.kind, record.statement.author
        if kind in (Kind.GENESIS, Kind.REGISTER, Kind.SETTLEMENT):
            assert author == "operator"
        else:
            assert author != "operator", record.seq


def test_provenance_of_bread_reaches_the_three_farms_through_the_mill(ledger: Ledger) -> None:
    answer = service.provenance(ledger, demo.BREAD_SUNRISE_JAN)
    flour = answer.get(demo.flour_lot(1))
    assert flour is not None
    assert flour.share == 1
    assert flour.producers == ("mill-valley",)
    for farm in demo.FARMS:
        wheat = answer.get(demo.wheat_lot(farm))
        assert wheat is not None, farm
        assert wheat.producers == (farm,)
        assert wheat.share == Fraction(1, 3)
        # The wheat went farm -> cooperative -> (on a pallet) -> mill.
        holders = {(m.holder, m.category) for m in wheat.movements}
        assert {(farm, "shipped"), ("grain-coop", "received")} <= holders
        assert {("grain-coop", "shipped"), ("mill-valley", "received")} <= holders
        assert ("mill-valley", "consumed") in holders
    links = {(link.input_lot, link.output_lot) for link in answer.links}
    assert (demo.flour_lot(1), demo.BREAD_SUNRISE_JAN) in links
    assert {(demo.wheat_lot(f), demo.flour_lot(1)) for f in demo.FARMS} <= links


def test_pallets_are_packed_shipped_received_and_unpacked(ledger: Ledger) -> None:
    steps = [
        (event["type"], event.get("action"), event.get("bizStep"), event.get("parentID"))
        for _, event in _events(ledger)
        if event["type"] == "AggregationEvent" or "epcList" in event
    ]
    for number in (1, 2):
        sscc = f"https://id.gs1.org/00/{demo.pallet(number)}"
        assert ("AggregationEvent", "ADD", "packing", sscc) in steps
        assert ("AggregationEvent", "DELETE", "unpacking", sscc) in steps
    received = [
        m
        for m in service.provenance(ledger, demo.wheat_lot("farm-hillside")).lots[0].movements
        if m.holder == "mill-valley" and m.category == "received"
    ]
    assert [(m.sscc, m.quantity) for m in received] == [
        (demo.pallet(1), Decimal(2000)),
        (demo.pallet(2), Decimal(2000)),
    ]


def test_every_delivery_is_shipped_by_the_shipper_and_received_by_the_receiver(
    ledger: Ledger,
) -> None:
    shipped: dict[str, str] = {}
    received: dict[str, str] = {}
    for record, event in _events(ledger):
        orders = event.get("bizTransactionList")
        if event.get("bizStep") not in ("shipping", "receiving") or not isinstance(orders, list):
            continue
        order = orders[0]
        assert isinstance(order, dict)
        side = shipped if event["bizStep"] == "shipping" else received
        side[str(order["bizTransaction"])] = record.statement.author
    assert shipped.keys() == received.keys()
    assert len(shipped) >= 14
    for po, shipper in shipped.items():
        assert received[po] != shipper
        assert po.startswith(f"https://{received[po]}.example/po/")


def test_a_quality_rejection_returns_part_of_a_delivery_with_its_reason(
    ledger: Ledger, built: tuple[demo.DemoResult, Path]
) -> None:
    result = built[0]
    record = next(r for r, _ in _events(ledger) if r.seq == result.rejection_seq)
    assert record.statement.author == "bakery-corner"
    event = record.statement.body["event"]
    assert isinstance(event, dict)
    assert event["fairledger:rejectionReason"] == "damaged: 12 bags torn and wet on arrival"
    flour = service.provenance(ledger, demo.flour_lot(1)).lots[0]
    at_receipt = {
        (m.holder, m.category, m.quantity) for m in flour.movements if m.seq == record.seq
    }
    assert at_receipt == {
        ("bakery-corner", "received", Decimal(1200)),
        ("bakery-corner", "rejected", Decimal(300)),
        ("mill-valley", "returned", Decimal(300)),
    }


def test_a_correction_declares_the_error_and_records_the_corrective_event(
    ledger: Ledger, built: tuple[demo.DemoResult, Path]
) -> None:
    result = built[0]
    answer = service.provenance(ledger, demo.wheat_lot("farm-oakmeadow"))
    (correction,) = answer.corrections
    assert correction.declared_by == result.declaration_seq
    assert correction.corrective_seqs == (result.corrective_seq,)
    assert correction.reason == "incorrect_data"
    summary = service.summary(ledger, demo.wheat_lot("farm-oakmeadow"))
    assert correction.seq in summary.voided_seqs
    commissioned = [b for b in summary.balances if b.holder == "farm-oakmeadow" and b.uom == "KGM"]
    assert commissioned[0].commissioned == 8000  # not the mistyped 80000


def test_the_pact_is_accepted_by_every_obligated_party(ledger: Ledger) -> None:
    with ledger.store.read() as tx:
        found = tx.document("contracts", demo.CONTRACT_ID)
    assert found is not None
    assert isinstance(found[1], dict)
    contract = Contract.from_json(found[1])
    assert contract.status is ContractStatus.ACTIVE
    accepted = {
        r.statement.author for r in _records(ledger) if r.statement.kind == Kind.CONTRACT_ACCEPT
    }
    assert (
        accepted
        == set(contract.latest.obligated)
        == {
            "grain-coop",
            "grocer-regional",
            *demo.FARMS,
        }
    )
    terms = demo.contract_terms()
    wheat = terms.products[0].pricing
    assert (wheat.basis, wheat.floor, wheat.premium) == ("market", Decimal("0.22"), Decimal("0.03"))
    assert terms.revenue_share is not None
    assert terms.revenue_share.payer == "grocer-regional"
    assert terms.payment.late_interest.margin_percent == 8


def test_two_months_are_settled_and_resettle_byte_for_byte(
    ledger: Ledger, built: tuple[demo.DemoResult, Path]
) -> None:
    result = built[0]
    for period in ("2026-01", "2026-02"):
        (statement,) = recorded_settlements(ledger, demo.CONTRACT_ID, period)
        assert statement.seq == result.settlements[period]
    checked = verify_recorded_settlements(ledger, wiring.TraceProvenance(ledger))
    assert [seq for seq, _ in checked] == sorted(result.settlements.values())
    (january,) = recorded_settlements(ledger, demo.CONTRACT_ID, "2026-01")
    # The floor applied in January (market 0.205 < 0.22): 6,000 kg at 0.25 from Hillside.
    lines = january.body["deliveries"]
    assert isinstance(lines, list)
    hillside = [d for d in lines if isinstance(d, dict) and d["supplier"] == "farm-hillside"]
    assert [d["net"] for d in hillside] == ["1500.00"]
    # The grocer's bread sales send 6 % upstream to each farm, a third each: 2030 / 3 * 6 %.
    shares = january.body["revenue_shares"]
    assert isinstance(shares, list)
    assert len(shares) == 1
    owed = {
        (o["payer"], o["payee"]): o["amount"]
        for o in january.body["obligations"]  # type: ignore[union-attr]
        if isinstance(o, dict)
    }
    for farm in demo.FARMS:
        assert owed[("grocer-regional", farm)] == "40.60"


def test_sales_are_reported_by_the_sellers(ledger: Ledger) -> None:
    sales = ledger_entries(ledger, (Kind.SALE_REPORT,))
    assert {(s.author, s.body["period"]) for s in sales} == {
        ("grocer-regional", "2026-01"),
        ("cafe-bean", "2026-01"),
        ("grocer-regional", "2026-02"),
    }


def test_one_late_payment_bears_interest_and_compensation(
    ledger: Ledger, built: tuple[demo.DemoResult, Path]
) -> None:
    audit = payments_audit(ledger_entries(ledger), date(2026, 3, 31))
    late = [o for o in audit.obligations if o.days_late > 0]
    assert [(o.obligation.payer, o.obligation.payee, o.obligation.period) for o in late] == [
        ("grain-coop", "farm-riverbend", "2026-01")
    ]
    assert late[0].days_late == 12
    assert (late[0].interest.amount, late[0].compensation.amount) == ("4.17", "40.00")
    assert all(o.state.value == "paid" for o in audit.obligations)
    # February's statement billed the charges for it.
    (february,) = recorded_settlements(ledger, demo.CONTRACT_ID, "2026-02")
    charges = february.body["charges"]
    assert isinstance(charges, list)
    assert charges
    # ... and the command line shows them.
    home = built[1]
    shown = CliRunner().invoke(
        main, ["--home", str(home), "audit", "payments", "--as-of", "2026-03-31"]
    )
    assert shown.exit_code == 0, shown.output
    assert "farm-riverbend 2026-01 as payee" in shown.output
    assert "interest 4.17, compensation 40.00" in shown.output


def test_the_demo_is_deterministic_apart_from_keys(tmp_path: Path) -> None:
    def statements(url: str) -> list[tuple[str, str, str, str, str]]:
        demo.build_demo(url, lambda *_: None, lambda _: None)
        opened = wiring.open_ledger(url)
        try:
            return [
                (
                    r.statement.kind,
                    r.statement.author,
                    "" if r.statement.kind == Kind.GENESIS else r.statement.nonce,
                    str(r.statement.document["issued_at"]),
                    ""
                    if r.statement.kind in (Kind.REGISTER, Kind.KEY_ROTATE, Kind.GENESIS)
                    else json.dumps(r.statement.body, sort_keys=True),
                )
                for r in _records(opened)
            ]
        finally:
            opened.close()

    assert statements(f"sqlite:///{tmp_path / 'a.db'}") == statements(
        f"sqlite:///{tmp_path / 'b.db'}"
    )


def test_the_suggested_commands_work(
    built: tuple[demo.DemoResult, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    result, home = built
    monkeypatch.chdir(home.parent)
    lines = demo.try_lines(result, home.name, "http://127.0.0.1:8000")
    text = "\n".join(lines)
    lot = result.bread_lot
    assert f"curl -G http://127.0.0.1:8000/v1/lots/provenance --data-urlencode 'lot={lot}'" in text
    assert "/v1/lots/bundle" in text
    assert "http://127.0.0.1:8000/01/09506000134307/10/B-SR-260122" in text
    assert f"verify --vkey '{result.vkey}'" in text
    ran = 0
    for line in lines:
        if not line.startswith(f"  fairledger --home {home.name} ") or "&&" in line:
            continue
        words = shlex.split(line)
        if words[3] == "verify" and len(words) > 4 and words[4].startswith("http"):
            continue  # needs the server (tests/api/test_cli_e2e.py verifies over HTTP)
        done = CliRunner().invoke(main, words[1:])
        assert done.exit_code == 0, (line, done.output)
        ran += 1
    assert ran >= 5


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRLEDGER_")}
    return subprocess.run(
        [FAIRLEDGER, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def test_the_installed_command_builds_a_verifiable_ledger_and_runs_again(tmp_path: Path) -> None:
    first = _run(tmp_path, "--json", "demo", "--no-serve")
    assert first.returncode == 0, first.stderr
    made = json.loads(first.stdout)
    assert made["lot"] == demo.BREAD_SUNRISE_JAN
    keys = sorted(p.name for p in (tmp_path / ".fairledger-demo" / "keys").iterdir())
    assert keys == sorted([*(f"{m.id}.pem" for m in demo.CAST), "operator.pem"])
    check = _run(tmp_path, "--home", ".fairledger-demo", "--json", "verify", "--vkey", made["vkey"])
    assert check.returncode == 0, check.stdout
    assert json.loads(check.stdout)["records_checked"] == made["records"]
    again = _run(tmp_path, "demo", "--no-serve")
    assert again.returncode == 0, again.stderr
    assert "auditor check" in again.stdout


def test_demo_refuses_a_directory_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "ledger.db").write_text("real data")
    done = _run(tmp_path, "demo", "--home", "precious", "--no-serve")
    assert done.returncode == 1
    assert "refusing" in done.stderr
    assert (tmp_path / "precious" / "ledger.db").read_text() == "real data"


def test_the_demo_serves_what_it_suggests(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRLEDGER_")}
    log = tmp_path / "demo.log"
    process, ready = start_logged(
        [FAIRLEDGER, "demo", "--port", str(port)], cwd=tmp_path, env=env, log=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(process, ready, log, within=120)
        assert httpx.get(f"{base}/v1/ledger", timeout=120).status_code == 200
        printed = (tmp_path / "demo.log").read_text()
        assert f"curl {base}/v1/checkpoint" in printed
        lot = demo.BREAD_SUNRISE_JAN
        trace = httpx.get(f"{base}/v1/lots/provenance", params={"lot": lot})
        assert trace.status_code == 200, trace.text
        assert {"farm-hillside", "farm-riverbend", "farm-oakmeadow", "mill-valley"} <= set(
            trace.json()["parties"]
        )
        page = httpx.get(f"{base}{lot.removeprefix('https://id.gs1.org')}")
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        bundle = httpx.get(f"{base}/v1/lots/bundle", params={"lot": lot})
        assert bundle.status_code == 200, bundle.text
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

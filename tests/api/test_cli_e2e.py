"""The installed ``fairledger`` command end to end, as a new user runs it: a fresh home, an
operator, a supplier and a buyer with their own keys, a server on a loopback port, a delivery
submitted by both sides, a trace, a settled contract, and the auditor's checks against the
server, an export file and a kept receipt."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from contracts.scenario import accept_body, propose_body
from contracts.terms import parse_terms
from ledger.canonical import JSONObject
from ledger.trace.builders import Amount, BizTransaction, harvest, lot_id, receive, ship, trace_body
from tests.api.served import start_logged, wait_until_serving

pytestmark = pytest.mark.xdist_group("cli-e2e")

FARM_GLN = "9506000134369"
MILL_GLN = "9506000134390"
GTIN_WHEAT = "09506000134109"
LOT = lot_id(GTIN_WHEAT, "W-E2E-1")
ORDER = [BizTransaction("po", "https://mill-b.example/po/7")]
CONTRACT = "wheat-2026"
#: How long the server may take to start on a loaded machine before the test gives up.
READY_WITHIN = 60.0


def _fairledger() -> str:
    found = shutil.which("fairledger", path=str(Path(sys.executable).parent))
    assert found is not None, "the fairledger console script is not installed in this venv"
    return found


class User:
    """Runs the installed command in ``cwd`` with ``FAIRLEDGER_HOME`` set, as a shell would."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.exe = _fairledger()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRLEDGER_")}
        self.env["FAIRLEDGER_HOME"] = str(cwd / "home")

    def run(self, *args: str, stdin: str | None = None, ok: bool = True) -> str:
        done = subprocess.run(
            [self.exe, *args],
            cwd=self.cwd,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if ok:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def json(self, *args: str, stdin: str | None = None) -> JSONObject:
        value = json.loads(self.run("--json", *args, stdin=stdin))
        assert isinstance(value, dict)
        return value

    def write(self, name: str, value: JSONObject) -> str:
        (self.cwd / name).write_text(json.dumps(value))
        return name


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def user(tmp_path: Path) -> User:
    return User(tmp_path)


@pytest.fixture
def server(user: User) -> Iterator[str]:
    """``fairledger serve`` on a free loopback port, once the ledger exists; killed after."""
    port = _free_port()
    log = user.cwd / "server.log"
    process, ready = start_logged(
        [
            user.exe,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "info",
            "--no-access-log",
        ],
        cwd=user.cwd,
        env=user.env,
        log=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(process, ready, log, within=READY_WITHIN)
        assert httpx.get(f"{url}/v1/ledger", timeout=READY_WITHIN).status_code == 200
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _terms() -> JSONObject:
    return {
        "version": 1,
        "contract_id": CONTRACT,
        "parties": [
            {"id": "mill-b", "roles": ["buyer"]},
            {"id": "farm-a", "roles": ["supplier"]},
        ],
        "currency": "EUR",
        "rounding": {"mode": "ROUND_HALF_EVEN", "point": "per_line"},
        "valid_from": "2026-01-01",
        "products": [
            {
                "gtin": GTIN_WHEAT,
                "unit": "KGM",
                "pricing": {"basis": "agreed", "unit_price": "0.25"},
            }
        ],
        "payment": {
            "net_days": 30,
            "statutory_max_days": 60,
            "late_interest": {
                "reference": "ECB main refinancing operations rate",
                "margin_percent": "8",
                "day_count": "ACT/365",
                "reference_rates": [{"effective_from": "2025-06-11", "percent": "2.15"}],
            },
            "fixed_compensation": "40.00",
        },
    }


def _at(day: int, hour: int) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def test_a_new_user_runs_a_ledger_end_to_end(user: User, request: pytest.FixtureRequest) -> None:
    # The operator creates the ledger; the supplier and the buyer make their keys.
    made = user.json("init", "--origin", "e2e.example/grain")
    vkey = str(made["vkey"])
    assert vkey.startswith("e2e.example/grain+")
    for participant in ("farm-a", "mill-b"):
        key = user.json("keygen", participant, "--ledger", "e2e.example/grain")
        assert (user.cwd / "home" / "keys" / f"{participant}.pem").exists()
        assert isinstance(key["request"], dict)
        user.write(f"{participant}.request.json", key["request"])
    user.run(
        "register", "farm-a", "--name", "Farm A", "--roles", "supplier", "--gln", FARM_GLN,
        "--request", "farm-a.request.json",
    )  # fmt: skip
    user.run(
        "register", "mill-b", "--name", "Mill B", "--roles", "supplier,buyer", "--gln",
        MILL_GLN, "--request", "mill-b.request.json",
    )  # fmt: skip

    url = request.getfixturevalue("server")
    assert httpx.get(f"{url}/v1/ledger").json()["size"] == 3

    # Both sides sign the contract, through the server.
    terms = parse_terms(_terms())
    user.write("propose.json", propose_body(terms))
    user.write("accept.json", accept_body(terms))
    user.run("submit", "contract.propose", "propose.json", "--as", "mill-b", "--url", url)
    for party in ("mill-b", "farm-a"):
        user.run("submit", "contract.accept", "accept.json", "--as", party, "--url", url)

    # The farm records its harvest and ships it; the mill receives it. One receipt is kept.
    harvested = harvest(
        event_id="urn:uuid:5b8e0d1e-0001-4c1e-9f00-000000000001",
        when=_at(5, 9),
        gln=FARM_GLN,
        lots=[Amount(LOT, "1000")],
    )
    shipped = ship(
        event_id="urn:uuid:5b8e0d1e-0001-4c1e-9f00-000000000002",
        when=_at(12, 7),
        shipper_gln=FARM_GLN,
        receiver_gln=MILL_GLN,
        lots=[Amount(LOT, "800")],
        biz_transactions=ORDER,
    )
    received = receive(
        event_id="urn:uuid:5b8e0d1e-0001-4c1e-9f00-000000000003",
        when=_at(12, 15),
        receiver_gln=MILL_GLN,
        shipper_gln=FARM_GLN,
        lots=[Amount(LOT, "800")],
        biz_transactions=ORDER,
    )
    user.write("harvest.json", trace_body(harvested))
    user.run("submit", "trace.event", "harvest.json", "--as", "farm-a", "--url", url)
    receipt = user.json(
        "submit", "trace.event", user.write("ship.json", trace_body(shipped)),
        "--as", "farm-a", "--url", url, "--vkey", vkey, "--receipt", "ship.receipt.json",
    )  # fmt: skip
    assert receipt["verified"] is True
    kept = json.loads((user.cwd / "ship.receipt.json").read_text())
    assert kept["seq"] == receipt["seq"] == 7
    human = user.run(
        "submit", "trace.event", "-", "--as", "mill-b", "--url", url,
        stdin=json.dumps(trace_body(received)),
    )  # fmt: skip
    assert "trace.event accepted as seq 8" in human
    assert "receipt verified" in human

    # A refused statement: the farm cannot ship what it no longer holds.
    too_much = dict(shipped, eventID="urn:uuid:5b8e0d1e-0001-4c1e-9f00-000000000004")
    user.write("again.json", trace_body(too_much))
    done = subprocess.run(
        [user.exe, "submit", "trace.event", "again.json", "--as", "farm-a", "--url", url],
        cwd=user.cwd, env=user.env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "mass balance" in done.stderr

    # Anyone traces the lot; the operator settles January and records it.
    trace = user.json("trace", LOT)
    assert trace["lot"] == LOT
    settled = user.json("settle", CONTRACT, "--period", "2026-01", "--record")
    statement = settled["statement"]
    assert isinstance(statement, dict)
    obligations = statement["obligations"]
    assert isinstance(obligations, list)
    assert len(obligations) == 1
    obligation = obligations[0]
    assert isinstance(obligation, dict)
    assert (obligation["payer"], obligation["payee"], obligation["amount"]) == (
        "mill-b",
        "farm-a",
        "200.00",
    )
    assert settled["recorded_seq"] == 9

    # The auditor: against the server, then an export file; the supplier checks its receipt.
    audited = user.json("verify", url, "--vkey", vkey, "--state", "auditor.json")
    assert (audited["ok"], audited["records_checked"], audited["findings"]) == (True, 10, [])
    assert (user.cwd / "auditor.json").exists()
    user.run("export", "--out", "ledger.jsonl")
    user.run("verify", "--export", "ledger.jsonl", "--vkey", vkey)
    checked = user.run("verify-receipt", "ship.receipt.json", "--vkey", vkey, "--url", url)
    assert "OK" in checked
    # A vkey that is not the operator's fails the auditor's check with exit code 1.
    wrong = vkey.rsplit("+", 1)[0] + "+" + "A" * 44
    bad = subprocess.run(
        [user.exe, "verify", "--export", "ledger.jsonl", "--vkey", wrong],
        cwd=user.cwd, env=user.env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 1, (bad.stdout, bad.stderr)

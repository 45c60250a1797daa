"""``fairledger submit`` on the local ledger: receipts printed, stored and checked; batches
all or nothing; every refusal a clear message and a stable exit code, with nothing written.
(The same command against a server runs in tests/api/test_cli_e2e.py.)"""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from api import wiring
from api.cli import main
from api.client import Author, registration_body
from api.settings import load_settings
from ledger.canonical import JSONObject
from ledger.keys import PrivateKey, save_private_key
from ledger.note import Ed25519Verifier
from ledger.receipt import Receipt
from ledger.state import Kind
from ledger.trace.builders import Amount, harvest, ship, trace_body

ORIGIN = "submit.example/grain"
FARM_GLN, MILL_GLN = "9506000134369", "9506000134390"
LOT = "https://id.gs1.org/01/09506000134109/10/W-7"


def _harvest(n: int, kg: str = "100") -> JSONObject:
    return trace_body(
        harvest(
            event_id=f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
            when=datetime.now(UTC) - timedelta(hours=1),
            gln=FARM_GLN,
            lots=[Amount(LOT, kg)],
        )
    )


def _ship(n: int, kg: str) -> JSONObject:
    return trace_body(
        ship(
            event_id=f"urn:uuid:00000000-0000-4000-9000-{n:012d}",
            when=datetime.now(UTC) - timedelta(minutes=30),
            shipper_gln=FARM_GLN,
            receiver_gln=MILL_GLN,
            lots=[Amount(LOT, kg)],
        )
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home with the operator's ledger and key, and farm-a registered (GLN, key file)."""
    home = tmp_path / "home"
    settings = load_settings(home, None)
    now = datetime.now(UTC) - timedelta(days=1)
    operator = PrivateKey.generate()
    save_private_key(settings.key_path("operator"), operator)
    ledger = wiring.create_ledger(
        settings.url, origin=ORIGIN, operator_id="operator", operator_key=operator, now=now
    )
    try:
        admin = Author("operator", operator, ORIGIN, clock=lambda: now)
        for participant, roles, gln in (
            ("farm-a", ("supplier",), FARM_GLN),
            ("mill-b", ("supplier", "buyer"), MILL_GLN),
        ):
            key = PrivateKey.generate()
            save_private_key(settings.key_path(participant), key)
            body = registration_body(
                ORIGIN, participant, display_name=participant, roles=roles, key=key, gln=gln
            )
            ledger.submit(admin.statement(Kind.REGISTER, body), now=now)
    finally:
        ledger.close()
    return home


def _size(home: Path) -> int:
    ledger = wiring.open_ledger(load_settings(home, None).url)
    try:
        return ledger.size
    finally:
        ledger.close()


def _vkey(home: Path) -> str:
    ledger = wiring.open_ledger(load_settings(home, None).url)
    try:
        return ledger.verifier.vkey
    finally:
        ledger.close()


def _submit(home: Path, args: Sequence[str], stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, ["--home", str(home), "submit", *args], input=stdin)


def test_a_statement_is_accepted_and_its_receipt_stored_and_checked(
    home: Path, tmp_path: Path
) -> None:
    body = tmp_path / "harvest.json"
    body.write_text(json.dumps(_harvest(1)))
    kept = tmp_path / "harvest.receipt.json"
    done = _submit(home, ["trace.event", str(body), "--as", "farm-a", "--receipt", str(kept)])
    assert done.exit_code == 0, done.output
    assert "trace.event accepted as seq 3" in done.output
    assert "receipt verified: operator-signed checkpoint of size 4" in done.output
    receipt = Receipt.from_json(json.loads(kept.read_text()))
    assert receipt.seq == 3
    receipt.verify(Ed25519Verifier.from_vkey(_vkey(home)))


def test_the_body_can_come_from_stdin_and_the_answer_as_json(home: Path) -> None:
    done = _submit(
        home, ["trace.event", "-", "--as", "farm-a", "--json"], stdin=json.dumps(_harvest(2))
    )
    assert done.exit_code == 0, done.output
    answer = json.loads(done.output)
    assert (answer["seq"], answer["created"], answer["verified"]) == (3, True, True)
    assert _size(home) == 4


def test_a_batch_is_appended_whole_with_one_receipt_per_line(home: Path, tmp_path: Path) -> None:
    lines = [
        {"kind": "trace.event", "body": _harvest(3)},
        {"body": _ship(3, "60"), "nonce": "ship-w7-0001"},
    ]
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps(line) + "\n" for line in lines))
    kept = tmp_path / "batch.receipts.jsonl"
    done = _submit(
        home,
        ["trace.event", "--batch", str(batch), "--as", "farm-a", "--receipt", str(kept)],
    )
    assert done.exit_code == 0, done.output
    receipts = [Receipt.from_json(json.loads(line)) for line in kept.read_text().splitlines()]
    assert [r.seq for r in receipts] == [3, 4]
    assert "receipts stored in" in done.output


def test_a_refused_batch_writes_nothing_and_names_the_line(home: Path, tmp_path: Path) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_text(
        json.dumps({"kind": "trace.event", "body": _harvest(4, "10")})
        + "\n"
        + json.dumps({"kind": "trace.event", "body": _ship(4, "11")})
        + "\n"
    )
    done = _submit(home, ["--batch", str(batch), "--as", "farm-a"])
    assert done.exit_code == 1
    assert "refused (batch line 2)" in done.output
    assert "mass balance" in done.output
    assert _size(home) == 3


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (["trace.event", "-", "--as", "farm-a"], "{not json", 1, "standard input is not valid"),
        (["trace.event", "-", "--as", "farm-a"], "[1, 2]", 1, "must be a JSON object"),
        (
            ["trace.event", "-", "--as", "farm-a"],
            '{"event": {}}',
            1,
            "refused: malformed-event: 1 error: statement.body.event.type",
        ),
        (["trace.event", "-", "--as", "nobody"], "{}", 3, "no key for nobody"),
        (["trace.event", "missing.json", "--as", "farm-a"], None, 3, "cannot read missing"),
        (["--as", "farm-a"], "{}", 2, "give the statement KIND"),
        (["no.such.kind", "-", "--as", "farm-a"], "{}", 2, "'no.such.kind' is not one of"),
        (["--batch", "-", "--as", "farm-a"], '{"body": {}}\n', 1, "line 1: kind must be"),
        (["--batch", "-", "--as", "farm-a"], "\n", 1, "holds no statements"),
        (["trace.event", "-", "--batch", "-", "--as", "farm-a"], "", 2, "not both"),
        (["trace.event", "-", "--as", "farm-a", "--vkey", "nonsense"], "{}", 2, "--vkey"),
    ],
)
def test_bad_input_is_refused_clearly_and_changes_nothing(
    home: Path, args: list[str], stdin: str | None, code: int, message: str
) -> None:
    done = _submit(home, args, stdin)
    assert done.exit_code == code, done.output
    assert message in done.output
    assert _size(home) == 3


def test_mass_balance_refusal_is_exit_code_1(home: Path) -> None:
    done = _submit(home, ["trace.event", "-", "--as", "farm-a"], json.dumps(_ship(5, "1")))
    assert done.exit_code == 1
    assert "refused: mass-balance" in done.output
    assert _size(home) == 3


def test_without_the_operator_key_the_local_ledger_is_not_written(home: Path) -> None:
    (home / "keys" / "operator.pem").unlink()
    done = _submit(home, ["trace.event", "-", "--as", "farm-a"], json.dumps(_harvest(6)))
    assert done.exit_code == 3
    assert "needs the operator key" in done.output
    assert "--url" in done.output


def test_an_unreachable_server_is_exit_code_3(home: Path) -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = _submit(
        home,
        ["trace.event", "-", "--as", "farm-a", "--url", f"http://127.0.0.1:{port}"],
        json.dumps(_harvest(7)),
    )
    assert done.exit_code == 3
    assert "server unavailable" in done.output


def test_a_receipt_that_does_not_verify_against_the_pinned_key_is_exit_code_1(
    home: Path,
) -> None:
    """The ledger's checkpoint is signed by its operator, not by the key the user pinned:
    the receipt is reported as not verifying (the statement itself was appended)."""
    impostor = Ed25519Verifier(ORIGIN, PrivateKey.generate().public_key).vkey
    done = _submit(
        home, ["trace.event", "-", "--as", "farm-a", "--vkey", impostor], json.dumps(_harvest(8))
    )
    assert done.exit_code == 1, done.output
    assert "the receipt does not verify" in done.output

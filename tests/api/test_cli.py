"""The installed ``fairledger`` command, run as a new user would, in a fresh home."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import click
import pytest

from api.cli import main

FAIRLEDGER = str(Path(sys.executable).parent / "fairledger")
ORIGIN = "cli.fairledger.example/coop"


def run(home: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRLEDGER_")}
    env["FAIRLEDGER_HOME"] = str(home)
    done = subprocess.run([FAIRLEDGER, *args], env=env, capture_output=True, text=True, check=False)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    out = json.loads(run(home, "--json", "init", "--origin", ORIGIN).stdout)
    assert out["vkey"].startswith(ORIGIN + "+")
    return home


def test_init_keygen_register_verify(home: Path, tmp_path: Path) -> None:
    vkey = json.loads(run(home, "--json", "verify").stdout)
    assert vkey["ok"] is True
    assert vkey["size"] == 1

    # A participant makes its key elsewhere and hands the operator a request.
    elsewhere = tmp_path / "farm-home"
    made = json.loads(run(elsewhere, "--json", "keygen", "farm-a", "--ledger", ORIGIN).stdout)
    request = tmp_path / "request.json"
    request.write_text(json.dumps(made["request"]))
    registered = run(
        home,
        "register",
        "farm-a",
        "--name",
        "Farm A",
        "--roles",
        "supplier",
        "--request",
        str(request),
    )
    assert "Registered farm-a" in registered.stdout

    # Or the key lives in the operator's home (a hosted participant).
    run(home, "keygen", "mill")
    run(
        home,
        "register",
        "mill",
        "--name",
        "The Mill",
        "--roles",
        "supplier,buyer",
        "--gln",
        "9506000134352",
    )

    report = json.loads(run(home, "--json", "verify").stdout)
    assert report["ok"] is True
    assert report["records_checked"] == 3

    export = tmp_path / "ledger.jsonl"
    run(home, "export", "--out", str(export))
    init_vkey = json.loads(export.read_text().splitlines()[0])["vkey"]
    assert json.loads(
        run(home, "--json", "verify", "--export", str(export), "--vkey", init_vkey).stdout
    )["ok"]
    assert "Rebuilt projections from 3 records" in run(home, "rebuild").stdout


def test_verify_exits_1_and_names_the_seq(home: Path) -> None:
    run(home, "keygen", "mill")
    run(home, "register", "mill", "--name", "Mill", "--roles", "buyer")
    conn = sqlite3.connect(home / "ledger.db", isolation_level=None)
    conn.execute("DROP TRIGGER records_no_update")
    conn.execute("UPDATE records SET leaf = replace(leaf, 'Mill', 'Evil') WHERE seq = 1")
    conn.close()
    done = run(home, "--json", "verify", ok=False)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ok"] is False
    assert {f["seq"] for f in report["findings"]} == {1}
    human = run(home, "verify", ok=False)
    assert "FAILED" in human.stdout
    assert "seq 1" in human.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("register", "ghost", "--name", "G", "--roles", "supplier"), 1, "cannot read key file"),
        (("register", "x1", "--name", "G", "--roles", "king"), 2, "roles must be"),
        (("keygen", "Bad Name"), 2, "must match"),
        (("verify", "--export", "/nonexistent/file"), 3, "cannot read export file"),
    ],
)
def test_bad_input_gets_clear_errors_and_exit_codes(
    home: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    done = run(home, *args, ok=False)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    import re

    assert re.search(message, done.stderr), done.stderr


@pytest.mark.parametrize("command", ["rebuild", "verify", "export"])
def test_commands_without_a_ledger_exit_3_and_create_nothing(tmp_path: Path, command: str) -> None:
    empty = tmp_path / "empty"
    args = (command, "--out", str(tmp_path / "x.jsonl")) if command == "export" else (command,)
    done = run(empty, *args, ok=False)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert "fairledger init" in done.stderr
    assert not empty.exists()


def test_every_command_has_help(home: Path) -> None:
    listed = run(home, "--help").stdout
    names = sorted(main.list_commands(click.Context(main)))
    for name in ("submit", "trace", "recall", "settle", "verify-lot", "witness", "bench"):
        assert name in names
    for command in names:
        assert command in listed
        assert "Usage:" in run(home, command, "--help").stdout, command


def test_export_then_import_ledger_into_a_new_home(home: Path, tmp_path: Path) -> None:
    run(home, "keygen", "mill")
    run(home, "register", "mill", "--name", "Mill", "--roles", "buyer")
    export = tmp_path / "backup.jsonl"
    run(home, "export", "--out", str(export))
    vkey = json.loads(export.read_text().splitlines()[0])["vkey"]
    other = tmp_path / "restored"
    restored = json.loads(run(other, "--json", "import-ledger", str(export), "--vkey", vkey).stdout)
    original = json.loads(run(home, "--json", "verify").stdout)
    assert restored["root"] == original["root"]
    assert json.loads(run(other, "--json", "verify", "--vkey", vkey).stdout)["ok"]
    again = run(other, "import-ledger", str(export), ok=False)
    assert again.returncode == 1
    assert "already holds a ledger" in again.stderr


def test_traceability_exports_and_refusals_leave_nothing(home: Path, tmp_path: Path) -> None:
    epcis = tmp_path / "events.json"
    done = json.loads(
        run(home, "--json", "export", "--out", str(epcis), "--format", "epcis").stdout
    )
    assert done["entries"] == 0
    assert json.loads(epcis.read_text())["type"] == "EPCISDocument"
    fsma = tmp_path / "fsma.csv"
    run(home, "export", "--out", str(fsma), "--format", "fsma204")
    assert fsma.read_text().splitlines()[0].count(",") > 5  # one column per KDE
    unknown = tmp_path / "lot.json"
    lot = "https://id.gs1.org/01/09506000134352/10/NOPE"
    refused = run(
        home, "export", "--out", str(unknown), "--format", "epcis", "--lot", lot, ok=False
    )
    assert refused.returncode == 1
    assert "NOPE" in refused.stderr
    assert not unknown.exists()
    assert not unknown.with_name(unknown.name + ".partial").exists()

"""The demo the README's first Quickstart command runs: builds, verifies, and re-runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FAIRLEDGER = str(Path(sys.executable).parent / "fairledger")


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRLEDGER_")}
    return subprocess.run(
        [FAIRLEDGER, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def test_demo_builds_a_verifiable_ledger_and_can_run_again(tmp_path: Path) -> None:
    first = _run(tmp_path, "--json", "demo", "--no-serve")
    assert first.returncode == 0, first.stderr
    vkey = json.loads(first.stdout[first.stdout.index("{") :])["vkey"]
    keys = sorted(p.name for p in (tmp_path / ".fairledger-demo" / "keys").iterdir())
    assert "operator.pem" in keys
    assert "mill-valley.pem" in keys
    assert len(keys) == 11
    check = _run(tmp_path, "--home", ".fairledger-demo", "--json", "verify", "--vkey", vkey)
    assert check.returncode == 0, check.stdout
    assert json.loads(check.stdout)["records_checked"] >= 12
    again = _run(tmp_path, "demo", "--no-serve")
    assert again.returncode == 0, again.stderr


def test_demo_refuses_a_directory_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "ledger.db").write_text("real data")
    done = _run(tmp_path, "demo", "--home", "precious", "--no-serve")
    assert done.returncode == 1
    assert "refusing" in done.stderr
    assert (tmp_path / "precious" / "ledger.db").read_text() == "real data"

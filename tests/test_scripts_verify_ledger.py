"""``scripts/verify_ledger.py``, the standalone auditor: against the real app (in process) and,
as an auditor would run it, as a separate process over an export file, with a state file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.evidence import check_evidence
from ledger.export import export_ledger
from tests.factory import Chain
from tests.ledger.forks import BASE, replay, serve, twin

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "verify_ledger.py"
sys.path.insert(0, str(SCRIPT.parent))
from verify_ledger import main  # noqa: E402


@pytest.fixture
def chain(tmp_path: Path) -> Chain:
    made = twin(tmp_path / "ledger.db")
    replay(made, made.sale("mill", 20))
    return made


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


def test_url_twice_with_a_state_file(
    chain: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(tmp_path / "state.json")
    vkey = chain.ledger.verifier.vkey
    with serve(chain, tmp_path) as http:
        assert main([BASE, "--vkey", vkey, "--state", state], http=http) == 0
        assert "24 record(s) checked" in capsys.readouterr().out
        replay(chain, chain.sale("farm-a", 5))
        assert main([BASE, "--vkey", vkey, "--state", state, "--json"], http=http) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["start"], report["records_checked"]) == (24, 5)


def test_export_in_a_separate_process(chain: Chain, tmp_path: Path) -> None:
    export = tmp_path / "ledger.jsonl"
    with export.open("wb") as out:
        export_ledger(chain.ledger, out)
    vkey = chain.ledger.verifier.vkey
    state = tmp_path / "state.json"
    done = run(str(export), "--vkey", vkey, "--state", str(state), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["records_checked"] == 24

    # New records arrive; one of them is edited in the next export.
    replay(chain, chain.sale("farm-a", 10))
    with export.open("wb") as out:
        export_ledger(chain.ledger, out)
    lines = export.read_bytes().split(b"\n")
    index = next(i for i, line in enumerate(lines) if line.endswith(b',"seq":30}'))
    lines[index] = lines[index].replace(b'"quantity":"1"', b'"quantity":"7"')
    export.write_bytes(b"\n".join(lines))
    evidence = tmp_path / "evidence.json"
    done = run(str(export), "--vkey", vkey, "--state", str(state), "--evidence", str(evidence))
    assert done.returncode == 1
    assert "seq 30" in done.stdout
    assert f"written to {evidence}" in done.stdout
    assert check_evidence(json.loads(evidence.read_text()), vkey)


def test_usage(tmp_path: Path) -> None:
    assert run("--help").returncode == 0
    assert run().returncode == 2
    assert run(str(tmp_path / "missing.jsonl")).returncode == 3

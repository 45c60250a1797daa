"""``fairledger verify-lot`` and ``scripts/verify_lot.py``: a buyer checks a lot's bundle
offline (or fetched from a server), sees the verified provenance tree, and gets exit code 0
only when everything holds: 1 for a bundle that fails (naming what), 2 for usage errors, 3
for a file or server that cannot be used."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from starlette.exceptions import StarletteDeprecationWarning

from api.app import ApiSettings, create_app
from api.bundle_cli import run_verify_lot
from api.cli import main as cli
from api.routes.deps import get_now
from ledger.bundle import build_bundle
from tests.ledger.test_bundle import OTHER_WITNESS, WITNESS, Story, build_story
from tests.ledger.trace.test_scenario_bakery import FLOUR, LOAVES, WHEAT_A, WHEAT_B

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "verify_lot.py"
sys.path.insert(0, str(SCRIPT.parent))
from verify_lot import main as script_main  # noqa: E402


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    built = build_story(tmp_path_factory.mktemp("bundle-cli") / "ledger.db")
    yield built
    built.tc.close()


@dataclass(frozen=True)
class Files:
    good: Path
    bad: Path
    vkey: Path
    tampered_seq: int


@pytest.fixture(scope="module")
def files(story: Story, tmp_path_factory: pytest.TempPathFactory) -> Files:
    """A valid bundle, one whose sixth record was edited, and a vkey file."""
    folder = tmp_path_factory.mktemp("bundle-files")
    data = build_bundle(story.ledger, LOAVES)
    good = folder / "loaves.bundle.json"
    good.write_bytes(data)
    doc = json.loads(data)
    doc["records"][5]["record"]["recorded_at"] = "2026-11-22T10:00:00.000000Z"
    bad = folder / "tampered.bundle.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    vkey = folder / "operator.vkey"
    vkey.write_text(story.vkey + "\n", encoding="utf-8")
    return Files(good, bad, vkey, doc["records"][5]["record"]["seq"])


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def test_a_valid_bundle_prints_the_verified_tree(story: Story, files: Files) -> None:
    done = _invoke("verify-lot", str(files.good), "--vkey", story.vkey)
    assert done.exit_code == 0, done.output
    out = done.output
    assert out.startswith(f"OK: lot {LOAVES} verified offline")
    for lot in (LOAVES, FLOUR, WHEAT_A, WHEAT_B):
        assert f"● {lot}" in out
    assert "share 50/51" in out
    assert "share 10/17" in out
    assert "on pallet" in out
    assert "retracted by seq" in out
    assert "bakery (Bakery) → retailer (Retailer)" in out


def test_json_output_holds_the_provenance(story: Story, files: Files) -> None:
    for args in (
        ("verify-lot", str(files.good), "--vkey", story.vkey, "--json"),
        ("--json", "verify-lot", str(files.good), "--vkey", str(files.vkey)),
    ):
        done = _invoke(*args)
        assert done.exit_code == 0, done.output
        report = json.loads(done.output)
        assert report["ok"] is True
        assert report["lot"] == LOAVES
        assert report["provenance"]["lots"][1]["share"] == "50/51"


def test_a_tampered_bundle_fails_naming_what(story: Story, files: Files) -> None:
    seq = files.tampered_seq
    done = _invoke("verify-lot", str(files.bad), "--vkey", story.vkey)
    assert done.exit_code == 1
    assert done.output.startswith("FAILED [chain-broken]")
    assert f"seq {seq}:" in done.output
    assert "records[5].entry_hash" in done.output
    done = _invoke("verify-lot", str(files.bad), "--vkey", story.vkey, "--json")
    assert done.exit_code == 1
    report = json.loads(done.output)
    assert report["ok"] is False
    assert report["error"]["code"] == "chain-broken"
    assert report["error"]["seq"] == seq
    assert report["error"]["field"] == "records[5].entry_hash"


def test_witnesses(story: Story, files: Files) -> None:
    good = str(files.good)
    done = _invoke("verify-lot", good, "--vkey", story.vkey, "--witness", WITNESS.vkey,
                   "--min-witnesses", "1")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert f"witnesses   {WITNESS.name}" in done.output
    done = _invoke("verify-lot", good, "--vkey", story.vkey, "--witness", OTHER_WITNESS.vkey,
                   "--min-witnesses", "1")  # fmt: skip
    assert done.exit_code == 1
    assert "checkpoint-invalid" in done.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--vkey", "not-a-vkey"), 2, "--vkey"),
        (("--vkey", "{vkey}", "--min-witnesses", "1"), 2, "--min-witnesses"),
        (("--vkey", "{vkey}", "--witness", "junk"), 2, "--witness"),
        (("--vkey", "{vkey}", "--url", "http://x"), 2, "either"),
    ],
)
def test_usage_errors(
    story: Story, files: Files, args: tuple[str, ...], code: int, message: str
) -> None:
    filled = [a.replace("{vkey}", story.vkey) for a in args]
    done = _invoke("verify-lot", str(files.good), *filled)
    assert done.exit_code == code, done.output
    assert message in done.output


def test_missing_file_and_no_bundle(story: Story, tmp_path: Path) -> None:
    done = _invoke("verify-lot", str(tmp_path / "nope.json"), "--vkey", story.vkey)
    assert done.exit_code == 3
    assert "cannot read" in done.output
    done = _invoke("verify-lot", "--vkey", story.vkey)
    assert done.exit_code == 2


def test_a_file_that_is_not_a_bundle_fails(story: Story, tmp_path: Path) -> None:
    junk = tmp_path / "junk.json"
    junk.write_bytes(b'{"format": "something-else"}')
    done = _invoke("verify-lot", str(junk), "--vkey", story.vkey)
    assert done.exit_code == 1
    assert "malformed-bundle" in done.output


@pytest.fixture
def server(story: Story, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(ApiSettings(home=tmp_path), ledger=story.ledger)
    app.dependency_overrides[get_now] = lambda: story.tc.chain.clock
    with TestClient(app, base_url="http://ledger.test") as client:
        yield client


def test_fetching_from_a_server(
    story: Story, server: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "fetched.json"
    code = run_verify_lot(
        None, story.vkey, url="http://ledger.test", lot=FLOUR, save=saved, http=server
    )
    assert code == 0
    assert f"OK: lot {FLOUR}" in capsys.readouterr().out
    assert saved.read_bytes() == build_bundle(story.ledger, FLOUR)
    code = run_verify_lot(
        None,
        story.vkey,
        url="http://ledger.test",
        lot="https://id.gs1.org/01/09506000134352/10/NEVER",
        http=server,
    )
    assert code == 1
    assert "NEVER" in capsys.readouterr().err


def test_an_unreachable_server(story: Story, capsys: pytest.CaptureFixture[str]) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(refuse), base_url="http://down") as http:
        code = run_verify_lot(None, story.vkey, url="http://down", lot=LOAVES, http=http)
    assert code == 3
    assert "error:" in capsys.readouterr().err


def test_the_script(
    story: Story, files: Files, server: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    assert script_main([str(files.good), "--vkey", story.vkey]) == 0
    assert "verified offline" in capsys.readouterr().out
    assert script_main([str(files.bad), "--vkey", story.vkey, "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "chain-broken"
    args = ["--url", "http://ledger.test", "--lot", LOAVES, "--vkey", story.vkey]
    assert script_main([*args, "--witness", WITNESS.vkey, "--min-witnesses", "1"], http=server) == 0
    assert script_main(["--vkey", story.vkey, "--bogus"]) == 2


def test_the_script_as_a_separate_process(story: Story, files: Files) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(files.good), "--vkey", str(files.vkey)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"OK: lot {LOAVES}" in done.stdout
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(files.bad), "--vkey", story.vkey],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "FAILED" in done.stdout

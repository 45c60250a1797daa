"""The auditor's, witness's and receipt holder's commands (``api.audit_cli``) against the real
app in process: exit codes, reports, state files and evidence files, including a server that
equivocates, and record pages split exactly even when a statement mimics their layout."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from api.audit_cli import (
    audit_command,
    run_verify,
    run_verify_receipt,
    run_witness,
    source_kind,
    verify_receipt_command,
    witness_command,
    witness_keygen_command,
)
from api.client import FairLedgerClient, split_record_page
from ledger.canonical import parse_json
from ledger.evidence import check_evidence
from ledger.export import export_ledger
from ledger.note import CosignatureSigner, open_checkpoint, verify_cosignatures
from ledger.receipt import Receipt
from ledger.state import Kind
from tests.factory import Chain, key_for
from tests.ledger.forks import BASE, replay, serve, twin
from tests.ledger.tamper import raw

T = 1_795_341_600
WITNESS = CosignatureSigner("witness.example.org", key_for("witness"))


class Output:
    """Collects what a command prints."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.err: list[str] = []

    @property
    def text(self) -> str:
        return "\n".join(self.out)

    def json(self) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.out[-1])
        return data


def verify(
    source: str,
    state: Path | None,
    vkey: str | None,
    *,
    http: httpx.Client | None = None,
    evidence: Path | None = None,
    as_json: bool = False,
) -> tuple[int, Output]:
    out = Output()
    code = run_verify(
        source,
        state,
        vkey,
        evidence,
        as_json,
        http=http,
        nonce_salt=bytes(16),
        echo=out.out.append,
        echo_err=out.err.append,
    )
    return code, out


@pytest.fixture
def a(tmp_path: Path) -> Chain:
    chain = twin(tmp_path / "a.db")
    replay(chain, chain.sale("mill", 20))
    return chain


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def test_source_kinds() -> None:
    assert source_kind("https://ledger.example.coop") == "url"
    assert source_kind("http://127.0.0.1:8000") == "url"
    assert source_kind("postgresql://u@h/db") == "database"
    assert source_kind("sqlite:///ledger.db") == "database"
    assert source_kind("ledger.jsonl") == "export"


# -- verify ----------------------------------------------------------------------------------


def test_url_audit_resumes_from_the_state_file(a: Chain, home: Path) -> None:
    state = home / "state.json"
    vkey = a.ledger.verifier.vkey
    with serve(a, home) as http:
        code, out = verify(BASE, state, vkey, http=http)
        assert code == 0, out.err
        assert "24 record(s) checked" in out.text
        assert f"state saved to {state}" in out.text
        replay(a, a.sale("farm-a", 7))
        # The vkey is the state file's own when it holds one ledger.
        code, out = verify(BASE, state, None, http=http, as_json=True)
    assert code == 0, out.err
    report = out.json()
    assert (report["start"], report["records_checked"], report["size"]) == (24, 7, 31)
    assert report["ok"] is True
    assert report["evidence"] is None
    assert report["state_saved"] == str(state)


def test_first_use_without_a_vkey_says_so(a: Chain, home: Path) -> None:
    with serve(a, home) as http:
        code, out = verify(BASE, None, None, http=http)
    assert code == 0
    assert "trusted on first use" in out.text


def test_equivocating_server_is_reported_with_an_evidence_file(
    a: Chain, home: Path, tmp_path: Path
) -> None:
    state = home / "state.json"
    vkey = a.ledger.verifier.vkey
    with serve(a, home) as http:
        assert verify(BASE, state, vkey, http=http)[0] == 0
    b = twin(tmp_path / "b.db")
    replay(b, b.sale("farm-a", 30))
    with serve(b, home) as http:
        code, out = verify(BASE, state, vkey, http=http)
    assert code == 1
    evidence_file = home / "state.json.evidence.json"
    assert f"evidence (fork) written to {evidence_file}" in out.text
    evidence = json.loads(evidence_file.read_text())
    assert check_evidence(evidence, vkey).startswith("fork")
    assert evidence["verified_checkpoint"] == a.ledger.latest_checkpoint()
    assert evidence["presented_checkpoint"] == b.ledger.latest_checkpoint()
    assert evidence["consistency_proof"]["new_size"] == 34
    # The state still holds the checkpoint verified before: the next run demands it again.
    with serve(b, home) as http:
        assert verify(BASE, state, vkey, http=http, evidence=home / "again.json")[0] == 1
    assert (home / "again.json").exists()


def test_usage_and_unavailable_exit_codes(a: Chain, home: Path) -> None:
    assert verify(BASE, None, "not-a-vkey")[0] == 2
    code, out = verify(str(home / "missing.jsonl"), None, None)
    assert code == 3
    assert "cannot read" in out.err[0]

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with httpx.Client(base_url=BASE, transport=httpx.MockTransport(unreachable)) as http:
        assert verify(BASE, None, a.ledger.verifier.vkey, http=http)[0] == 3
    (home / "state.json").write_text("{}")
    assert verify(a.url, home / "state.json", None)[0] == 3


def test_audit_command_on_an_export(a: Chain, home: Path) -> None:
    path = home / "ledger.jsonl"
    with path.open("wb") as out:
        export_ledger(a.ledger, out)
    vkey = a.ledger.verifier.vkey
    runner = CliRunner()
    done = runner.invoke(
        audit_command, [str(path), "--vkey", vkey, "--state", str(home / "s.json"), "--json"]
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["records_checked"] == 24


def test_the_auditor_replays_every_domains_rules(a: Chain, home: Path) -> None:
    """A ledger opened without the domain rules took a sale report the contract rules
    refuse; the auditor's run (export file, state file) replays those rules and names it."""
    malformed = a.statement("mill", Kind.SALE_REPORT, {"lot": "LOT-0"})
    appended = a.ledger.append([malformed], now=a.tick())
    bad = appended[0].receipt.seq
    path = home / "ledger.jsonl"
    with path.open("wb") as file:
        export_ledger(a.ledger, file)
    code, output = verify(str(path), home / "s.json", a.ledger.verifier.vkey, as_json=True)
    assert code == 1
    findings = json.loads(output.text)["findings"]
    assert [f["seq"] for f in findings] == [bad]
    assert "malformed-contract-statement: sale.report body refused" in findings[0]["message"]
    assert not (home / "s.json").exists()  # nothing saved to resume from


# -- split_record_page ---------------------------------------------------------------------------


def test_record_pages_are_split_exactly_even_when_a_body_mimics_them(a: Chain, home: Path) -> None:
    mimic = parse_json(
        '{"x": [{"a": 1, "seq": 5}, {"entry_hash": "' + "0" * 64 + '", "record": {"seq": 6}}],'
        ' "y": ",\\"seq\\":7},{\\"entry_hash\\":\\""}'
    )
    assert isinstance(mimic, dict)
    a.ledger.append([a.statement("mill", Kind.SALE_REPORT, mimic)], now=a.tick())
    with serve(a, home) as http:
        body = http.get("/v1/records", params={"start": 20, "limit": 5}).content
    assert b',"seq":5},{"entry_hash":"' in body
    items, following = split_record_page(body)
    assert following is None
    assert [seq for seq, _leaf, _entry in items] == [20, 21, 22, 23, 24]
    for seq, leaf, entry in items:
        stored = a.ledger.stored_records(seq, 1)[0]
        assert (leaf, entry) == (stored.leaf, stored.entry_hash)
    # Another layout (pretty-printed) takes the careful path and canonicalises.
    pretty = json.dumps(json.loads(body), indent=2).encode()
    assert split_record_page(pretty)[0] == items


# -- witness ---------------------------------------------------------------------------------


def witness(home: Path, vkey: str, http: httpx.Client, *, at: int = T) -> tuple[int, Output]:
    key_file = home / "witness.key"
    if not key_file.exists():
        key_file.write_text(WITNESS.skey + "\n")
    out = Output()
    code = run_witness(
        BASE,
        vkey,
        key_file,
        home / "witness.json",
        None,
        True,
        once=True,
        http=http,
        clock=lambda: float(at),
        echo=out.out.append,
        echo_err=out.err.append,
    )
    return code, out


def test_witness_cosigns_follows_and_refuses_an_equivocating_server(
    a: Chain, home: Path, tmp_path: Path
) -> None:
    vkey = a.ledger.verifier.vkey
    with serve(a, home, witnesses=[WITNESS.vkey]) as http:
        code, out = witness(home, vkey, http)
        assert code == 0, out.err
        assert out.json()["status"] == "cosigned"
        served = open_checkpoint(http.get("/v1/checkpoint").text, a.ledger.verifier)
        assert verify_cosignatures(served, [WITNESS.verifier()], required=1) == [WITNESS.name]
        assert witness(home, vkey, http)[1].json()["status"] == "up-to-date"
        replay(a, a.sale("farm-a", 10))
        code, out = witness(home, vkey, http, at=T + 60)
        assert (code, out.json()["status"], out.json()["size"]) == (0, "cosigned", 34)
        client = FairLedgerClient(BASE, http=http, operator_vkey=vkey)
        assert client.checkpoint(require_witnesses=[WITNESS.vkey], k=1).checkpoint.size == 34
    state_before = (home / "witness.json").read_bytes()

    b = twin(tmp_path / "b.db")
    replay(b, b.sale("mill", 40))  # another history, larger than the one cosigned
    with serve(b, home, witnesses=[WITNESS.vkey]) as http:
        code, out = witness(home, vkey, http, at=T + 120)
        assert code == 1
        assert out.json()["status"] == "refused"
        assert "witness.json.evidence.json" in str(out.json()["evidence_file"])
        assert http.get("/v1/checkpoint").text == b.ledger.latest_checkpoint()  # not cosigned
    evidence = json.loads((home / "witness.json.evidence.json").read_text())
    assert check_evidence(evidence, vkey).startswith("fork")
    assert evidence["verified_checkpoint"] == a.ledger.latest_checkpoint()
    assert (home / "witness.json").read_bytes() == state_before


def test_witness_refuses_a_rollback(a: Chain, home: Path, tmp_path: Path) -> None:
    vkey = a.ledger.verifier.vkey
    with serve(a, home, witnesses=[WITNESS.vkey]) as http:
        assert witness(home, vkey, http)[0] == 0
    older = twin(tmp_path / "older.db")  # the ledger as it was after the registrations
    with serve(older, home, witnesses=[WITNESS.vkey]) as http:
        code, out = witness(home, vkey, http, at=T + 1)
    assert code == 1
    assert out.json()["evidence_kind"] == "rollback"


@pytest.mark.parametrize(
    ("vkey_ok", "key_text", "code"),
    [(False, WITNESS.skey, 2), (True, None, 3), (True, "PRIVATE+KEY+nonsense", 2)],
)
def test_witness_usage_errors(
    a: Chain, home: Path, vkey_ok: bool, key_text: str | None, code: int
) -> None:
    key_file = home / "w.key"
    if key_text is not None:
        key_file.write_text(key_text + "\n")
    out = Output()
    assert (
        run_witness(
            BASE,
            a.ledger.verifier.vkey if vkey_ok else "not-a-vkey",
            key_file,
            home / "w.json",
            None,
            False,
            echo=out.out.append,
            echo_err=out.err.append,
        )
        == code
    )
    assert out.err


def test_witness_keygen_writes_a_private_key_once(home: Path) -> None:
    runner = CliRunner()
    key = home / "w.key"
    done = runner.invoke(witness_keygen_command, ["w.example.org", "--out", str(key)])
    assert done.exit_code == 0, done.output
    signer = CosignatureSigner.from_skey(key.read_text().strip())
    assert done.output.strip() == signer.vkey
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    again = runner.invoke(witness_keygen_command, ["w.example.org", "--out", str(key)])
    assert again.exit_code == 3


def test_commands_have_help() -> None:
    runner = CliRunner()
    for command in (witness_command, verify_receipt_command, audit_command):
        done = runner.invoke(command, ["--help"])
        assert done.exit_code == 0
        assert "Usage" in done.output


# -- receipts --------------------------------------------------------------------------------


@pytest.fixture
def receipt(sqlite_chain: Chain, home: Path) -> tuple[Chain, Path, Receipt]:
    replay(sqlite_chain, sqlite_chain.sale("mill", 10))
    result = sqlite_chain.ledger.submit(sqlite_chain.sale("farm-a")[0], now=sqlite_chain.tick())
    path = home / "receipt.json"
    path.write_text(json.dumps(result.receipt.to_json()))
    replay(sqlite_chain, sqlite_chain.sale("mill", 10))
    return sqlite_chain, path, result.receipt


def check(
    path: Path,
    vkey: str,
    *,
    http: httpx.Client | None = None,
    export: Path | None = None,
) -> tuple[int, Output]:
    out = Output()
    code = run_verify_receipt(
        path,
        vkey,
        BASE if export is None else None,
        export,
        None,
        True,
        http=http,
        echo=out.out.append,
        echo_err=out.err.append,
    )
    return code, out


def test_receipt_holds_against_a_newer_checkpoint(
    receipt: tuple[Chain, Path, Receipt], home: Path
) -> None:
    chain, path, issued = receipt
    vkey = chain.ledger.verifier.vkey
    with serve(chain, home) as http:
        code, out = check(path, vkey, http=http)
    assert code == 0, out.err
    report = out.json()
    assert report["ok"] is True
    assert (report["seq"], report["newer_checkpoint_size"]) == (issued.seq, 25)
    export = home / "ledger.jsonl"
    with export.open("wb") as handle:
        export_ledger(chain.ledger, handle)
    assert check(path, vkey, export=export)[0] == 0
    assert not (home / "receipt.json.evidence.json").exists()


def test_missing_record_produces_omission_evidence(
    receipt: tuple[Chain, Path, Receipt], home: Path
) -> None:
    chain, path, issued = receipt
    vkey = chain.ledger.verifier.vkey
    with raw(chain) as conn:
        conn.execute("DELETE FROM records WHERE seq = ?", (issued.seq,))
    with serve(chain, home) as http:
        code, out = check(path, vkey, http=http)
    assert code == 1
    assert out.json()["evidence_kind"] == "omission"
    evidence = json.loads((home / "receipt.json.evidence.json").read_text())
    assert evidence["receipt"] == issued.to_json()
    assert evidence["record"]["entry_hash"] is None
    assert evidence["presented_checkpoint"] == chain.ledger.latest_checkpoint()
    assert check_evidence(evidence, vkey).startswith("omission")


def test_replaced_record_produces_omission_evidence(
    receipt: tuple[Chain, Path, Receipt], home: Path
) -> None:
    chain, path, issued = receipt
    other = chain.ledger.stored_records(issued.seq + 1, 1)[0]
    with raw(chain) as conn:
        conn.execute(
            "UPDATE records SET leaf = ?, entry_hash = ? WHERE seq = ?",
            (other.leaf, other.entry_hash, issued.seq),
        )
    with serve(chain, home) as http:
        code, out = check(path, chain.ledger.verifier.vkey, http=http)
    assert code == 1
    evidence = out.json()["evidence"]
    assert isinstance(evidence, dict)
    assert evidence["kind"] == "omission"
    assert evidence["record"]["entry_hash"] == other.entry_hash.hex()
    assert "another record" in check_evidence(evidence, chain.ledger.verifier.vkey)


def test_receipt_against_a_forked_history(
    receipt: tuple[Chain, Path, Receipt], home: Path, tmp_path: Path
) -> None:
    chain, path, _issued = receipt
    b = twin(tmp_path / "b.db")  # never saw the receipt's record
    replay(b, b.sale("mill", 30))
    with serve(b, home) as http:
        code, out = check(path, chain.ledger.verifier.vkey, http=http)
    assert code == 1
    evidence = out.json()["evidence"]
    assert isinstance(evidence, dict)
    assert evidence["kind"] == "omission"
    assert evidence["consistency_proof"]["error"]
    types = {f["type"] for f in evidence["findings"]}
    assert {"fork-detected", "inclusion-proof-invalid"} <= types


def test_export_missing_the_record_produces_omission_evidence(
    receipt: tuple[Chain, Path, Receipt], home: Path
) -> None:
    chain, path, issued = receipt
    export = home / "ledger.jsonl"
    with export.open("wb") as handle:
        export_ledger(chain.ledger, handle)
    lines = export.read_bytes().split(b"\n")
    export.write_bytes(
        b"\n".join(line for line in lines if not line.endswith(b',"seq":%d}' % issued.seq))
    )
    code, out = check(path, chain.ledger.verifier.vkey, export=export)
    assert code == 1
    assert out.json()["evidence_kind"] == "omission"
    evidence = json.loads((home / "receipt.json.evidence.json").read_text())
    assert check_evidence(evidence, chain.ledger.verifier.vkey).startswith("omission")


def test_a_bad_receipt_proves_nothing(receipt: tuple[Chain, Path, Receipt], home: Path) -> None:
    chain, path, issued = receipt
    doc = issued.to_json()
    doc["entry_hash"] = "00" * 32
    path.write_text(json.dumps(doc))
    with serve(chain, home) as http:
        code, out = check(path, chain.ledger.verifier.vkey, http=http)
    assert code == 1
    assert "inclusion proof" in out.err[0]
    assert not (home / "receipt.json.evidence.json").exists()


def test_receipt_usage(receipt: tuple[Chain, Path, Receipt], home: Path) -> None:
    chain, path, _issued = receipt
    vkey = chain.ledger.verifier.vkey
    runner = CliRunner()
    both = runner.invoke(
        verify_receipt_command, [str(path), "--vkey", vkey, "--url", BASE, "--export", "x"]
    )
    assert both.exit_code == 2
    export = home / "ledger.jsonl"
    with export.open("wb") as handle:
        export_ledger(chain.ledger, handle)
    done = runner.invoke(
        verify_receipt_command, [str(path), "--vkey", vkey, "--export", str(export)]
    )
    assert done.exit_code == 0, done.output
    assert "OK: the record is in the newer tree" in done.output

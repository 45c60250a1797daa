"""The auditor's, the witness's and the receipt holder's commands (DESIGN §7, §8).

* ``run_verify`` backs ``fairledger verify SOURCE`` and ``scripts/verify_ledger.py``: SOURCE is
  a server URL (``http(s)://``), a database URL (``sqlite:///``, ``postgresql://``) or an export
  file. With ``--state`` it resumes from the last verified checkpoint (``ledger.auditor_state``)
  and verifies only what is new plus a consistency proof; whatever fails is written as evidence
  (``ledger.evidence``).
* ``witness`` follows a ledger and cosigns each checkpoint consistent with the last one it
  cosigned (``ledger.witness``); ``witness-keygen`` makes its key.
* ``verify-receipt`` checks a receipt against a newer checkpoint of a server or an export and
  writes evidence of an omission.

Exit codes as ``api.cli``: 0 everything holds, 1 a check failed, 2 usage, 3 a file, database or
server could not be used. The clock and randomness are read here and passed down.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import click
import httpx

from api import wiring
from api.client import ApiError, FairLedgerClient
from ledger.auditor_state import SALT_SIZE, StateFile
from ledger.canonical import JSONObject, parse_json
from ledger.errors import (
    ForkError,
    LedgerError,
    MalformedError,
    StorageError,
)
from ledger.evidence import write_evidence
from ledger.keys import PrivateKey
from ledger.note import (
    Checkpoint,
    CosignatureSigner,
    Ed25519Verifier,
    NoteSignature,
    add_signature_lines,
    open_checkpoint,
    parse_note,
)
from ledger.receipt import Receipt
from ledger.verify import (
    IncrementalAudit,
    ReceiptCheck,
    ReceiptMaterial,
    RecordSource,
    audit_incremental,
    check_receipt,
    export_receipt_material,
    open_database_source,
    open_export_source,
)
from ledger.witness import Witness, WitnessStateFile, refusal_evidence

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3

Echo = Callable[[str], None]


def _echo(line: str) -> None:
    click.echo(line)


def _dump(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)


def source_kind(source: str) -> str:
    """``url`` for a server, ``database`` for a SQLAlchemy URL, ``export`` for a file."""
    if source.startswith(("http://", "https://")):
        return "url"
    if "://" in source:
        return "database"
    return "export"


def _exit_code(exc: LedgerError) -> int:
    if isinstance(exc, ApiError):
        return EXIT_UNAVAILABLE if exc.status == 0 or exc.status >= 500 else EXIT_FAILED
    if isinstance(exc, StorageError):
        return EXIT_UNAVAILABLE
    return EXIT_FAILED


def _fail(echo_err: Echo, message: str, code: int) -> int:
    echo_err(f"error: {message}")
    return code


def _stderr(line: str) -> None:
    click.echo(line, err=True)


def _client(url: str, http: httpx.Client | None, vkey: str | None = None) -> FairLedgerClient:
    return FairLedgerClient(url, http=http, operator_vkey=vkey)


# -- verify ----------------------------------------------------------------------------------


def run_verify(
    source: str,
    state_file: Path | None,
    vkey: str | None,
    evidence: Path | None,
    as_json: bool,
    *,
    http: httpx.Client | None = None,
    nonce_salt: bytes | None = None,
    parallel: bool | None = None,
    echo: Echo = _echo,
    echo_err: Echo = _stderr,
) -> int:
    """Audit SOURCE (server URL, database URL or export file), incrementally from the
    ``state_file`` when it holds this ledger, and return the exit code (0 only when
    everything holds). Evidence of a failure goes to ``evidence`` (default: beside the
    state file). ``http`` replaces the network (tests); ``nonce_salt`` keys a new state's
    replay digests (default: random)."""
    if vkey is not None:
        try:
            Ed25519Verifier.from_vkey(vkey)
        except LedgerError as exc:
            return _fail(echo_err, f"--vkey: {exc.message}", EXIT_USAGE)
    store = StateFile(state_file) if state_file is not None else None
    kind = source_kind(source)
    try:
        trusted = vkey
        notes: list[str] = []
        if trusted is None and store is not None:
            held = store.vkeys()
            if len(held) > 1:
                return _fail(
                    echo_err,
                    f"{state_file} holds {len(held)} ledgers: pass --vkey to say which",
                    EXIT_USAGE,
                )
            trusted = held[0] if held else None
        saved = store.load(trusted) if store is not None and trusted is not None else None
        if trusted is None:
            notes.append(
                "no --vkey: the operator key named by the genesis record was trusted on first "
                "use; pass --vkey to pin the key you were given"
            )
        start = saved.size if saved is not None else 0
        with ExitStack() as stack:
            if kind == "url":
                client = stack.enter_context(_client(source, http, trusted))
                record_source: RecordSource = client.audit_source(
                    start, client.checkpoint_text(), prefetch=http is None
                )
            elif kind == "database":
                record_source = open_database_source(source, start=start)
            else:
                record_source = open_export_source(Path(source), start=start)
            stack.callback(record_source.close)
            result = audit_incremental(
                record_source,
                operator_vkey=trusted,
                state=saved,
                nonce_salt=nonce_salt or secrets.token_bytes(SALT_SIZE),
                validators=wiring.validators(),
                parallel=parallel,
            )
        result.report.notes[:0] = notes
        saved_state = False
        advanced = result.state is not None and (saved is None or result.state.size != saved.size)
        if store is not None and result.state is not None and advanced:
            store.save(result.state)
            saved_state = True
        evidence_path = evidence
        if evidence_path is None and state_file is not None:
            evidence_path = state_file.with_name(state_file.name + ".evidence.json")
        written = None
        if result.evidence is not None and evidence_path is not None:
            write_evidence(evidence_path, result.evidence)
            written = evidence_path
    except LedgerError as exc:
        return _fail(echo_err, exc.message, _exit_code(exc))
    _print_audit(echo, result, source, state_file if saved_state else None, written, as_json)
    return EXIT_OK if result.report.ok else EXIT_FAILED


def _print_audit(
    echo: Echo,
    result: IncrementalAudit,
    source: str,
    saved_to: Path | None,
    evidence_file: Path | None,
    as_json: bool,
) -> None:
    report = result.report
    if as_json:
        data = report.to_json()
        data["source"] = source
        data["state_saved"] = str(saved_to) if saved_to is not None else None
        data["evidence_file"] = str(evidence_file) if evidence_file is not None else None
        data["evidence"] = result.evidence
        echo(_dump(data))
        return
    new = report.records_checked
    lines = [f"ledger {report.origin} at {source}"]
    if report.start:
        lines.append(
            f"resumed from the verified checkpoint of size {report.start}: "
            f"{new} new record(s) checked, up to size {report.size}"
        )
    else:
        lines.append(f"{new} record(s) checked, size {report.size}")
    lines.append(
        f"{report.checkpoints_checked} new checkpoint(s) checked; root {report.root.hex()}"
    )
    lines.extend(f"note: {n}" for n in report.notes)
    if report.ok:
        lines.append(
            "OK: every record, link, signature, key, rule, tree node and checkpoint holds"
            + (", and the new checkpoint extends the verified one" if report.start else "")
        )
        if saved_to is not None:
            lines.append(f"state saved to {saved_to}")
    else:
        lines.append(f"FAILED: {len(report.findings)} finding(s)")
        lines.extend(f"  [{f.code}] {f.message}" for f in report.findings[:50])
        if len(report.findings) > 50:
            lines.append(f"  ... and {len(report.findings) - 50} more (use --json)")
        if result.evidence is not None:
            where = f" written to {evidence_file}" if evidence_file else " (pass --evidence FILE)"
            lines.append(f"evidence ({result.evidence['kind']}){where}")
    echo("\n".join(lines))


# -- witness ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WitnessStep:
    """One round of the witness: ``cosigned``, ``up-to-date`` or ``refused``."""

    status: str
    size: int
    cosignature: str | None
    evidence: JSONObject | None
    message: str

    def to_json(self) -> dict[str, object]:
        return {
            "status": self.status,
            "size": self.size,
            "cosignature": self.cosignature,
            "message": self.message,
            "evidence_kind": None if self.evidence is None else self.evidence["kind"],
        }


def witness_once(
    client: FairLedgerClient,
    witness: Witness,
    state: WitnessStateFile,
    *,
    timestamp: int,
) -> WitnessStep:
    """Fetch the latest checkpoint; cosign it if it extends the last one cosigned (state saved
    before the cosignature is sent), or refuse with evidence. Raises ``ApiError`` when the
    server cannot be used and ``VerificationError`` for a checkpoint the operator did not
    sign."""
    operator = witness.operator
    note = client.checkpoint_text()
    signed = open_checkpoint(note, operator)
    new = signed.checkpoint
    previous = state.load(operator.vkey)
    if previous is not None:
        old = previous.signed.checkpoint
        if (old.size, old.root) == (new.size, new.root):
            mine = NoteSignature.from_line(previous.cosignature)
            if mine not in signed.note.signatures:  # the ledger lost it: send it again
                client.submit_cosignature(add_signature_lines(previous.checkpoint, [mine]))
            return WitnessStep(
                "up-to-date", new.size, previous.cosignature.rstrip("\n"), None, "nothing new"
            )
    proof: list[bytes] = []
    if previous is not None and new.size > previous.size:
        proof = client.consistency_proof(previous.size, new.size)
    try:
        cosigned = witness.cosign(previous, note, proof, timestamp=timestamp)
    except ForkError as exc:
        if previous is None:  # pragma: no cover - a first checkpoint cannot fork
            raise
        evidence = refusal_evidence(operator, previous, signed.text, proof, exc)
        return WitnessStep("refused", new.size, None, evidence, exc.message)
    state.save(cosigned.state)
    client.submit_cosignature(cosigned.note)
    line = cosigned.line.line().rstrip("\n")
    return WitnessStep("cosigned", new.size, line, None, f"cosigned size {new.size}")


def _load_witness_key(path: Path) -> CosignatureSigner:
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise StorageError(f"cannot read witness key {path}: {exc.strerror}") from exc
    return CosignatureSigner.from_skey(text)


@click.command("witness")
@click.argument("url")
@click.option("--vkey", required=True, help="The operator vkey of the ledger to witness.")
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The witness's cosignature/v1 signing key (skey text, from `witness-keygen`).",
)
@click.option(
    "--state",
    "state_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the witness remembers the last checkpoint it cosigned (written atomically).",
)
@click.option(
    "--evidence",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write evidence when the ledger forks or rolls back "
    "[default: STATE.evidence.json].",
)
@click.option("--once", is_flag=True, help="Check and cosign once, then exit.")
@click.option(
    "--interval",
    default=60,
    show_default=True,
    type=click.IntRange(1),
    help="Seconds between polls.",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def witness_command(
    url: str,
    vkey: str,
    key_file: Path,
    state_file: Path,
    evidence: Path | None,
    once: bool,
    interval: int,
    as_json: bool,
) -> None:
    """Follow the ledger at URL and cosign each checkpoint consistent with the last one."""
    sys.exit(
        run_witness(
            url, vkey, key_file, state_file, evidence, as_json, once=once, interval=interval
        )
    )


def run_witness(
    url: str,
    vkey: str,
    key_file: Path,
    state_file: Path,
    evidence: Path | None,
    as_json: bool,
    *,
    once: bool = True,
    interval: int = 60,
    http: httpx.Client | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    echo: Echo = _echo,
    echo_err: Echo = _stderr,
) -> int:
    """The witness loop (one round with ``once``); returns the exit code: 1 when it refused
    (evidence written), 3 when the server or a file cannot be used (with ``once``)."""
    try:
        operator = Ed25519Verifier.from_vkey(vkey)
        witness = Witness(_load_witness_key(key_file), operator)
    except StorageError as exc:
        return _fail(echo_err, exc.message, EXIT_UNAVAILABLE)
    except LedgerError as exc:
        return _fail(echo_err, exc.message, EXIT_USAGE)
    state = WitnessStateFile(state_file)
    evidence_path = evidence or state_file.with_name(state_file.name + ".evidence.json")
    with _client(url, http, vkey) as client:
        while True:
            try:
                step = witness_once(client, witness, state, timestamp=int(clock()))
            except LedgerError as exc:
                if once:
                    return _fail(echo_err, exc.message, _exit_code(exc))
                echo_err(f"warning: {exc.message}")
            else:
                if step.evidence is not None:
                    try:
                        write_evidence(evidence_path, step.evidence)
                    except StorageError as exc:
                        echo_err(f"error: {exc.message}")
                data = step.to_json()
                if step.evidence is not None:
                    data["evidence_file"] = str(evidence_path)
                human = f"{step.status}: {step.message}"
                if step.evidence is not None:
                    human += f"\nREFUSED to cosign; evidence written to {evidence_path}"
                echo(_dump(data) if as_json else human)
                if step.status == "refused":
                    return EXIT_FAILED
            if once:
                return EXIT_OK
            sleep(interval)


@click.command("witness-keygen")
@click.argument("name")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the secret key (created with mode 0600; never overwritten).",
)
def witness_keygen_command(name: str, out: Path) -> None:
    """Create a cosignature/v1 witness key named NAME; print its vkey for ledger operators."""
    try:
        signer = CosignatureSigner(name, PrivateKey.generate())
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except LedgerError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(EXIT_USAGE)
    except OSError as exc:
        click.echo(f"error: cannot create {out}: {exc.strerror}", err=True)
        sys.exit(EXIT_UNAVAILABLE)
    with os.fdopen(fd, "w") as handle:
        handle.write(signer.skey + "\n")
    click.echo(signer.vkey)


# -- receipts --------------------------------------------------------------------------------


def url_receipt_material(client: FairLedgerClient, receipt: Receipt) -> ReceiptMaterial:
    """What a server says about ``receipt``'s record under its latest checkpoint. Raises
    ``ApiError`` only when the server cannot be used at all (unreachable, 5xx)."""
    note = client.checkpoint_text()
    try:
        size = Checkpoint.from_body(parse_note(note).body).size
    except LedgerError as exc:
        raise MalformedError(f"the server's checkpoint does not parse: {exc.message}") from exc
    old_size = Checkpoint.from_body(parse_note(receipt.checkpoint).body).size
    errors: dict[str, str] = {}

    def ask(name: str, call: Callable[[], list[bytes]]) -> list[bytes] | None:
        # Unreachable or temporarily unavailable (503) stops the check; any other refusal
        # or failure to prove is itself a finding.
        try:
            return call()
        except ApiError as exc:
            if exc.status in (0, 503):
                raise
            errors[name] = f"HTTP {exc.status}: {exc.message}"
        except MalformedError as exc:
            errors[name] = exc.message
        return None

    inclusion = (
        ask("inclusion", lambda: client.inclusion_proof(receipt.seq, size))
        if receipt.seq < size
        else None
    )
    if receipt.seq >= size:
        errors["inclusion"] = f"the newer checkpoint covers {size} records"
    consistency = (
        ask("consistency", lambda: client.consistency_proof(old_size, size))
        if old_size <= size
        else None
    )
    served: bytes | None = None
    try:
        served = client.served_entry_hash(receipt.seq)
    except ApiError as exc:
        if exc.status in (0, 503):
            raise
        errors["record"] = f"HTTP {exc.status}: {exc.message}"
    except MalformedError as exc:
        errors["record"] = exc.message
    return ReceiptMaterial(note, inclusion, consistency, served, errors)


def run_verify_receipt(
    receipt_file: Path,
    vkey: str,
    url: str | None,
    export: Path | None,
    evidence: Path | None,
    as_json: bool,
    *,
    http: httpx.Client | None = None,
    echo: Echo = _echo,
    echo_err: Echo = _stderr,
) -> int:
    """Check a receipt against the newer checkpoint of a server (``url``) or an export file;
    on any failure write evidence (default: ``RECEIPT.evidence.json``) and return 1."""
    if (url is None) == (export is None):
        return _fail(echo_err, "give exactly one of --url and --export", EXIT_USAGE)
    try:
        operator = Ed25519Verifier.from_vkey(vkey)
    except LedgerError as exc:
        return _fail(echo_err, f"--vkey: {exc.message}", EXIT_USAGE)
    try:
        try:
            receipt = Receipt.from_json(parse_json(receipt_file.read_bytes()))
        except OSError as exc:
            raise StorageError(f"cannot read {receipt_file}: {exc.strerror}") from exc
        if url is not None:
            with _client(url, http, vkey) as client:
                material = url_receipt_material(client, receipt)
        else:
            assert export is not None
            material = export_receipt_material(export, receipt)
        check = check_receipt(receipt, operator, material)
        written = None
        if check.evidence is not None:
            written = evidence or receipt_file.with_name(receipt_file.name + ".evidence.json")
            write_evidence(written, check.evidence)
    except LedgerError as exc:
        return _fail(echo_err, exc.message, _exit_code(exc))
    _print_receipt(echo, check, written, as_json)
    return EXIT_OK if check.ok else EXIT_FAILED


def _print_receipt(echo: Echo, check: ReceiptCheck, written: Path | None, as_json: bool) -> None:
    if as_json:
        data = check.to_json()
        data["evidence_file"] = str(written) if written is not None else None
        data["evidence"] = check.evidence
        echo(_dump(data))
        return
    head = (
        f"receipt for record {check.receipt.seq} (entry {check.receipt.entry_hash.hex()[:16]}…), "
        f"checkpoint size {check.receipt_size}; newer checkpoint size {check.newer_size}"
    )
    if check.ok:
        echo(
            head + "\nOK: the record is in the newer tree, the ledger serves it, and the newer "
            "checkpoint extends the receipt's"
        )
        return
    lines = [head, f"FAILED: {len(check.findings)} finding(s)"]
    lines.extend(f"  [{f.code}] {f.message}" for f in check.findings)
    if check.evidence is not None:
        lines.append(f"evidence ({check.evidence['kind']}) written to {written}")
    echo("\n".join(lines))


@click.command("verify-receipt")
@click.argument("receipt_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--vkey", required=True, help="The operator vkey you trust.")
@click.option("--url", help="Check against this server's latest checkpoint.")
@click.option(
    "--export",
    "export_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Check against this export file's checkpoint.",
)
@click.option(
    "--evidence",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write evidence [default: RECEIPT_FILE.evidence.json].",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def verify_receipt_command(
    receipt_file: Path,
    vkey: str,
    url: str | None,
    export_file: Path | None,
    evidence: Path | None,
    as_json: bool,
) -> None:
    """Check RECEIPT_FILE against a newer checkpoint; evidence if the record was omitted."""
    sys.exit(run_verify_receipt(receipt_file, vkey, url, export_file, evidence, as_json))


@click.command("audit")
@click.argument("source")
@click.option("--vkey", help="The operator vkey you trust (else the state file's, else TOFU).")
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="State file: resume from the last verified checkpoint, save the new one.",
)
@click.option(
    "--evidence",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write evidence of a failure [default: STATE.evidence.json].",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def audit_command(
    source: str, vkey: str | None, state_file: Path | None, evidence: Path | None, as_json: bool
) -> None:
    """Audit SOURCE (a server URL, a database URL or an export file), incrementally."""
    sys.exit(run_verify(source, state_file, vkey, evidence, as_json))


__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "WitnessStep",
    "audit_command",
    "run_verify",
    "run_verify_receipt",
    "run_witness",
    "source_kind",
    "url_receipt_material",
    "verify_receipt_command",
    "witness_command",
    "witness_keygen_command",
    "witness_once",
]

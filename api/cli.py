"""The ``fairledger`` command line.

Exit codes scripts can rely on:

* 0 — success (for ``verify``: everything checked out);
* 1 — the ledger or input failed a check (verification findings, a rejected statement);
* 2 — usage error (bad flags or arguments);
* 3 — the database or a file could not be used (missing, locked, unavailable).

Human-readable output by default; ``--json`` prints one JSON document for scripts.
The clock is read here and passed down as ``now``.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, NoReturn

import click

from api import wiring
from api.settings import Settings, load_settings
from ledger.canonical import JSONObject
from ledger.errors import (
    LedgerError,
    MalformedError,
    RejectedStatementError,
    StorageError,
    VerificationError,
)
from ledger.export import export_ledger
from ledger.keys import PrivateKey, PublicKey, load_private_key, save_private_key
from ledger.log import AppendResult, Ledger
from ledger.state import REGISTRABLE_ROLES, Kind
from ledger.statement import (
    PARTICIPANT_ID,
    Statement,
    decode_signature,
    possession_message,
    prove_possession,
    sign_statement,
)
from ledger.verify import AuditReport, audit_database, audit_export

EXIT_FAILED = 1
EXIT_UNAVAILABLE = 3


def _now() -> datetime:
    return datetime.now(UTC)


def _emit(as_json: bool, data: object, human: str) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        click.echo(human)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn library errors into a one-line message and a stable exit code."""
    try:
        yield
    except StorageError as exc:
        _fail(exc.message, EXIT_UNAVAILABLE)
    except (RejectedStatementError, MalformedError, VerificationError) as exc:
        _fail(exc.message, EXIT_FAILED)
    except LedgerError as exc:
        _fail(exc.message, EXIT_FAILED)


class _Context:
    def __init__(self, settings: Settings, as_json: bool) -> None:
        self.settings = settings
        self.as_json = as_json

    def operator_key(self) -> PrivateKey:
        return load_private_key(self.settings.key_path("operator"), self.settings.passphrase_bytes)

    def open_ledger(self, *, write: bool) -> Ledger:
        key = self.operator_key() if write else None
        return wiring.open_ledger(self.settings.url, operator_key=key)


pass_ctx = click.make_pass_decorator(_Context)


class _LazyGroup(click.Group):
    """Commands whose modules are heavy (the web server) are imported only when used."""

    lazy: ClassVar[dict[str, str]] = {
        "serve": "api.serve:serve",
        "settle": "api.wiring:settle_command",
        "audit": "api.settle_cli:audit",
        "witness": "api.audit_cli:witness_command",
        "witness-keygen": "api.audit_cli:witness_keygen_command",
        "verify-receipt": "api.audit_cli:verify_receipt_command",
        "verify-lot": "api.bundle_cli:verify_lot_command",
        "trace": "api.trace_cli:trace_command",
        "recall": "api.trace_cli:recall_command",
        "import-epcis": "api.trace_cli:import_epcis_command",
        "submit": "api.submit_cli:submit_command",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, attribute = target.split(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="FAIRLEDGER_HOME",
    help="Directory for keys and the default SQLite database [env FAIRLEDGER_HOME; "
    "default ./.fairledger].",
)
@click.option(
    "--database-url",
    envvar="FAIRLEDGER_DATABASE_URL",
    help="SQLAlchemy URL (sqlite:///path or postgresql://...) [env FAIRLEDGER_DATABASE_URL].",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.version_option(package_name="fairledger")
@click.pass_context
def main(ctx: click.Context, home: Path | None, database_url: str | None, as_json: bool) -> None:
    """FairLedger: a signed, hash-chained, append-only ledger for supply chains."""
    ctx.obj = _Context(load_settings(home, database_url), as_json)


@main.command()
@click.option("--origin", required=True, help="Ledger origin, e.g. ledger.example.coop/grain.")
@click.option(
    "--operator",
    "operator_id",
    default="operator",
    show_default=True,
    help="Participant id of the operator.",
)
@pass_ctx
def init(ctx: _Context, origin: str, operator_id: str) -> None:
    """Create the operator key and the genesis record; print the operator's vkey."""
    settings = ctx.settings
    key_path = settings.key_path("operator")
    with _errors():
        if key_path.exists():
            key = load_private_key(key_path, settings.passphrase_bytes)
        else:
            key = PrivateKey.generate()
            save_private_key(key_path, key, settings.passphrase_bytes)
        ledger = wiring.create_ledger(
            settings.url, origin=origin, operator_id=operator_id, operator_key=key, now=_now()
        )
        vkey = ledger.verifier.vkey
        ledger.close()
    _emit(
        ctx.as_json,
        {
            "origin": origin,
            "operator": operator_id,
            "vkey": vkey,
            "database": settings.url,
            "key_file": str(key_path),
        },
        f"Created ledger {origin} in {settings.url}\n"
        f"Operator key: {key_path}\n"
        f"Operator vkey (give this to auditors and buyers):\n  {vkey}",
    )


@main.command()
@click.argument("participant")
@click.option(
    "--ledger",
    "origin",
    help="Also print a registration request for this ledger "
    "origin (public key + proof of possession) to hand to the operator.",
)
@pass_ctx
def keygen(ctx: _Context, participant: str, origin: str | None) -> None:
    """Create an Ed25519 key for PARTICIPANT in $FAIRLEDGER_HOME/keys (PKCS#8 PEM)."""
    if not PARTICIPANT_ID.fullmatch(participant):
        raise click.BadParameter("must match [a-z0-9][a-z0-9._-]{1,62}", param_hint="PARTICIPANT")
    path = ctx.settings.key_path(participant)
    with _errors():
        key = PrivateKey.generate()
        save_private_key(path, key, ctx.settings.passphrase_bytes)
    public = key.public_key
    data: dict[str, Any] = {
        "participant": participant,
        "key_file": str(path),
        "public_key": public.b64,
        "key_id": public.key_id,
    }
    human = f"Wrote {path}\npublic key: {public.b64}\nkey id:     {public.key_id}"
    if origin:
        data["request"] = {
            "participant": participant,
            "public_key": public.b64,
            "proof_of_possession": prove_possession(origin, participant, key),
        }
        human += "\nregistration request:\n  " + json.dumps(data["request"])
    _emit(ctx.as_json, data, human)


@main.command()
@click.argument("participant")
@click.option("--name", "display_name", required=True, help="Display name of the participant.")
@click.option("--roles", required=True, help="Comma-separated: supplier, buyer, auditor.")
@click.option("--gln", help="GS1 Global Location Number (13 digits).")
@click.option(
    "--request",
    "request_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Registration request JSON from `keygen --ledger` (public key + proof of "
    "possession). Without it, the participant's key file in this home is used.",
)
@pass_ctx
def register(
    ctx: _Context,
    participant: str,
    display_name: str,
    roles: str,
    gln: str | None,
    request_file: Path | None,
) -> None:
    """Register PARTICIPANT (operator-signed, with the new key's proof of possession)."""
    role_list = sorted({r.strip() for r in roles.split(",") if r.strip()})
    unknown = set(role_list) - REGISTRABLE_ROLES
    if not role_list or unknown:
        raise click.BadParameter(
            f"roles must be from {', '.join(sorted(REGISTRABLE_ROLES))}", param_hint="--roles"
        )
    with _errors():
        ledger = ctx.open_ledger(write=True)
        try:
            public, pop = _registration_proof(ctx, ledger.origin, participant, request_file)
            body: JSONObject = {
                "participant": participant,
                "display_name": display_name,
                "roles": list(role_list),
                "public_key": public.b64,
                "proof_of_possession": pop,
            }
            if gln:
                body["gln"] = gln
            result = _submit_as_operator(ctx, ledger, Kind.REGISTER, body)
        finally:
            ledger.close()
    _emit(
        ctx.as_json,
        result.receipt.to_json(),
        f"Registered {participant} ({', '.join(role_list)}) at seq {result.receipt.seq}",
    )


def _registration_proof(
    ctx: _Context, origin: str, participant: str, request_file: Path | None
) -> tuple[PublicKey, str]:
    if request_file is None:
        key = load_private_key(ctx.settings.key_path(participant), ctx.settings.passphrase_bytes)
        return key.public_key, prove_possession(origin, participant, key)
    try:
        request = json.loads(request_file.read_text())
    except (OSError, ValueError) as exc:
        raise MalformedError(f"cannot read registration request {request_file}: {exc}") from exc
    if not isinstance(request, dict) or request.get("participant") != participant:
        raise MalformedError(f"{request_file} is not a registration request for {participant}")
    public = PublicKey.from_base64(str(request.get("public_key")))
    pop = str(request.get("proof_of_possession"))
    if not public.verify(
        decode_signature(pop, field="proof_of_possession"),
        possession_message(origin, participant, public),
    ):
        raise MalformedError(f"{request_file}: proof of possession is not valid for {origin}")
    return public, pop


def _submit_as_operator(ctx: _Context, ledger: Ledger, kind: str, body: JSONObject) -> AppendResult:
    key = ctx.operator_key()
    now = _now()
    statement = Statement.build(
        ledger=ledger.origin,
        kind=kind,
        author=ledger.operator_id,
        key=key.public_key.key_id,
        nonce=f"op-{now.strftime('%Y%m%dT%H%M%S%f')}",
        issued_at=now,
        body=body,
    )
    return ledger.submit(sign_statement(statement, key), now=now)


@main.command()
@click.option(
    "--export",
    "export_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Verify an export file (from `fairledger export`) instead of the database.",
)
@click.option(
    "--vkey",
    help="The operator vkey you trust (as printed by `fairledger init`). "
    "Without it, the key named by the genesis record is trusted on first use.",
)
@click.option("--serial", is_flag=True, help="Verify in this process only (no worker processes).")
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Auditor state file: resume from the last verified checkpoint (demanding a "
    "consistency proof from it) and save the new one.",
)
@click.option(
    "--evidence",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write evidence of a fork, rollback or omission.",
)
@click.argument("source", required=False)
@pass_ctx
def verify(
    ctx: _Context,
    export_file: Path | None,
    vkey: str | None,
    serial: bool,
    state_file: Path | None,
    evidence: Path | None,
    source: str | None,
) -> None:
    """Re-check every record, link, signature, key, tree node and checkpoint.

    SOURCE is a server URL (https://...), a database URL or an export file; without it, the
    configured database. With --state (or a SOURCE), the auditor resumes incrementally from
    its saved checkpoint and writes evidence of a rewritten, truncated or forked history.
    Exits 0 only when everything holds; 1 when anything fails, with each finding's seq.
    """
    if source is not None or state_file is not None:
        from api.audit_cli import run_verify

        target = source or (str(export_file) if export_file else ctx.settings.url)
        sys.exit(
            run_verify(
                target, state_file, vkey, evidence, ctx.as_json, parallel=False if serial else None
            )
        )
    progress = _progress_bar(ctx, "verifying")
    with _errors(), progress as tick:
        parallel = False if serial else None
        if export_file is not None:
            report = audit_export(
                export_file,
                operator_vkey=vkey,
                validators=wiring.validators(),
                parallel=parallel,
                progress=tick,
            )
        else:
            report = audit_database(
                ctx.settings.url,
                operator_vkey=vkey,
                validators=wiring.validators(),
                parallel=parallel,
                progress=tick,
            )
    _print_report(ctx, report)
    sys.exit(0 if report.ok else EXIT_FAILED)


def _print_report(ctx: _Context, report: AuditReport) -> None:
    lines = [
        f"ledger {report.origin}: {report.records_checked} records, "
        f"{report.checkpoints_checked} checkpoints checked",
        f"root {report.root.hex()}",
    ]
    if report.ok:
        lines.append("OK: every record, link, signature, key, tree node and checkpoint holds")
    else:
        lines.append(f"FAILED: {len(report.findings)} finding(s)")
        lines.extend(f"  [{f.code}] {f.message}" for f in report.findings[:50])
        if len(report.findings) > 50:
            lines.append(f"  ... and {len(report.findings) - 50} more (use --json)")
    _emit(ctx.as_json, report.to_json(), "\n".join(lines))


@contextmanager
def _progress_bar(ctx: _Context, label: str) -> Iterator[Callable[[int, int], None] | None]:
    if ctx.as_json or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=1, label=label, file=sys.stderr) as bar:
        state = {"done": 0}

        def tick(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - state["done"])
            state["done"] = done

        yield tick


@main.command()
@pass_ctx
def rebuild(ctx: _Context) -> None:
    """Recreate every projection table from the records alone."""
    with _errors(), _progress_bar(ctx, "rebuilding") as tick:
        ledger = ctx.open_ledger(write=False)
        try:
            count = ledger.rebuild_projections(progress=tick)
        finally:
            ledger.close()
    _emit(ctx.as_json, {"records": count}, f"Rebuilt projections from {count} records")


@contextmanager
def _removed_on_error(path: Path) -> Iterator[None]:
    """Delete ``path`` if the block fails, so a refused export leaves nothing behind."""
    try:
        yield
    except BaseException:
        path.unlink(missing_ok=True)
        raise


@main.command("export")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the export.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "epcis", "fsma204", "xlsx"]),
    default="jsonl",
    show_default=True,
    help="jsonl: the whole ledger for auditors and backup; epcis: an EPCIS 2.0 document; "
    "fsma204 / xlsx: the FDA FSMA 204 sortable spreadsheet (CSV / XLSX).",
)
@click.option("--lot", help="Traceability exports: the provenance of this lot.")
@click.option("--party", help="Traceability exports: the records of this participant.")
@click.option("--since", type=click.DateTime(), help="Traceability exports: events from (UTC).")
@click.option("--until", type=click.DateTime(), help="Traceability exports: events before (UTC).")
@pass_ctx
def export_command(
    ctx: _Context,
    out: Path,
    fmt: str,
    lot: str | None,
    party: str | None,
    since: datetime | None,
    until: datetime | None,
) -> None:
    """Write the ledger (JSON Lines) or a traceability export (EPCIS, FSMA 204)."""
    with _errors(), _progress_bar(ctx, "exporting") as tick:
        ledger = ctx.open_ledger(write=False)
        try:
            tmp = out.with_name(out.name + ".partial")
            with _removed_on_error(tmp), tmp.open("wb") as handle:
                if fmt == "jsonl":
                    count = export_ledger(ledger, handle, progress=tick)
                else:
                    from api.trace_cli import write_trace_export

                    count = write_trace_export(
                        ledger,
                        handle,
                        format=fmt,
                        lot=lot,
                        party=party,
                        since=since.replace(tzinfo=UTC) if since else None,
                        until=until.replace(tzinfo=UTC) if until else None,
                        now=_now(),
                    )
            tmp.replace(out)
        finally:
            ledger.close()
    what = "records" if fmt == "jsonl" else "entries"
    _emit(ctx.as_json, {what: count, "file": str(out)}, f"Exported {count} {what} to {out}")


@main.command("import-ledger")
@click.argument("export_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--vkey", help="The operator vkey the export must carry (recommended).")
@pass_ctx
def import_ledger_command(ctx: _Context, export_file: Path, vkey: str | None) -> None:
    """Restore an export into an empty database (either backend), after auditing it.

    The target is --database-url / FAIRLEDGER_DATABASE_URL or the home's SQLite file.
    Roots, checkpoints and projections come out identical; nothing is written if the export
    fails any check or the target is not empty.
    """
    from ledger.backup import import_ledger

    with _errors(), _progress_bar(ctx, "importing") as tick:
        report = import_ledger(
            ctx.settings.url,
            export_file,
            operator_vkey=vkey,
            validators=wiring.validators(),
            projections=wiring.projections(),
            progress=tick,
        )
    _emit(
        ctx.as_json,
        {
            "records": report.records_checked,
            "root": report.root.hex(),
            "database": ctx.settings.url,
        },
        f"Restored {report.records_checked} records into {ctx.settings.url}\n"
        f"root {report.root.hex()}",
    )


def _program() -> str:
    """How the user started this command (``.venv/bin/fairledger``), for lines to copy."""
    started = sys.argv[0] if sys.argv else ""
    return started if Path(started).name == "fairledger" else "fairledger"


@main.command()
@click.option(
    "--home",
    "demo_home",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".fairledger-demo"),
    show_default=True,
    help="Where to build the demo (replaced on every run if an earlier demo made it).",
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port for the API and web page on 127.0.0.1.",
)
@click.option(
    "--serve/--no-serve",
    default=True,
    show_default=True,
    help="Serve the API and web page once the ledger is built.",
)
@pass_ctx
def demo(ctx: _Context, demo_home: Path, port: int, serve: bool) -> None:
    """Build a realistic small ecosystem on the embedded SQLite default, verify it, then
    serve the API and web page."""
    from api.demo import run_demo, try_lines

    settings = load_settings(demo_home.resolve(), None)
    settings.database_url = None  # the demo always uses the embedded default
    with _errors():
        result = run_demo(settings, partial(click.echo, err=ctx.as_json))
    base = f"http://127.0.0.1:{port}"
    lines = [
        "",
        f"Demo ledger: {settings.url} ({result.size} records)",
        f"Operator vkey: {result.vkey}",
        *try_lines(result, str(demo_home), base if serve else None, _program()),
    ]
    if serve:
        lines += ["", f"Serving on {base} (Ctrl-C to stop)"]
    data = {
        "database": settings.url,
        "vkey": result.vkey,
        "url": base,
        "records": result.size,
        "lot": result.bread_lot,
        "contract": result.contract_id,
    }
    _emit(ctx.as_json, data, "\n".join(lines))
    if serve:
        from api.serve import run_single

        with _errors():
            try:
                run_single(settings, "127.0.0.1", port)
            except OSError as exc:
                _fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}", EXIT_UNAVAILABLE)


BENCH_SECTIONS = ("core", "api", "trace", "contracts", "bundle", "web")


def _quiet(_line: str) -> None:
    """An echo that prints nothing."""


@main.command()
@click.option("--records", default=20_000, show_default=True, help="Ledger size to build.")
@click.option("--batch", default=100, show_default=True, help="Statements per append batch.")
@click.option(
    "--database-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to build the benchmark ledger (default: a temporary directory).",
)
@click.option(
    "--api",
    "api_statements",
    type=int,
    default=0,
    help="Also measure the HTTP API with this many statements (0: skip).",
)
@click.option("--workers", default=2, show_default=True, help="API server processes.")
@click.option(
    "--empty-database-url",
    help="Run on this EMPTY database (e.g. PostgreSQL) instead of a scratch SQLite file.",
)
@click.option(
    "--api-database-url",
    help="Another EMPTY database for the API figures (default: scratch SQLite).",
)
@click.option(
    "--section",
    "sections",
    multiple=True,
    type=click.Choice(BENCH_SECTIONS),
    help="Run only these sections (repeatable): core (Ed25519, append, proofs, verification, "
    "incremental audit), api (needs --api N), trace (1M records / 100k lots: trace back and "
    "forward, mass-balance cost), contracts (settlement of 100k deliveries, fairness), bundle "
    "(a 200-record lot bundle), web (the provenance page). Default: core, plus api with --api.",
)
@click.option(
    "--all", "run_all", is_flag=True, help="Run every section (api too when --api is given)."
)
@click.option(
    "--reduced",
    is_flag=True,
    help="Smaller trace and contracts workloads (a tenth), for a quick look.",
)
@click.option(
    "--fairness-ledger",
    type=click.Path(file_okay=False, path_type=Path),
    help="contracts: keep the ~1,000,000-record contract ledger for the fairness figure here "
    "(built on the first run, about ten minutes; reused after). Without it, the fairness "
    "figure is measured only with --reduced.",
)
@pass_ctx
def bench(
    ctx: _Context,
    records: int,
    batch: int,
    database_dir: Path | None,
    api_statements: int,
    workers: int,
    empty_database_url: str | None,
    api_database_url: str | None,
    sections: tuple[str, ...],
    run_all: bool,
    reduced: bool,
    fairness_ledger: Path | None,
) -> None:
    """Measure speed and print the figures: Ed25519, append, proofs and verification (core),
    the HTTP API, traceability queries, settlement and fairness, lot bundles and the
    provenance page. Measurements, never pass/fail; see --section."""
    chosen = set(BENCH_SECTIONS if run_all else sections or ("core",))
    if api_statements and not sections:
        chosen.add("api")
    if not api_statements:
        chosen.discard("api")
    if "api" in sections and not api_statements:
        raise click.UsageError("--section api needs --api N (statements to send)")
    echo = None if ctx.as_json else click.echo
    say = echo or _quiet
    figures: dict[str, object] = {}
    with _errors():
        if "core" in chosen:
            from api.bench import run_bench

            figures.update(
                run_bench(
                    records=records,
                    batch=batch,
                    directory=database_dir,
                    echo=echo,
                    database_url=empty_database_url,
                )
            )
        if "api" in chosen:
            from api.bench_api import run_api_bench

            figures.update(
                run_api_bench(
                    statements=api_statements,
                    workers=workers,
                    database_url=api_database_url,
                    echo=echo,
                )
            )
        if "trace" in chosen:
            from api.bench_trace import run_trace_bench

            figures["trace"] = run_trace_bench(echo=echo, reduced=reduced)
        if "contracts" in chosen:
            from contracts.bench import run_contract_bench

            figures["contracts"] = run_contract_bench(
                echo=say, reduced=reduced, fairness_dir=fairness_ledger
            )
        if "bundle" in chosen:
            from api.bench_bundle import run_bundle_bench

            figures["bundle"] = run_bundle_bench(echo=echo)
        if "web" in chosen:
            from api.bench_web import run_web_bench

            figures["web"] = run_web_bench(echo=echo)
    if ctx.as_json:
        _emit(True, figures, "")


if __name__ == "__main__":  # pragma: no cover
    main()

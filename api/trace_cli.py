"""Traceability commands of the ``fairledger`` CLI: ``trace``, ``recall``, ``import-epcis``
and the ``export --format epcis|fsma204|xlsx`` writer (``write_trace_export``).

The commands are plain ``click`` commands meant to be added to ``api.cli.main``; they read
the settings and ``--json`` from the root context object (``settings``, ``as_json``), and
``trace_main`` is a small group that provides one when they run on their own. Exit codes
follow ``api.cli``: 0 success; 1 a refused statement, an invalid document or an unknown lot;
2 usage; 3 the database or a file could not be used. The clock is read here only.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import IO, Any, NoReturn

import click

from api import wiring
from api.settings import Settings, load_settings
from api.spreadsheet import write_fsma_xlsx
from ledger.errors import (
    LedgerError,
    MalformedError,
    RejectedStatementError,
    StorageError,
)
from ledger.keys import PrivateKey, load_private_key
from ledger.log import MAX_BATCH, Ledger
from ledger.state import Kind
from ledger.statement import Statement, Submission, sign_statement
from ledger.trace import dumps_epcis, load_epcis_json, parse_epcis_document
from ledger.trace.builders import trace_body
from ledger.trace.errors import FieldError, MalformedEventError
from ledger.trace.fsma import write_fsma_csv
from ledger.trace.provenance import Provenance, Recall, share_text
from ledger.trace.rules import parse_trace_body, performer_error
from ledger.trace.service import (
    export_epcis,
    export_fsma,
    provenance,
    recall,
)

__all__ = [
    "EXPORT_FORMATS",
    "import_epcis_command",
    "recall_command",
    "trace_command",
    "trace_main",
    "write_trace_export",
]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
#: ``export --format`` values: an EPCIS 2.0 document, the FSMA 204 spreadsheet as CSV or XLSX.
EXPORT_FORMATS = ("epcis", "fsma204", "xlsx")


class _TraceContext:
    """The root context object when the commands run without ``api.cli.main``."""

    def __init__(self, settings: Settings, as_json: bool) -> None:
        self.settings = settings
        self.as_json = as_json


def _context() -> tuple[Settings, bool]:
    obj = click.get_current_context().find_root().obj
    settings = getattr(obj, "settings", None)
    if not isinstance(settings, Settings):
        settings = load_settings(None, None)
    return settings, bool(getattr(obj, "as_json", False))


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
    """Library errors as one line on stderr and a stable exit code."""
    try:
        yield
    except StorageError as exc:
        _fail(exc.message, EXIT_UNAVAILABLE)
    except MalformedEventError as exc:
        _fail(_field_report(exc.message, exc.errors), EXIT_FAILED)
    except (RejectedStatementError, MalformedError, LedgerError) as exc:
        where = f" ({exc.field})" if exc.field else ""
        _fail(f"{exc.message}{where}", EXIT_FAILED)


def _field_report(head: str, errors: tuple[FieldError, ...]) -> str:
    lines = [head.split(":", 1)[0] if errors else head]
    lines.extend(f"  {e}" for e in errors)
    return "\n".join(lines)


def _percent(share: Fraction | None) -> str:
    if share is None:
        return "unknown"
    hundredths = share * 10000
    whole = hundredths.numerator // hundredths.denominator
    exact = "" if whole == hundredths else "~"
    return f"{exact}{whole // 100}.{whole % 100:02d}%"


def _short(lot: str, gtin: str, number: str) -> str:
    return f"{number} (GTIN {gtin})"


def _provenance_text(found: Provenance) -> str:
    root = found.lots[0]
    lines = [
        f"Provenance of lot {root.lot_number} (GTIN {root.gtin}): {len(found.lots)} lots, "
        f"{len(found.links)} links, {len(found.events)} events, {len(found.seqs)} records",
        f"  parties: {', '.join(found.parties) or '-'}",
        f"  locations: {', '.join(found.locations) or '-'}",
        "",
        "  share      depth  lot                                  producers        records",
    ]
    for traced in found.lots:
        seqs = ", ".join(map(str, traced.seqs[:12])) + (" ..." if len(traced.seqs) > 12 else "")
        lines.append(
            f"  {_percent(traced.share):<10} {traced.depth:<6} "
            f"{_short(traced.lot, traced.gtin, traced.lot_number):<36} "
            f"{', '.join(traced.producers) or '-':<16} {seqs}"
        )
    if found.links:
        lines.append("")
        lines.append("  transformations:")
        for link in found.links:
            q_in = f"{link.input_quantity} {link.input_uom or ''}".strip()
            q_out = f"{link.output_quantity} {link.output_uom or ''}".strip()
            lines.append(
                f"    seq {link.seq}: {link.input_lot} ({q_in}) -> {link.output_lot} ({q_out}), "
                f"input share {share_text(link.input_share) or 'unknown'}"
            )
    if found.corrections:
        lines.append("")
        lines.append("  corrections:")
        for fix in found.corrections:
            instead = ", ".join(map(str, fix.corrective_seqs)) or "none recorded"
            lines.append(
                f"    seq {fix.seq} ({fix.event_id}) declared erroneous at seq {fix.declared_by}"
                f" ({fix.reason or 'no reason'}); corrective events at seqs: {instead}"
            )
    return "\n".join(lines)


def _recall_text(found: Recall) -> str:
    root = found.lots[0]
    lines = [
        f"Recall of lot {root.lot_number} (GTIN {root.gtin}): {len(found.lots)} lots, "
        f"{len(found.stock)} places still holding some, holders: "
        f"{', '.join(found.holders) or '-'}",
        "",
        "  lot                                  from it     status      holder            "
        "remaining",
    ]
    shares = {t.lot: t for t in found.lots}
    for stock in found.stock:
        traced = shares[stock.lot]
        where = stock.holder or "unknown destination"
        if stock.status == "in_transit":
            where = f"{stock.shipper} -> {where}"
        lines.append(
            f"  {_short(traced.lot, traced.gtin, traced.lot_number):<36} "
            f"{_percent(traced.share):<11} {stock.status:<11} {where:<17} "
            f"{stock.quantity} {stock.uom or ''}".rstrip()
        )
    empty = [t for t in found.lots if not any(s.lot == t.lot for s in found.stock)]
    if empty:
        lines.append("")
        lines.append(f"  {len(empty)} downstream lots are used up, sold or destroyed everywhere")
    return "\n".join(lines)


@click.command("trace")
@click.argument("lot")
@click.option("--as-of", "as_of", type=int, help="Count only records up to this seq.")
def trace_command(lot: str, as_of: int | None) -> None:
    """Trace LOT back: every upstream lot, its share, parties, locations and records."""
    settings, as_json = _context()
    with _errors():
        ledger = wiring.open_ledger(settings.url)
        try:
            found = provenance(ledger, lot, as_of_seq=as_of)
        finally:
            ledger.close()
    _emit(as_json, found.to_json(), _provenance_text(found))


@click.command("recall")
@click.argument("lot")
def recall_command(lot: str) -> None:
    """Trace LOT forward: every downstream lot and who still holds how much of it."""
    settings, as_json = _context()
    with _errors():
        ledger = wiring.open_ledger(settings.url)
        try:
            found = recall(ledger, lot)
        finally:
            ledger.close()
    _emit(as_json, found.to_json(), _recall_text(found))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror or exc}", EXIT_UNAVAILABLE)


def _key(settings: Settings, participant: str) -> PrivateKey:
    path = settings.key_path(participant)
    if not path.exists():
        _fail(f"no key for {participant} at {path}", EXIT_UNAVAILABLE)
    return load_private_key(path, settings.passphrase_bytes)


@click.command("import-epcis")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--as",
    "signers",
    multiple=True,
    required=True,
    help="Participant signing the events (its key in $FAIRLEDGER_HOME/keys). Repeat it for "
    "a document recorded by several parties: each event is signed by the one that "
    "performed it.",
)
def import_epcis_command(file: Path, signers: tuple[str, ...]) -> None:
    """Import an EPCIS 2.0 document: every event signed and submitted as one batch.

    The document is refused whole, naming each bad field, if any event is invalid, has no
    performer among the --as participants, or is refused by the ledger (nothing written).
    """
    settings, as_json = _context()
    data = _read(file)
    now = datetime.now(UTC)
    with _errors():
        events = parse_epcis_document(load_epcis_json(data))
        if not events:
            _fail(f"{file} holds no events", EXIT_FAILED)
        if len(events) > MAX_BATCH:
            _fail(
                f"{file} holds {len(events)} events; one import is one batch of at most "
                f"{MAX_BATCH}: split the document",
                EXIT_FAILED,
            )
        keys = {name: _key(settings, name) for name in dict.fromkeys(signers)}
        operator = _key(settings, "operator")
        ledger = wiring.open_ledger(settings.url, operator_key=operator)
        try:
            submissions, authors = _sign_all(ledger, events, keys, now)
            results = ledger.append(submissions, now=now)
        except RejectedStatementError as exc:
            where = "" if exc.index is None else f"epcisBody.eventList[{exc.index}]: "
            field = f" ({exc.field})" if exc.field else ""
            _fail(f"{file} was refused whole: {where}{exc.message}{field}", EXIT_FAILED)
        finally:
            ledger.close()
    report = [
        {"event_id": event.event_id, "author": author, "seq": result.receipt.seq}
        for event, author, result in zip(events, authors, results, strict=True)
    ]
    seqs = [result.receipt.seq for result in results]
    _emit(
        as_json,
        {"file": str(file), "events": report, "checkpoint": results[-1].receipt.checkpoint},
        f"Imported {len(report)} events from {file} at seqs {min(seqs)}..{max(seqs)} "
        f"(signed by {', '.join(sorted(set(authors)))})",
    )


def _sign_all(
    ledger: Ledger, events: list[Any], keys: dict[str, PrivateKey], now: datetime
) -> tuple[list[Submission], list[str]]:
    """One signed statement per event, by the --as participant that performed it.

    Raises ``MalformedEventError`` naming every event none of them performed."""
    state = ledger.state()
    stamp = now.strftime("%Y%m%dT%H%M%S%f")
    problems: list[FieldError] = []
    submissions: list[Submission] = []
    authors: list[str] = []
    for index, event in enumerate(events):
        body = trace_body(event.ledger_form())
        trace = parse_trace_body(body)
        chosen: str | None = None
        reasons = []
        for name in keys:
            participant = state.participants.get(name)
            if participant is None:
                reasons.append(f"{name} is not a registered participant")
                continue
            error = performer_error(participant, trace)
            if error is None:
                chosen = name
                break
            reasons.append(error.message)
        if chosen is None:
            problems.append(
                FieldError(
                    f"epcisBody.eventList[{index}]",
                    "none of the --as participants performed this event: " + "; ".join(reasons),
                )
            )
            continue
        key = keys[chosen]
        statement = Statement.build(
            ledger=ledger.origin,
            kind=Kind.TRACE_EVENT,
            author=chosen,
            key=key.public_key.key_id,
            nonce=f"epcis-{stamp}-{index:04d}",
            issued_at=now,
            body=body,
        )
        submissions.append(sign_statement(statement, key))
        authors.append(chosen)
    if problems:
        raise MalformedEventError(problems)
    return submissions, authors


def _moment(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            "expected an ISO 8601 date or date-time, e.g. 2026-11-01 or 2026-11-01T08:00:00Z",
            param_hint=name,
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def write_trace_export(
    ledger: Ledger,
    out: IO[bytes],
    *,
    format: str,
    lot: str | None = None,
    party: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> int:
    """Write a traceability export to the binary stream ``out``; returns how many events
    (``epcis``) or spreadsheet rows (``fsma204`` CSV, ``xlsx``) it holds.

    The selection is the lot's provenance, the party's records and/or the event-time range
    ``[since, until)`` (all trace records when none is given). Raises ``UnknownLotError``
    for an unknown lot and ``ValueError`` for an unknown format."""
    if format not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {format!r}")
    if format == "epcis":
        document = export_epcis(
            ledger,
            created_at=now or datetime.now(UTC),
            lot=lot,
            party=party,
            since=since,
            until=until,
        )
        out.write(dumps_epcis(document, indent=2).encode("utf-8"))
        out.write(b"\n")
        events: list[Any] = document["epcisBody"]["eventList"]
        return len(events)
    rows = export_fsma(ledger, lot=lot, party=party, since=since, until=until)
    if format == "xlsx":
        return write_fsma_xlsx(rows, out)
    text = io.StringIO(newline="")
    count = write_fsma_csv(rows, text)
    out.write(text.getvalue().encode("utf-8"))
    return count


@click.command("export")
@click.option("--format", "format_", type=click.Choice(EXPORT_FORMATS), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--lot", help="Export this lot's provenance.")
@click.option("--party", help="Export the records of this participant.")
@click.option("--since", help="Events at or after this time (ISO 8601; UTC if no offset).")
@click.option("--until", help="Events before this time (ISO 8601; UTC if no offset).")
def export_trace_command(
    format_: str,
    out: Path,
    lot: str | None,
    party: str | None,
    since: str | None,
    until: str | None,
) -> None:
    """Write an EPCIS 2.0 document or the FDA FSMA 204 spreadsheet (CSV or XLSX)."""
    settings, as_json = _context()
    start, end = _moment(since, "--since"), _moment(until, "--until")
    with _errors():
        ledger = wiring.open_ledger(settings.url)
        try:
            partial = out.with_name(out.name + ".partial")
            try:
                with partial.open("wb") as handle:
                    count = write_trace_export(
                        ledger, handle, format=format_, lot=lot, party=party, since=start, until=end
                    )
                partial.replace(out)
            except OSError as exc:
                _fail(f"cannot write {out}: {exc.strerror or exc}", EXIT_UNAVAILABLE)
        finally:
            ledger.close()
    noun = "events" if format_ == "epcis" else "rows"
    _emit(
        as_json,
        {"format": format_, "file": str(out), noun: count},
        f"Wrote {count} {noun} to {out} ({format_})",
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="FAIRLEDGER_HOME",
    help="Directory for keys and the default SQLite database [env FAIRLEDGER_HOME].",
)
@click.option(
    "--database-url", envvar="FAIRLEDGER_DATABASE_URL", help="SQLAlchemy URL of the ledger."
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def trace_main(
    ctx: click.Context, home: Path | None, database_url: str | None, as_json: bool
) -> None:
    """FairLedger traceability commands (also available under ``fairledger``)."""
    ctx.obj = _TraceContext(load_settings(home, database_url), as_json)


for _command in (trace_command, recall_command, import_epcis_command, export_trace_command):
    trace_main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    trace_main()

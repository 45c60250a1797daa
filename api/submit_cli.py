"""``fairledger submit``: sign a statement as a participant and append it, keeping the receipt.

The body is a JSON object (a file, or standard input); the statement is signed with the
participant's key from ``$FAIRLEDGER_HOME/keys/<participant>.pem`` and sent either to a server
(``--url``, through ``api.client.FairLedgerClient``) or straight to the local ledger (which
needs the operator key in the same home, since appending signs a checkpoint). Either way the
receipt is checked before it is shown or stored: the checkpoint's signature against the
operator key (``--vkey`` pins it; otherwise the server's key is trusted on first use, or the
local ledger's genesis key) and the record's inclusion proof against that checkpoint.

``--batch FILE`` submits JSON Lines instead, one ``{"kind": ..., "body": {...}}`` per line
(``"nonce"`` optional; ``kind`` defaults to the KIND argument), all or nothing.

Exit codes as ``api.cli``: 0 accepted (or already recorded: a replay), 1 refused or a receipt
that does not verify, 2 usage error, 3 a file, the database or the server unavailable.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn, Protocol

import click

from api import wiring
from api.client import ApiError, Author, FairLedgerClient
from api.settings import Settings
from ledger.canonical import JSONObject, JSONValue, parse_json
from ledger.errors import (
    CanonicalizationError,
    LedgerError,
    MalformedError,
    StorageError,
    VerificationError,
)
from ledger.keys import load_private_key
from ledger.log import MAX_BATCH
from ledger.note import Ed25519Verifier
from ledger.receipt import Receipt
from ledger.state import Kind
from ledger.statement import Submission

__all__ = ["Item", "read_batch", "read_body", "submit_command"]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
KINDS = sorted(kind.value for kind in Kind if kind is not Kind.GENESIS)


class _Context(Protocol):
    settings: Settings
    as_json: bool


@dataclass(frozen=True)
class Item:
    """One statement to sign: its kind, body and (optional) nonce."""

    kind: str
    body: JSONObject
    nonce: str | None = None


@dataclass(frozen=True)
class _Outcome:
    receipt: Receipt
    created: bool | None  # None: the server does not say (a replay answers 200, same receipt)
    checkpoint_size: int


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@contextmanager
def _errors(batch: bool) -> Iterator[None]:
    """Library and server errors as one line on stderr and a stable exit code; for a
    batch, the refused statement's line."""
    try:
        yield
    except ApiError as exc:
        where = "" if exc.index is None or not batch else f" (batch line {exc.index + 1})"
        found = "" if exc.field is None else f" [field {exc.field}]"
        if exc.status == 0 or exc.status >= 500:
            _fail(f"server unavailable: {exc.message}", EXIT_UNAVAILABLE)
        _fail(f"refused{where}: {exc.status} {exc.code}: {exc.message}{found}", EXIT_FAILED)
    except StorageError as exc:
        _fail(exc.message, EXIT_UNAVAILABLE)
    except VerificationError as exc:
        _fail(f"the receipt does not verify: {exc.message}", EXIT_FAILED)
    except LedgerError as exc:
        index = getattr(exc, "index", None)
        where = f" (batch line {index + 1})" if isinstance(index, int) and batch else ""
        found = "" if exc.field is None else f" [field {exc.field}]"
        _fail(f"refused{where}: {exc.code}: {exc.message}{found}", EXIT_FAILED)


def _parse_object(data: bytes, where: str) -> JSONObject:
    try:
        value = parse_json(data)
    except CanonicalizationError as exc:
        raise MalformedError(f"{where} is not valid JSON: {exc.message}") from exc
    if not isinstance(value, dict):
        raise MalformedError(f"{where} must be a JSON object, not {type(value).__name__}")
    return value


def read_body(data: bytes, where: str) -> JSONObject:
    """A statement body: one JSON object. Raises ``MalformedError`` naming ``where``."""
    return _parse_object(data, where)


def read_batch(data: bytes, where: str, default_kind: str | None) -> list[Item]:
    """JSON Lines of ``{"kind", "body", "nonce"?}`` (blank lines ignored); raises
    ``MalformedError`` naming the line at fault."""
    items: list[Item] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        place = f"{where} line {number}"
        entry = _parse_object(line, place)
        unknown = sorted(set(entry) - {"kind", "body", "nonce"})
        if unknown:
            raise MalformedError(f"{place}: unknown field {unknown[0]!r} (kind, body, nonce)")
        kind: JSONValue = entry.get("kind", default_kind)
        if not isinstance(kind, str) or kind not in KINDS:
            raise MalformedError(f"{place}: kind must be one of {', '.join(KINDS)}")
        body = entry.get("body")
        if not isinstance(body, dict):
            raise MalformedError(f"{place}: body must be a JSON object")
        nonce = entry.get("nonce")
        if nonce is not None and not isinstance(nonce, str):
            raise MalformedError(f"{place}: nonce must be a string")
        items.append(Item(kind, body, nonce))
    if not items:
        raise MalformedError(f"{where} holds no statements")
    if len(items) > MAX_BATCH:
        raise MalformedError(f"{where} holds {len(items)} statements; a batch holds {MAX_BATCH}")
    return items


def _read(source: str) -> tuple[bytes, str]:
    if source == "-":
        return sys.stdin.buffer.read(), "standard input"
    path = Path(source)
    try:
        return path.read_bytes(), str(path)
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _checked(receipt: Receipt, verifier: Ed25519Verifier) -> int:
    """Verify the receipt (checkpoint signature, inclusion proof); the checkpoint's size."""
    return receipt.verify(verifier).checkpoint.size


def _via_server(
    url: str,
    vkey: str | None,
    participant: str,
    key_path: Path,
    settings: Settings,
    items: Sequence[Item],
    batch: bool,
) -> list[_Outcome]:
    with FairLedgerClient(url, operator_vkey=vkey) as client:
        origin = client.ledger_info().origin
        author = Author.load(
            participant, key_path, ledger=origin, passphrase=settings.passphrase_bytes
        )
        submissions = [author.statement(i.kind, i.body, nonce=i.nonce) for i in items]
        receipts = client.submit_batch(submissions) if batch else [client.submit(submissions[0])]
        verifier = client.verifier
        return [_Outcome(r, None, _checked(r, verifier)) for r in receipts]


def _locally(
    settings: Settings,
    participant: str,
    key_path: Path,
    vkey: str | None,
    items: Sequence[Item],
    batch: bool,
) -> list[_Outcome]:
    operator_path = settings.key_path("operator")
    if not operator_path.exists():
        raise StorageError(
            f"submitting to the local ledger needs the operator key ({operator_path}) to sign "
            "checkpoints; submit to a server with --url instead"
        )
    operator = load_private_key(operator_path, settings.passphrase_bytes)
    ledger = wiring.open_ledger(settings.url, operator_key=operator)
    try:
        verifier = Ed25519Verifier.from_vkey(vkey) if vkey else ledger.verifier
        author = Author.load(
            participant, key_path, ledger=ledger.origin, passphrase=settings.passphrase_bytes
        )
        submissions: list[Submission] = [
            author.statement(i.kind, i.body, nonce=i.nonce) for i in items
        ]
        now = datetime.now(UTC)
        if batch:
            results = ledger.append(submissions, now=now)
        else:
            results = [ledger.submit(submissions[0], now=now)]
        return [_Outcome(r.receipt, r.created, _checked(r.receipt, verifier)) for r in results]
    finally:
        ledger.close()


def _write_receipts(path: Path, outcomes: Sequence[_Outcome], batch: bool) -> None:
    if batch:
        text = "".join(json.dumps(o.receipt.to_json(), sort_keys=True) + "\n" for o in outcomes)
    else:
        text = json.dumps(outcomes[0].receipt.to_json(), indent=2, sort_keys=True) + "\n"
    tmp = path.with_name(path.name + ".partial")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _human(outcome: _Outcome, kind: str) -> str:
    receipt = outcome.receipt
    what = {True: "accepted", False: "already recorded", None: "accepted"}[outcome.created]
    return (
        f"{kind} {what} as seq {receipt.seq} (entry hash {receipt.entry_hash.hex()})\n"
        f"  receipt verified: operator-signed checkpoint of size {outcome.checkpoint_size}, "
        f"inclusion proof of {len(receipt.inclusion_proof)} hashes"
    )


@click.command("submit")
@click.argument("kind", required=False, type=click.Choice(KINDS), metavar="[KIND]")
@click.argument("body_file", required=False, metavar="[BODY_FILE]")
@click.option(
    "--as",
    "participant",
    required=True,
    help="Sign as this participant, with $FAIRLEDGER_HOME/keys/PARTICIPANT.pem.",
)
@click.option("--url", help="Submit to this server (otherwise: straight to the local ledger).")
@click.option(
    "--vkey",
    help="The operator vkey you trust, to check the receipt [default: the server's on first "
    "use, or the local ledger's].",
)
@click.option("--nonce", help="Statement nonce (8-64 chars) [default: random].")
@click.option(
    "--batch",
    "batch_file",
    help='JSON Lines file (\'-\': stdin) of {"kind", "body", "nonce"?} to submit all or '
    "nothing; KIND is the default kind.",
)
@click.option(
    "--receipt",
    "receipt_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Store the receipt here (JSON; for a batch, JSON Lines in batch order).",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def submit_command(
    ctx: _Context,
    kind: str | None,
    body_file: str | None,
    participant: str,
    url: str | None,
    vkey: str | None,
    nonce: str | None,
    batch_file: str | None,
    receipt_file: Path | None,
    as_json: bool,
) -> None:
    """Sign a statement of KIND (body: JSON in BODY_FILE, or stdin) as a participant and
    submit it; print, check and optionally store its receipt.

    KIND: trace.event, sale.report, contract.propose, contract.accept, contract.terminate,
    payment.sent, payment.confirm, key.rotate, key.revoke (and, for the operator,
    participant.register and settlement.statement).

    \b
    Examples:
      fairledger submit trace.event ship.json --as farm-a --url https://ledger.example
      fairledger submit sale.report - --as grocer < sale.json --receipt sale.receipt.json
      fairledger submit --batch events.jsonl --as mill --url https://ledger.example
    """
    as_json = as_json or ctx.as_json
    settings = ctx.settings
    batch = batch_file is not None
    if batch and body_file is not None:
        raise click.UsageError("give a BODY_FILE or --batch, not both")
    if batch and nonce is not None:
        raise click.UsageError("--nonce applies to one statement; give nonces in the batch file")
    if not batch and kind is None:
        raise click.UsageError("give the statement KIND (or --batch FILE)")
    if vkey is not None:
        try:
            Ed25519Verifier.from_vkey(vkey)
        except LedgerError as exc:
            raise click.BadParameter(exc.message, param_hint="--vkey") from None
    key_path = settings.key_path(participant)
    with _errors(batch):
        if not key_path.exists():
            raise StorageError(
                f"no key for {participant} at {key_path} (create one with `fairledger keygen`)"
            )
        if batch:
            assert batch_file is not None
            data, where = _read(batch_file)
            items = read_batch(data, where, kind)
        else:
            assert kind is not None
            data, where = _read(body_file or "-")
            items = [Item(kind, read_body(data, where), nonce)]
        if url is not None:
            outcomes = _via_server(url, vkey, participant, key_path, settings, items, batch)
        else:
            outcomes = _locally(settings, participant, key_path, vkey, items, batch)
        if receipt_file is not None:
            _write_receipts(receipt_file, outcomes, batch)
    if as_json:
        data_out: object = [
            {**o.receipt.to_json(), "created": o.created, "verified": True} for o in outcomes
        ]
        if not batch:
            assert isinstance(data_out, list)
            data_out = data_out[0]
        click.echo(json.dumps(data_out, indent=2, sort_keys=True))
        return
    lines = [_human(o, i.kind) for o, i in zip(outcomes, items, strict=True)]
    if receipt_file is not None:
        lines.append(f"receipt{'s' if batch else ''} stored in {receipt_file}")
    click.echo("\n".join(lines))

"""``fairledger verify-lot``: a buyer's offline check of one lot's proof bundle (DESIGN §7).

    fairledger verify-lot BUNDLE --vkey VKEY [--witness VKEY ...] [--min-witnesses K] [--json]
    fairledger verify-lot --url URL --lot LOT --vkey VKEY [--save FILE] ...

BUNDLE is a ``fairledger-lot-bundle/v1`` file (``GET /v1/lots/bundle?lot=``); with ``--url``
the bundle is fetched from that server first (and kept with ``--save``), then checked exactly
as a file would be: nothing the server says is trusted, only the vkeys given. The check is
``ledger.bundle.verify_bundle``; the human report prints the verified provenance tree.
``scripts/verify_lot.py`` runs the same code.

Exit codes as ``api.cli``: 0 everything holds, 1 the bundle failed a check (its message names
the seq and the member at fault), 2 usage (flags, an unusable vkey), 3 the file or the server
could not be used.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import click
import httpx

from api.client import ApiError, FairLedgerClient
from ledger.bundle import VerifiedLot, verify_bundle
from ledger.errors import LedgerError, MalformedError, StorageError, VerificationError
from ledger.note import CosignatureVerifier, Ed25519Verifier
from ledger.trace.provenance import LotLink, TracedLot, share_text

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3

Echo = Callable[[str], None]

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "provenance_tree",
    "run_verify_lot",
    "verify_lot_command",
]


def _echo(line: str) -> None:
    click.echo(line)


def _stderr(line: str) -> None:
    click.echo(line, err=True)


def _key_text(value: str) -> str:
    """A vkey given inline, or the path of a file holding one."""
    path = Path(value)
    try:
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
    except (OSError, ValueError, UnicodeDecodeError):
        pass
    return value.strip()


def _error_json(exc: LedgerError) -> dict[str, object]:
    data: dict[str, object] = {"code": exc.code, "message": exc.message, "field": exc.field}
    if isinstance(exc, VerificationError):
        data.update(seq=exc.seq, expected=exc.expected, observed=exc.observed)
    return data


def run_verify_lot(
    bundle_file: Path | None,
    vkey: str,
    witnesses: Sequence[str] = (),
    min_witnesses: int = 0,
    as_json: bool = False,
    *,
    url: str | None = None,
    lot: str | None = None,
    save: Path | None = None,
    http: httpx.Client | None = None,
    echo: Echo = _echo,
    echo_err: Echo = _stderr,
) -> int:
    """Check a lot bundle (a file, or fetched from ``url`` for ``lot``) and print the
    verified provenance tree; returns the exit code (0 only when everything holds)."""
    if (bundle_file is None) == (url is None):
        echo_err("error: give either a BUNDLE file or --url with --lot")
        return EXIT_USAGE
    if url is not None and not lot:
        echo_err("error: --url needs --lot")
        return EXIT_USAGE
    try:
        operator = Ed25519Verifier.from_vkey(_key_text(vkey))
        trusted = [CosignatureVerifier.from_vkey(_key_text(w)) for w in witnesses]
    except LedgerError as exc:
        echo_err(f"error: --vkey/--witness: {exc.message}")
        return EXIT_USAGE
    if not 0 <= min_witnesses <= len(trusted):
        echo_err(
            f"error: --min-witnesses must be between 0 and the {len(trusted)} --witness key(s) "
            f"given, got {min_witnesses}"
        )
        return EXIT_USAGE
    try:
        data = _load(bundle_file, url, lot, save, http, operator.vkey)
    except ApiError as exc:
        code = EXIT_UNAVAILABLE if exc.status == 0 or exc.status >= 500 else EXIT_FAILED
        echo_err(f"error: {exc.message}")
        return code
    except StorageError as exc:
        echo_err(f"error: {exc.message}")
        return EXIT_UNAVAILABLE
    try:
        verified = verify_bundle(data, operator, witnesses=trusted, min_witnesses=min_witnesses)
    except LedgerError as exc:
        if as_json:
            echo(_dump({"ok": False, "error": _error_json(exc)}))
        else:
            lines = [f"FAILED [{exc.code}] {exc.message}"]
            if exc.field:
                lines.append(f"  at: {exc.field}")
            echo("\n".join(lines))
        return EXIT_FAILED if isinstance(exc, VerificationError | MalformedError) else EXIT_USAGE
    if as_json:
        echo(_dump({"ok": True, **verified.to_json()}))
    else:
        echo(report(verified))
    return EXIT_OK


def _dump(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)


def _load(
    bundle_file: Path | None,
    url: str | None,
    lot: str | None,
    save: Path | None,
    http: httpx.Client | None,
    vkey: str,
) -> bytes:
    if bundle_file is not None:
        try:
            return bundle_file.read_bytes()
        except OSError as exc:
            raise StorageError(f"cannot read {bundle_file}: {exc.strerror or exc}") from exc
    assert url is not None
    assert lot is not None
    with FairLedgerClient(url, http=http, operator_vkey=vkey) as client:
        data = client.lot_bundle(lot)
    if save is not None:
        try:
            save.write_bytes(data)
        except OSError as exc:
            raise StorageError(f"cannot write {save}: {exc.strerror or exc}") from exc
    return data


# -- the human report --------------------------------------------------------------------------


def report(verified: VerifiedLot) -> str:
    """What was verified, then the provenance tree."""
    cp = verified.checkpoint.checkpoint
    witnesses = ", ".join(verified.witnesses) if verified.witnesses else "none checked"
    lines = [
        f"OK: lot {verified.lot} verified offline",
        f"  ledger      {verified.origin}",
        f"  checkpoint  size {cp.size}, root {cp.root.hex()[:16]}…, signed by the operator key "
        f"{verified.operator_vkey.split('+')[1]}",
        f"  witnesses   {witnesses}",
        f"  records     {len(verified.record_seqs)} trace records and {len(verified.key_seqs)} "
        "key records, each in the checkpoint's tree and signed with its author's key valid "
        "at its seq",
        "",
        "Provenance (what this lot is made of, with each upstream lot's share):",
        *provenance_tree(verified),
    ]
    return "\n".join(lines)


def _name(verified: VerifiedLot, party: str | None) -> str:
    if party is None:
        return "?"
    found = verified.participants.get(party)
    return party if found is None else f"{party} ({found.display_name})"


def _movement_lines(verified: VerifiedLot, traced: TracedLot, indent: str) -> list[str]:
    times = {e.seq: e.event_time for e in verified.provenance.events}
    lines = []
    for m in traced.movements:
        when = times.get(m.seq)
        stamp = when.strftime("%Y-%m-%d %H:%M") if when is not None else "?"
        amount = "" if m.quantity is None else f" {m.quantity} {m.uom or 'units'}"
        party = _name(verified, m.holder)
        if m.counterparty is not None:
            arrow = "→" if m.effect == "out" or m.category == "rejected" else "←"
            party += f" {arrow} {_name(verified, m.counterparty)}"
        pallet = f" on pallet {m.sscc}" if m.sscc else ""
        lines.append(f"{indent}seq {m.seq:<6} {stamp}  {m.category}{amount}  {party}{pallet}")
    return lines


def provenance_tree(verified: VerifiedLot) -> list[str]:
    """The verified provenance as an indented tree: each lot, its share of the queried lot,
    its movements, then the lots it was made from (through which transformation)."""
    found = verified.provenance
    inputs: dict[str, list[LotLink]] = {}
    for link in found.links:
        inputs.setdefault(link.output_lot, []).append(link)
    shown: set[str] = set()
    lines: list[str] = []

    def visit(lot: str, indent: str, via: LotLink | None) -> None:
        traced = found.get(lot)
        share = share_text(traced.share) if traced is not None else None
        head = f"{indent}● {lot}  share {share or 'unknown'}"
        if via is not None:
            used = "" if via.input_quantity is None else f" {via.input_quantity} {via.input_uom}"
            head += f"  (went into seq {via.seq}:{used})"
        if lot in shown:
            lines.append(head + "  (see above)")
            return
        shown.add(lot)
        lines.append(head)
        if traced is not None:
            lines.extend(_movement_lines(verified, traced, indent + "    "))
        for link in inputs.get(lot, []):
            visit(link.input_lot, indent + "  ", link)

    visit(found.lot, "", None)
    for traced in found.lots:  # anything the links did not reach (should be nothing)
        if traced.lot not in shown:
            visit(traced.lot, "", None)
    if found.corrections:
        lines.append("Corrections (retracted events no longer count):")
        for c in found.corrections:
            reason = f" ({c.reason})" if c.reason else ""
            lines.append(f"  seq {c.seq} retracted by seq {c.declared_by}{reason}")
    return lines


# -- the command -------------------------------------------------------------------------------


@click.command("verify-lot")
@click.argument("bundle", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--vkey", required=True, help="The operator vkey you trust (or a file holding it).")
@click.option(
    "--witness",
    "witnesses",
    multiple=True,
    help="A witness cosignature/v1 vkey you trust (repeatable).",
)
@click.option(
    "--min-witnesses",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="How many of the --witness keys must have cosigned the bundle's checkpoint.",
)
@click.option("--url", help="Fetch the bundle from this FairLedger server instead of a file.")
@click.option("--lot", help="With --url: the lot (LGTIN URN or GS1 Digital Link).")
@click.option(
    "--save",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --url: also keep the fetched bundle in this file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def verify_lot_command(
    bundle: Path | None,
    vkey: str,
    witnesses: tuple[str, ...],
    min_witnesses: int,
    url: str | None,
    lot: str | None,
    save: Path | None,
    as_json: bool,
) -> None:
    """Check a lot's proof BUNDLE offline and print its verified provenance."""
    root = click.get_current_context().find_root()
    as_json = as_json or bool(root.params.get("as_json"))
    sys.exit(
        run_verify_lot(bundle, vkey, witnesses, min_witnesses, as_json, url=url, lot=lot, save=save)
    )

"""``fairledger settle`` and ``fairledger audit``: the contract engine on the command line.

Register with the main group::

    from api.settle_cli import audit, settle
    main.add_command(settle)
    main.add_command(audit)

The commands read ``ctx.obj`` (``api.cli``'s context: ``settings``, ``as_json`` and
``operator_key()``). Settling a revenue-share contract needs lot provenance: build the
commands with ``make_settle_command(provenance=...)`` once the traceability projection can
provide it; the default refuses such a settlement rather than guess. Exit codes as ``api.cli``:
0 success, 1 refused or failed, 3 database unavailable. The clock is read here only.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import NoReturn, Protocol

import click

from api.settings import Settings
from contracts.engine import record_settlement, settle_ledger
from contracts.errors import SettlementInputError
from contracts.provenance import ProvenanceSource, UpstreamContribution
from contracts.reports import ledger_fairness_report, ledger_payments_audit
from contracts.settlement import SettlementStatement
from ledger.errors import LedgerError, StorageError
from ledger.keys import PrivateKey
from ledger.log import Ledger

__all__ = [
    "EXIT_FAILED",
    "EXIT_UNAVAILABLE",
    "CliContext",
    "ProvenanceFactory",
    "UnwiredProvenance",
    "audit",
    "make_audit_group",
    "make_settle_command",
    "settle",
]

EXIT_FAILED = 1
EXIT_UNAVAILABLE = 3


class CliContext(Protocol):
    """What the commands need from ``ctx.obj``."""

    settings: Settings
    as_json: bool

    def operator_key(self) -> PrivateKey: ...


#: Builds the provenance source for an open ledger.
ProvenanceFactory = Callable[[Ledger], ProvenanceSource]


def _open(url: str, operator_key: PrivateKey | None = None) -> Ledger:
    """Every domain plugged in: an append here must keep every projection in step."""
    from api.wiring import open_ledger  # api.wiring builds on this module

    return open_ledger(url, operator_key)


Clock = Callable[[], datetime]


class UnwiredProvenance:
    """The provenance source until lot provenance is wired in: asking it is an error."""

    def contributions(self, lot: str, as_of_seq: int) -> Sequence[UpstreamContribution]:
        raise SettlementInputError(
            f"lot provenance is not available to this command, so the revenue share of sales "
            f"of {lot} cannot be computed; settle with a provenance source"
        )


def _unwired(ledger: Ledger) -> ProvenanceSource:
    return UnwiredProvenance()


def _now() -> datetime:
    return datetime.now(UTC)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except StorageError as exc:
        _fail(exc.message, EXIT_UNAVAILABLE)
    except LedgerError as exc:
        _fail(exc.message, EXIT_FAILED)


def _emit(as_json: bool, data: object, human: str) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        click.echo(human)


def _market_prices(values: tuple[str, ...]) -> dict[tuple[str, date], Decimal]:
    prices: dict[tuple[str, date], Decimal] = {}
    for text in values:
        try:
            key, _, price = text.partition("=")
            gtin, _, day = key.partition("@")
            if len(gtin) != 14 or not gtin.isdigit():
                raise ValueError
            prices[(gtin, date.fromisoformat(day))] = Decimal(price)
        except (ValueError, InvalidOperation):
            raise click.BadParameter(
                f"expected GTIN@YYYY-MM-DD=PRICE (e.g. 07612345000015@2026-07-12=3.50), got "
                f"{text!r}",
                param_hint="--market-price",
            ) from None
    return prices


def _summary(statement: SettlementStatement, recorded: str | None) -> str:
    lines = [
        f"Settlement of {statement.contract_id} for {statement.period} "
        f"(records up to seq {statement.as_of_seq}, issued {statement.issued_on})",
        f"  deliveries priced: {len(statement.deliveries)}, unpriced: {len(statement.unpriced)}",
        f"  revenue-share sales: {len(statement.revenue_shares)}, "
        f"late-payment charges: {len(statement.charges)}",
    ]
    for line in statement.unpriced:
        lines.append(f"  unpriced {line.what} {line.lot}: {line.reason}")
    for obligation in statement.obligations:
        early = ""
        if obligation.early_payment is not None:
            by, price = obligation.early_payment
            early = f" ({price.amount} if paid by {by})"
        lines.append(
            f"  {obligation.payer} owes {obligation.payee} {obligation.amount} "
            f"[{obligation.kind}] due {obligation.due_on}{early}"
        )
    if not statement.obligations:
        lines.append("  nothing is owed")
    lines.append(f"  statement hash {statement.hash}")
    if recorded is not None:
        lines.append(recorded)
    return "\n".join(lines)


def make_settle_command(
    provenance: ProvenanceFactory = _unwired, clock: Clock = _now
) -> click.Command:
    """The ``settle`` command, with the given provenance source and clock."""

    @click.command("settle")
    @click.argument("contract")
    @click.option("--period", required=True, help="Month to settle, YYYY-MM.")
    @click.option("--record", is_flag=True, help="Record the statement as the operator.")
    @click.option("--as-of-seq", type=int, help="Settle records up to this seq [default: all].")
    @click.option("--issued-on", help="Issue date YYYY-MM-DD [default: the period's last day].")
    @click.option(
        "--market-price",
        multiple=True,
        help="GTIN@YYYY-MM-DD=PRICE, a market price per unit for market-priced products.",
    )
    @click.pass_obj
    def settle(
        ctx: CliContext,
        contract: str,
        period: str,
        record: bool,
        as_of_seq: int | None,
        issued_on: str | None,
        market_price: tuple[str, ...],
    ) -> None:
        """Settle CONTRACT for one month; print the statement, optionally record it."""
        prices = _market_prices(market_price)
        try:
            issued = date.fromisoformat(issued_on) if issued_on else None
        except ValueError:
            raise click.BadParameter("expected YYYY-MM-DD", param_hint="--issued-on") from None
        with _errors():
            key = ctx.operator_key() if record else None
            ledger = _open(ctx.settings.url, operator_key=key)
            try:
                statement = settle_ledger(
                    ledger,
                    contract,
                    period,
                    provenance(ledger),
                    as_of_seq=as_of_seq,
                    market_prices=prices,
                    issued_on=issued,
                )
                recorded = None
                seq = None
                if key is not None:
                    result = record_settlement(ledger, statement, key, now=clock())
                    seq = result.receipt.seq
                    recorded = (
                        f"Recorded as seq {seq}"
                        if result.created
                        else f"Already recorded as seq {seq}"
                    )
            finally:
                ledger.close()
        _emit(
            ctx.as_json,
            {"statement": statement.to_json(), "hash": statement.hash, "recorded_seq": seq},
            _summary(statement, recorded),
        )

    return settle


def make_audit_group(clock: Clock = _now) -> click.Group:
    """The ``audit`` group (``payments``, ``fairness``) with the given clock."""

    @click.group("audit")
    def audit() -> None:
        """Payments audit and fairness metrics from the ledger's records."""

    @audit.command("payments")
    @click.option("--as-of", help="Day to audit on, YYYY-MM-DD [default: today, UTC].")
    @click.pass_obj
    def payments(ctx: CliContext, as_of: str | None) -> None:
        """Owed, paid, days late, interest per obligation and party; payment practices."""
        try:
            day = date.fromisoformat(as_of) if as_of else clock().date()
        except ValueError:
            raise click.BadParameter("expected YYYY-MM-DD", param_hint="--as-of") from None
        with _errors():
            ledger = _open(ctx.settings.url)
            try:
                report = ledger_payments_audit(ledger, day)
            finally:
                ledger.close()
        lines = [f"Payments audit as of {day}"]
        for party in report.parties:
            lines.append(
                f"  {party.party} {party.period} as {party.role}: owed {party.owed.amount}, "
                f"paid {party.paid.amount}, outstanding {party.outstanding.amount} "
                f"{party.currency.code}; {party.late} late (max {party.max_days_late} days), "
                f"interest {party.interest.amount}, compensation {party.compensation.amount}"
            )
        for practice in report.practices:
            average = practice.to_json()["average_days_to_pay"]
            shown = average["decimal"] if isinstance(average, dict) else "-"
            lines.append(
                f"  {practice.payer}: {practice.paid}/{practice.invoices} invoices paid, "
                f"average {shown} days, {practice.overdue_unpaid} overdue"
            )
        _emit(ctx.as_json, report.to_json(), "\n".join(lines))

    @audit.command("fairness")
    @click.option("--period", help="Only this month, YYYY-MM [default: every settled month].")
    @click.pass_obj
    def fairness(ctx: CliContext, period: str | None) -> None:
        """Producer share of end revenue, value distribution (Gini), floor findings."""
        with _errors():
            ledger = _open(ctx.settings.url)
            try:
                report = ledger_fairness_report(ledger, period=period)
            finally:
                ledger.close()
        data = report.to_json()
        lines = ["Fairness report"]
        for share in report.producer_shares:
            ratio = share.to_json()["share"]
            shown = ratio["decimal"] if isinstance(ratio, dict) else "-"
            lines.append(
                f"  {share.contract_id} {share.period}: producers earned "
                f"{(share.producer_goods + share.producer_revenue_share).amount} of "
                f"{share.end_revenue.amount} {share.end_revenue.currency.code} end revenue "
                f"(share {shown})"
            )
        for distribution in report.distributions:
            ratio = distribution.to_json()["gini"]
            shown = ratio["decimal"] if isinstance(ratio, dict) else "-"
            lines.append(
                f"  {distribution.period} {distribution.currency.code}: "
                f"{len(distribution.values)} participants, Gini {shown}"
            )
        for finding in report.floor_findings:
            lines.append(f"  floor: {finding.contract_id} v{finding.version}: {finding.detail}")
        _emit(ctx.as_json, data, "\n".join(lines))

    return audit


settle = make_settle_command()
audit = make_audit_group()

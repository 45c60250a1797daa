"""Composition: the one place that knows every domain plugged into the ledger.

``ledger`` cannot import ``contracts`` (DESIGN §1), so the full rule set — the core rules, the
traceability validators and projection, the contract validators and projection — is put
together here, in ``api/``, and everything that opens a ledger for real (the CLI, the HTTP
app, the demo, restore) goes through these functions. The auditor replays the same
validators.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from api.settle_cli import make_settle_command
from contracts.projection import ContractProjection
from contracts.provenance import UpstreamContribution, decimal_share
from contracts.validators import CONTRACT_VALIDATORS
from ledger.keys import PrivateKey
from ledger.log import Ledger, Projection
from ledger.state import BodyValidator
from ledger.storage.trace import TraceProjection
from ledger.trace import service as trace_service
from ledger.trace.errors import UnknownLotError
from ledger.trace.rules import TRACE_VALIDATORS


def validators() -> dict[str, BodyValidator]:
    """Every domain's statement-body validators, by kind."""
    return {**TRACE_VALIDATORS, **CONTRACT_VALIDATORS}


def projections() -> Sequence[Projection]:
    """Every domain's projections (fresh instances: they hold no state between batches)."""
    return [TraceProjection(), ContractProjection()]


def open_ledger(url: str, operator_key: PrivateKey | None = None) -> Ledger:
    """Open the ledger at ``url`` with all domains plugged in.

    Raises ``LedgerNotInitializedError`` if there is none, ``LedgerError`` if the operator key
    does not match the genesis record."""
    return Ledger.open(
        url, operator_key=operator_key, validators=validators(), projections=projections()
    )


def create_ledger(
    url: str, *, origin: str, operator_id: str, operator_key: PrivateKey, now: datetime
) -> Ledger:
    """Create a ledger at ``url`` (schema and genesis) with all domains plugged in."""
    return Ledger.create(
        url,
        origin=origin,
        operator_id=operator_id,
        operator_key=operator_key,
        now=now,
        validators=validators(),
        projections=projections(),
    )


class TraceProvenance:
    """The contract engine's ``ProvenanceSource`` answered by the traceability projection:
    every origin lot of a sold lot (upstream, made by no transformation), the participant
    that produced it, the exact share of the sold lot that came from it (rounded down to
    ``SHARE_PLACES`` by ``decimal_share`` only if it has no finite decimal form), and the
    records proving it."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def contributions(self, lot: str, as_of_seq: int) -> Sequence[UpstreamContribution]:
        try:
            answer = trace_service.provenance(self.ledger, lot, as_of_seq=as_of_seq)
        except UnknownLotError:
            return []
        # Only origin lots (made by no transformation in the answer) contribute: an
        # intermediate lot's share is already carried by its inputs, and counting both would
        # make the shares add up to more than the whole (contracts.provenance).
        made = {link.output_lot for link in answer.links}
        return [
            UpstreamContribution(
                traced.lot, traced.producers[0], decimal_share(traced.share), traced.seqs
            )
            for traced in answer.lots
            if traced.lot not in made and traced.share is not None and traced.producers
        ]


#: ``fairledger settle``: settlement over the real lot provenance.
settle_command = make_settle_command(provenance=TraceProvenance)

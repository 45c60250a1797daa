"""``GET /v1/ledger`` and ``GET /v1/checkpoint``: who runs the ledger and its signed head."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from api.problems import problem_responses
from api.routes.cosignatures import checkpoint_with_cosignatures
from api.routes.deps import LedgerDep
from api.schemas import EXAMPLE_CHECKPOINT, EXAMPLE_LEDGER, LedgerPublic, json_example
from ledger.errors import LedgerNotInitializedError
from ledger.log import Ledger

router = APIRouter(tags=["ledger"])


def _describe(ledger: Ledger) -> LedgerPublic:
    with ledger.store.read() as tx:  # size and checkpoint from one snapshot
        size = tx.size()
        found = tx.checkpoint()
    if found is None:
        raise LedgerNotInitializedError("the ledger has no checkpoint")
    return LedgerPublic(
        origin=ledger.origin,
        operator=ledger.operator_id,
        vkey=ledger.verifier.vkey,
        public_key=ledger.operator_public_key.b64,
        size=size,
        checkpoint=found[2],
    )


@router.get(
    "/v1/ledger",
    response_model=LedgerPublic,
    responses={200: json_example(EXAMPLE_LEDGER, "The ledger"), **problem_responses()},
)
def get_ledger_info(ledger: LedgerDep) -> LedgerPublic:
    """Origin, operator verifier key, size and latest checkpoint."""
    return _describe(ledger)


@router.get(
    "/v1/checkpoint",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "The latest checkpoint, a C2SP signed note",
            "content": {"text/plain": {"example": EXAMPLE_CHECKPOINT}},
        },
        **problem_responses(),
    },
)
def get_checkpoint(ledger: LedgerDep) -> PlainTextResponse:
    """The latest checkpoint as a signed note (text/plain), with its witness cosignatures."""
    return PlainTextResponse(checkpoint_with_cosignatures(ledger))

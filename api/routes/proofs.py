"""``GET /v1/proofs/inclusion`` and ``GET /v1/proofs/consistency``: RFC 9162 proofs, hex."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query

from api.problems import InvalidRangeError, problem_responses
from api.routes.deps import LedgerDep
from api.schemas import (
    EXAMPLE_CONSISTENCY,
    EXAMPLE_INCLUSION,
    ConsistencyProofPublic,
    InclusionProofPublic,
    json_example,
)
from ledger.canonical import MAX_SAFE_INTEGER
from ledger.errors import MalformedStatementError

router = APIRouter(tags=["proofs"])


def _size(description: str, example: int) -> object:
    return Query(ge=0, le=MAX_SAFE_INTEGER, description=description, examples=[example])


SeqQuery = Annotated[int, _size("Record sequence number", 12)]
SizeQuery = Annotated[int, _size("Tree size the proof is against", 13)]
OldQuery = Annotated[int, _size("Older tree size", 8)]
NewQuery = Annotated[int, _size("Newer tree size", 13)]


def _hexes(prove: Callable[[], list[bytes]], field: str) -> list[str]:
    """Run a proof; a range the tree does not have becomes a 400 ``invalid-range``."""
    try:
        return [h.hex() for h in prove()]
    except MalformedStatementError as exc:
        raise InvalidRangeError(exc.message, field=field) from exc


@router.get(
    "/v1/proofs/inclusion",
    response_model=InclusionProofPublic,
    responses={
        200: json_example(EXAMPLE_INCLUSION, "Inclusion proof"),
        **problem_responses("invalid-request", "invalid-range"),
    },
)
def inclusion(seq: SeqQuery, size: SizeQuery, ledger: LedgerDep) -> InclusionProofPublic:
    """Inclusion proof of record ``seq`` in the tree of ``size`` records."""
    proof = _hexes(lambda: ledger.inclusion_proof(seq, size), "query.size")
    return InclusionProofPublic(seq=seq, size=size, proof=proof)


@router.get(
    "/v1/proofs/consistency",
    response_model=ConsistencyProofPublic,
    responses={
        200: json_example(EXAMPLE_CONSISTENCY, "Consistency proof"),
        **problem_responses("invalid-request", "invalid-range"),
    },
)
def consistency(old: OldQuery, new: NewQuery, ledger: LedgerDep) -> ConsistencyProofPublic:
    """Consistency proof between tree sizes ``old`` and ``new``."""
    proof = _hexes(lambda: ledger.consistency_proof(old, new), "query.new")
    return ConsistencyProofPublic(old=old, new=new, proof=proof)

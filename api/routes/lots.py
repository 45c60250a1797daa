"""``GET /v1/lots``, ``/v1/lots/provenance``, ``/v1/lots/recall``: a lot's summary, its trace
back and its trace forward (DESIGN §4, §8).

``lot`` is any GS1 lot syntax (an LGTIN URN ``urn:epc:class:lgtin:...``, a GS1 Digital Link
``https://id.gs1.org/01/<gtin>/10/<lot>`` or an element string); answers name lots in the
Digital Link normal form. A malformed lot is a 400 ``malformed-identifier`` problem naming
``query.lot``; a lot no record names is a 404 ``unknown-lot``. Each answer is read in one
database snapshot.

Provenance is public unless ``ApiSettings.public_provenance`` is off; then these reads (and
the traceability exports) need an RFC 9421 signature by a registered participant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response

from api.auth import Signer, signed_participant
from api.problems import InvalidRequestError, problem_responses
from api.routes.deps import LedgerDep, NowDep, SettingsDep, json_response
from api.schemas import json_example
from api.schemas_trace import (
    EXAMPLE_LOT,
    EXAMPLE_LOT_SUMMARY,
    EXAMPLE_PROVENANCE,
    EXAMPLE_RECALL,
    LotSummaryPublic,
    ProvenancePublic,
    RecallPublic,
)
from ledger.canonical import MAX_SAFE_INTEGER
from ledger.log import Ledger
from ledger.storage.store import Reader
from ledger.storage.trace import lot_summary, trace_back, trace_forward
from ledger.trace.errors import MalformedIdentifierError, UnknownLotError
from ledger.trace.identifiers import normalize_lot

__all__ = [
    "LOT_PROBLEMS",
    "SIGNATURE_PROBLEMS",
    "LotQuery",
    "ProvenanceReader",
    "lot_errors",
    "normal_lot",
    "provenance_reader",
    "router",
]

router = APIRouter(tags=["lots"])

T = TypeVar("T")

LotQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=512,
        description="The lot: LGTIN URN (urn:epc:class:lgtin:...) or GS1 Digital Link "
        "(https://id.gs1.org/01/<gtin>/10/<lot>).",
        examples=[EXAMPLE_LOT, "urn:epc:class:lgtin:9506000.134352.WHEAT-2026-11"],
    ),
]
AsOfQuery = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_SAFE_INTEGER,
        description="Count only the records up to this seq (what the ledger said then).",
        examples=[120],
    ),
]

#: RFC 9421 failures, documented on every read that ``public_provenance=false`` guards.
SIGNATURE_PROBLEMS = (
    "request-signature-missing",
    "request-signature-invalid",
    "request-signature-stale",
    "request-signature-replayed",
    "request-key-not-active",
)
LOT_PROBLEMS = ("invalid-request", "malformed-identifier", "unknown-lot", *SIGNATURE_PROBLEMS)


async def provenance_reader(
    request: Request, ledger: LedgerDep, settings: SettingsDep, now: NowDep
) -> Signer | None:
    """None while provenance is public; otherwise the registered participant who signed the
    request (401 if nobody did)."""
    if settings.public_provenance:
        return None
    return await signed_participant(request, ledger, settings, now)


ProvenanceReader = Annotated[Signer | None, Depends(provenance_reader)]


def normal_lot(text: str, field: str = "query.lot") -> str:
    """``text`` in the lot normal form; raises ``MalformedIdentifierError`` naming ``field``."""
    try:
        return normalize_lot(text)
    except MalformedIdentifierError as exc:
        raise MalformedIdentifierError(f"{field}: {exc.message}", field=field) from exc


@contextmanager
def lot_errors(field: str = "query.lot") -> Iterator[None]:
    """An unknown lot reported against the query parameter that named it."""
    try:
        yield
    except UnknownLotError as exc:
        raise UnknownLotError(exc.message, field=field) from exc


def _read(ledger: Ledger, lot: str, query: Callable[[Reader, str], T]) -> T:
    with lot_errors(), ledger.store.read() as reader:
        return query(reader, lot)


@router.get(
    "/v1/lots",
    response_model=LotSummaryPublic,
    responses={
        200: json_example(EXAMPLE_LOT_SUMMARY, "The lot: balances, shipments, links, records"),
        **problem_responses(*LOT_PROBLEMS),
    },
)
def get_lot(lot: LotQuery, ledger: LedgerDep, reader: ProvenanceReader) -> Response:
    """A lot's summary: who holds how much, open shipments, pallets, direct inputs and
    outputs, and the records naming it."""
    found = _read(ledger, normal_lot(lot), lot_summary)
    return json_response(found.to_json())


@router.get(
    "/v1/lots/provenance",
    response_model=ProvenancePublic,
    responses={
        200: json_example(EXAMPLE_PROVENANCE, "Every upstream lot, with shares and proof"),
        **problem_responses(*LOT_PROBLEMS),
    },
)
def get_provenance(
    lot: LotQuery,
    ledger: LedgerDep,
    reader: ProvenanceReader,
    as_of_seq: AsOfQuery = None,
) -> Response:
    """Trace back: every upstream lot, its share of this lot, the events, parties and
    locations, and the seq of every record proving a step."""
    name = normal_lot(lot)
    with lot_errors(), ledger.store.read() as tx:
        if as_of_seq is not None:
            size = tx.size()
            if as_of_seq >= size:
                raise InvalidRequestError(
                    f"query.as_of_seq: {as_of_seq} is beyond the last record ({size - 1})",
                    field="query.as_of_seq",
                )
        found = trace_back(tx, name, as_of_seq=as_of_seq)
    return json_response(found.to_json())


@router.get(
    "/v1/lots/recall",
    response_model=RecallPublic,
    responses={
        200: json_example(EXAMPLE_RECALL, "Every downstream lot and who still holds it"),
        **problem_responses(*LOT_PROBLEMS),
    },
)
def get_recall(lot: LotQuery, ledger: LedgerDep, reader: ProvenanceReader) -> Response:
    """Trace forward (recall): every downstream lot, the share of it that came from this
    lot, and every holder or open shipment with some of it left."""
    found = _read(ledger, normal_lot(lot), trace_forward)
    return json_response(found.to_json())

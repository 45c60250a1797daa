"""``GET /v1/records/{seq}`` and ``GET /v1/records``: records with their entry hashes.

Each record is served in the export file's record-line shape,
``{"entry_hash": ..., "record": <leaf bytes>, "seq": n}``, spliced from the stored canonical
leaf: what a client receives as ``record`` re-canonicalises to exactly the hashed bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.problems import NotFoundError, problem_responses
from api.routes.deps import LedgerDep
from api.schemas import EXAMPLE_RECORD_JSON, RecordList, RecordPublic, json_example
from ledger.canonical import MAX_SAFE_INTEGER
from ledger.log import Ledger
from ledger.storage.store import StoredRecord

router = APIRouter(tags=["records"])

MAX_PAGE = 1000
SeqPath = Annotated[
    int, Path(ge=0, le=MAX_SAFE_INTEGER, description="Record sequence number", examples=[12])
]
StartQuery = Annotated[
    int, Query(ge=0, le=MAX_SAFE_INTEGER, description="First seq of the page", examples=[0])
]
LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_PAGE, description="Records per page (1..1000)", examples=[100])
]


def record_line(stored: StoredRecord) -> bytes:
    return b"".join(
        (
            b'{"entry_hash":"',
            stored.entry_hash.hex().encode("ascii"),
            b'","record":',
            stored.leaf,
            b',"seq":',
            str(stored.seq).encode("ascii"),
            b"}",
        )
    )


def _one(ledger: Ledger, seq: int) -> bytes:
    with ledger.store.read() as tx:
        stored = tx.record(seq)
        size = tx.size() if stored is None else 0
    if stored is None:
        raise NotFoundError(f"no record {seq}: the ledger holds {size} records", seq=seq)
    return record_line(stored)


def _page(ledger: Ledger, start: int, limit: int) -> bytes:
    rows: Sequence[StoredRecord] = ledger.stored_records(start, limit + 1)
    following = rows[limit].seq if len(rows) > limit else None
    lines = b",".join(record_line(r) for r in rows[:limit])
    next_start = b"null" if following is None else str(following).encode("ascii")
    return b'{"next":' + next_start + b',"records":[' + lines + b"]}"


@router.get(
    "/v1/records/{seq}",
    response_model=RecordPublic,
    responses={
        200: json_example(EXAMPLE_RECORD_JSON, "The record"),
        **problem_responses("invalid-request", "not-found"),
    },
)
def get_record(seq: SeqPath, ledger: LedgerDep) -> Response:
    """One record and its entry hash."""
    return Response(_one(ledger, seq), media_type="application/json")


@router.get(
    "/v1/records",
    response_model=RecordList,
    responses={
        200: json_example({"records": [EXAMPLE_RECORD_JSON], "next": 13}, "A page of records"),
        **problem_responses("invalid-request"),
    },
)
def list_records(ledger: LedgerDep, start: StartQuery = 0, limit: LimitQuery = 100) -> Response:
    """A page of records from ``start``; ``next`` is the following page's start."""
    return Response(_page(ledger, start, limit), media_type="application/json")

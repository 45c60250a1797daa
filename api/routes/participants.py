"""``GET /v1/participants`` and ``GET /v1/participants/{id}``: participants, roles, keys.

Read from the participant and key projections, which are updated in the same transaction as
each append. Pages are in participant id order; the cursor is the last id of a page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.problems import NotFoundError, problem_responses
from api.routes.deps import LedgerDep
from api.schemas import (
    EXAMPLE_PARTICIPANT,
    EXAMPLE_PARTICIPANTS,
    KeyPublic,
    ParticipantList,
    ParticipantPublic,
    json_example,
)
from ledger.log import Ledger

router = APIRouter(tags=["participants"])

MAX_PAGE = 1000
_ID = r"^[a-z0-9][a-z0-9._-]{1,62}$"
IdPath = Annotated[str, Path(pattern=_ID, max_length=63, examples=["farm-hillside"])]
CursorQuery = Annotated[
    str | None,
    Query(pattern=_ID, max_length=63, description="Last id of the page before", examples=["mill"]),
]
LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_PAGE, description="Participants per page (1..1000)", examples=[100])
]


def _key(row: dict[str, object]) -> KeyPublic:
    return KeyPublic.model_validate({**row, "active": row["retired_seq"] is None})


def _participant(row: dict[str, object], keys: list[KeyPublic]) -> ParticipantPublic:
    roles = str(row["roles"])
    return ParticipantPublic.model_validate(
        {**row, "roles": [r for r in roles.split(",") if r], "keys": keys}
    )


def _list(ledger: Ledger, cursor: str | None, limit: int) -> ParticipantList:
    with ledger.store.read() as tx:
        rows = [r for r in tx.participant_rows() if cursor is None or str(r["id"]) > cursor]
        page = rows[:limit]
        wanted = {str(r["id"]) for r in page}
        keys: dict[str, list[KeyPublic]] = {}
        for key in tx.key_rows():
            if str(key["participant"]) in wanted:
                keys.setdefault(str(key["participant"]), []).append(_key(key))
    found = [_participant(r, keys.get(str(r["id"]), [])) for r in page]
    following = str(page[-1]["id"]) if len(rows) > limit else None
    return ParticipantList(participants=found, next=following)


def _one(ledger: Ledger, pid: str) -> ParticipantPublic:
    with ledger.store.read() as tx:
        row = next((r for r in tx.participant_rows() if r["id"] == pid), None)
        keys = [_key(k) for k in tx.key_rows(pid)]
    if row is None:
        raise NotFoundError(f"no participant {pid}", field="path.id")
    return _participant(row, keys)


@router.get(
    "/v1/participants",
    response_model=ParticipantList,
    responses={
        200: json_example(EXAMPLE_PARTICIPANTS, "A page of participants"),
        **problem_responses("invalid-request"),
    },
)
def list_participants(
    ledger: LedgerDep, cursor: CursorQuery = None, limit: LimitQuery = 100
) -> ParticipantList:
    """Participants in id order, with their keys; ``next`` is the following page's cursor."""
    return _list(ledger, cursor, limit)


@router.get(
    "/v1/participants/{id}",
    response_model=ParticipantPublic,
    responses={
        200: json_example(EXAMPLE_PARTICIPANT, "The participant"),
        **problem_responses("invalid-request", "not-found"),
    },
)
def get_participant(id: IdPath, ledger: LedgerDep) -> ParticipantPublic:
    """One participant, its roles, GLN and every key with its validity."""
    return _one(ledger, id)

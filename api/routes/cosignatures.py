"""``POST /v1/checkpoint/cosignatures``: witnesses add their cosignatures (C2SP
``tlog-cosignature`` v1) to checkpoints the ledger signed; ``GET /v1/checkpoint`` then serves
the checkpoint with every cosignature held (``checkpoint_with_cosignatures``).

The body is ``text/plain``: either a cosigned checkpoint note (the checkpoint exactly as the
ledger signed it, followed by signature lines; the operator's own line may stay) or bare
cosignature lines with ``?size=`` naming the checkpoint. Only witness keys in the settings'
``trusted_witnesses`` are accepted; each of their lines must verify over the checkpoint the
ledger signed at that size. Stored lines are append-only: the same line again answers 200,
another line by the same witness key for the same checkpoint 409.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.problems import UnsupportedMediaTypeError, problem_responses
from api.routes.deps import LedgerDep, SettingsDep, json_response
from api.schemas import EXAMPLE_CHECKPOINT, json_example
from ledger.canonical import MAX_SAFE_INTEGER
from ledger.errors import LedgerNotInitializedError, MalformedNoteError
from ledger.keys import PrivateKey
from ledger.log import Ledger
from ledger.note import (
    Checkpoint,
    CosignatureSigner,
    CosignatureVerifier,
    NoteSignature,
    add_signature_lines,
    parse_note,
)
from ledger.storage.cosignatures import (
    StoredCosignature,
    cosignature_lines,
    find_cosignature,
    insert_cosignature,
)
from ledger.witness import (
    CosignatureConflictError,
    UnknownCheckpointError,
    check_submitted_cosignatures,
    parse_submission,
)

router = APIRouter(tags=["witnesses"])

# -- example -----------------------------------------------------------------------------------

_EXAMPLE_WITNESS = CosignatureSigner(
    "witness.example.org",
    PrivateKey.from_seed(hashlib.sha256(b"fairledger-openapi-example:witness").digest()),
)
_EXAMPLE_TIME = int(datetime(2026, 11, 22, 10, 5, tzinfo=UTC).timestamp())
_EXAMPLE_LINE = _EXAMPLE_WITNESS.cosign(
    Checkpoint.from_body(parse_note(EXAMPLE_CHECKPOINT).body), _EXAMPLE_TIME
)
EXAMPLE_WITNESS_VKEY = _EXAMPLE_WITNESS.vkey
EXAMPLE_COSIGNED = add_signature_lines(EXAMPLE_CHECKPOINT, [_EXAMPLE_LINE])


class CosignaturesPublic(BaseModel):
    """What the ledger holds for a checkpoint after a submission."""

    model_config = ConfigDict(frozen=True)

    size: int = Field(description="Size of the cosigned checkpoint", examples=[13])
    stored: list[str] = Field(description="Witnesses whose cosignature was stored now")
    already_stored: list[str] = Field(
        description="Witnesses whose identical cosignature was already stored"
    )
    checkpoint: str = Field(description="The checkpoint with every cosignature held")


_EXAMPLE_ANSWER = {
    "size": 13,
    "stored": [_EXAMPLE_WITNESS.name],
    "already_stored": [],
    "checkpoint": EXAMPLE_COSIGNED,
}

# -- reading -----------------------------------------------------------------------------------


def checkpoint_with_cosignatures(ledger: Ledger, size: int | None = None) -> str:
    """The checkpoint at ``size`` (default: the latest) with every stored cosignature.
    Raises ``LedgerNotInitializedError`` if there is no such checkpoint."""
    note = ledger.latest_checkpoint() if size is None else ledger.checkpoint_at(size)
    if note is None:
        raise LedgerNotInitializedError(f"the ledger has no checkpoint of size {size}")
    with ledger.store.read() as tx:  # append-only: later reads only add lines
        lines = cosignature_lines(tx, Checkpoint.from_body(parse_note(note).body).size)
    if not lines:
        return note
    return add_signature_lines(note, [NoteSignature.from_line(line) for line in lines])


# -- the endpoint ------------------------------------------------------------------------------


async def text_body(request: Request) -> str:
    """The raw ``text/plain`` (UTF-8) request body."""
    media, _, params = (request.headers.get("content-type") or "").partition(";")
    if media.strip().lower() != "text/plain":
        raise UnsupportedMediaTypeError(
            f"send the cosignature as text/plain, not {media.strip() or 'no content type'}"
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            raise UnsupportedMediaTypeError("cosignatures must be sent as UTF-8")
    try:
        return (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedNoteError("the body is not valid UTF-8") from exc


TextBody = Annotated[str, Depends(text_body)]
SizeQuery = Annotated[
    int | None,
    Query(
        ge=1,
        le=MAX_SAFE_INTEGER,
        description="Size of the checkpoint that bare cosignature lines sign",
        examples=[13],
    ),
]


def _answer(data: CosignaturesPublic, status: int) -> Response:
    return json_response(data.model_dump(), status)


def add_cosignatures(
    ledger: Ledger, text: str, size: int | None, trusted: Sequence[CosignatureVerifier]
) -> tuple[CosignaturesPublic, bool]:
    """Verify and store the trusted witnesses' cosignatures in ``text``, all or nothing;
    returns the answer and whether anything new was stored."""
    checkpoint_size, submitted_body, lines = parse_submission(text, size)
    with ledger.store.read() as tx:
        found = tx.checkpoint(checkpoint_size)
    if found is None:
        raise UnknownCheckpointError(
            f"the ledger signed no checkpoint of size {checkpoint_size}",
            expected="the size of a checkpoint the ledger signed",
            observed=str(checkpoint_size),
        )
    accepted = check_submitted_cosignatures(found[2], submitted_body, lines, trusted)
    stored: list[str] = []
    already: list[str] = []
    with ledger.store.write() as tx:
        for item in accepted:
            key_id = item.signature.key_id.hex()
            line = item.signature.line().rstrip("\n")
            existing = find_cosignature(tx, checkpoint_size, item.witness.name, key_id)
            if existing is None:
                insert_cosignature(
                    tx,
                    StoredCosignature(
                        checkpoint_size, item.witness.name, key_id, item.timestamp, line
                    ),
                )
                stored.append(item.witness.name)
            elif existing.line == line:
                already.append(item.witness.name)
            else:
                raise CosignatureConflictError(
                    f"witness {item.witness.name}+{key_id} already cosigned the checkpoint of "
                    f"size {checkpoint_size} with another line"
                )
    note = checkpoint_with_cosignatures(ledger, checkpoint_size)
    answer = CosignaturesPublic(
        size=checkpoint_size, stored=stored, already_stored=already, checkpoint=note
    )
    return answer, bool(stored)


@router.post(
    "/v1/checkpoint/cosignatures",
    status_code=201,
    response_model=CosignaturesPublic,
    responses={
        201: json_example(_EXAMPLE_ANSWER, "Stored; the checkpoint with every cosignature"),
        200: json_example(
            {**_EXAMPLE_ANSWER, "stored": [], "already_stored": [_EXAMPLE_WITNESS.name]},
            "Already stored (a resubmission)",
        ),
        **problem_responses(
            "malformed-note",
            "invalid-request",
            "unknown-witness",
            "cosignature-conflict",
            "cosignature-invalid",
            "checkpoint-unknown",
            "payload-too-large",
            "unsupported-media-type",
        ),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/plain": {"schema": {"type": "string"}, "example": EXAMPLE_COSIGNED}},
        }
    },
)
def post_cosignatures(
    body: TextBody, ledger: LedgerDep, settings: SettingsDep, size: SizeQuery = None
) -> Response:
    """Add a trusted witness's cosignature/v1 to a checkpoint the ledger signed."""
    answer, created = add_cosignatures(ledger, body, size, settings.witness_verifiers)
    return _answer(answer, 201 if created else 200)

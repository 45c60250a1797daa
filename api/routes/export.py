"""``GET /v1/export``: the whole ledger as JSON Lines, for auditors and the operator.

The export (``ledger.export``, format ``fairledger-export/v1``) is written into a spooled
temporary file, in memory up to 8 MiB and on disk beyond, then streamed in 64 KiB chunks, so
memory does not grow with the ledger and a slow reader holds no database transaction open.
"""

from __future__ import annotations

from collections.abc import Iterator
from tempfile import SpooledTemporaryFile
from typing import IO, BinaryIO, cast

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api.auth import AuditorOrOperator
from api.problems import problem_responses
from api.routes.deps import LedgerDep
from api.schemas import EXAMPLE_EXPORT
from ledger.export import export_ledger
from ledger.log import Ledger

router = APIRouter(tags=["export"])

JSONL = "application/jsonl"
_SPOOL_BYTES = 8 << 20
_CHUNK = 64 << 10


def _chunks(spool: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := spool.read(_CHUNK):
            yield chunk
    finally:
        spool.close()


def _spool(ledger: Ledger) -> IO[bytes]:
    spool: IO[bytes] = SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - closed by _chunks
    try:
        export_ledger(ledger, cast(BinaryIO, spool))
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


@router.get(
    "/v1/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The ledger as JSON Lines (fairledger-export/v1)",
            "content": {JSONL: {"schema": {"type": "string"}, "example": EXAMPLE_EXPORT}},
        },
        **problem_responses(
            "request-signature-missing",
            "request-signature-invalid",
            "request-signature-stale",
            "request-signature-replayed",
            "request-key-not-active",
            "forbidden",
        ),
    },
)
def export(ledger: LedgerDep, signer: AuditorOrOperator) -> StreamingResponse:
    """The whole ledger as JSON Lines (RFC 9421-signed by an auditor or the operator)."""
    return StreamingResponse(
        _chunks(_spool(ledger)),
        media_type=JSONL,
        headers={"Content-Disposition": 'attachment; filename="ledger.jsonl"'},
    )

"""``POST /v1/statements`` and ``POST /v1/statements/batch``: append signed statements.

The raw body is parsed strictly by ``Submission.parse`` (duplicate keys, floats, bad UTF-8 and
lone surrogates refused) and never re-serialised: the signature covers the statement's exact
canonical bytes.

A single submission is parsed, its signature verified and its body pre-validated on the event
loop, then queued with ``ledger.submit_nowait`` for the ledger's committer thread, which
group-commits everything queued meanwhile; the request awaits its outcome without holding a
worker thread. The batch endpoint is a plain ``def`` (FastAPI runs it in its thread pool):
it is one transaction of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from fastapi import APIRouter, Response

from api.problems import problem_responses
from api.routes.deps import JsonBody, LedgerDep, NowDep, json_response
from api.schemas import (
    EXAMPLE_RECEIPT_JSON,
    EXAMPLE_SUBMISSION_JSON,
    ReceiptList,
    ReceiptPublic,
    json_example,
)
from ledger.canonical import parse_json
from ledger.errors import CanonicalizationError, MalformedError, MalformedStatementError
from ledger.log import MAX_BATCH, AppendResult
from ledger.statement import Submission

router = APIRouter(tags=["statements"])

_REJECTIONS = (
    "malformed-statement",
    "not-canonical",
    "invalid-request",
    "bad-signature",
    "unknown-key",
    "key-not-active",
    "wrong-author",
    "wrong-ledger",
    "duplicate-nonce",
    "conflict",
    "payload-too-large",
    "unsupported-media-type",
)


def _body_doc(schema: str, example: object) -> dict[str, object]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{schema}"},
                    "example": example,
                }
            },
        }
    }


def _receipt_response(result: AppendResult) -> Response:
    seq = result.receipt.seq
    if result.created:
        return json_response(result.receipt.to_json(), 201, {"Location": f"/v1/records/{seq}"})
    return json_response(result.receipt.to_json(), 200, {"Content-Location": f"/v1/records/{seq}"})


class BatchItemError(MalformedStatementError):
    """A batch member that does not parse; keeps the member's own code and its index."""

    def __init__(self, cause: MalformedError, index: int) -> None:
        super().__init__(cause.message, field=cause.field)
        self.code = cause.code
        self.index = index


def parse_batch(body: bytes) -> list[Submission]:
    """``{"submissions": [...]}`` with 1..MAX_BATCH strictly parsed submissions."""
    try:
        value = parse_json(body)
    except CanonicalizationError as exc:
        raise MalformedStatementError(exc.message) from exc
    if not isinstance(value, dict):
        raise MalformedStatementError("a batch must be a JSON object", field="")
    unknown = value.keys() - {"submissions"}
    if unknown:
        raise MalformedStatementError(
            f"batch has unknown field(s) {', '.join(sorted(unknown))}", field=min(unknown)
        )
    items = value.get("submissions")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise MalformedStatementError(
            f"submissions must be a list of 1 to {MAX_BATCH} submissions", field="submissions"
        )
    submissions = []
    for index, item in enumerate(items):
        try:
            submissions.append(Submission.from_json(item))
        except MalformedError as exc:
            raise BatchItemError(exc, index) from exc
    return submissions


def _batch_response(results: Sequence[AppendResult]) -> Response:
    status = 201 if any(r.created for r in results) else 200
    return json_response({"receipts": [r.receipt.to_json() for r in results]}, status)


@router.post(
    "/v1/statements",
    status_code=201,
    response_model=ReceiptPublic,
    responses={
        201: json_example(EXAMPLE_RECEIPT_JSON, "Recorded; Location names the new record"),
        200: json_example(EXAMPLE_RECEIPT_JSON, "A replay: the original receipt"),
        **problem_responses(*_REJECTIONS),
    },
    openapi_extra=_body_doc("SubmissionCreate", EXAMPLE_SUBMISSION_JSON),
)
async def submit_statement(body: JsonBody, ledger: LedgerDep, now: NowDep) -> Response:
    """Append one signed statement; a replay returns the original receipt."""
    submission = Submission.parse(body)
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[AppendResult | Exception] = loop.create_future()

    def done(result: AppendResult | Exception) -> None:  # called in the committer thread
        if not loop.is_closed():  # a server shutting down may have closed it
            loop.call_soon_threadsafe(_settle, outcome, result)

    ledger.submit_nowait(submission, now=now, done=done)
    result = await outcome
    if isinstance(result, Exception):
        raise result
    return _receipt_response(result)


def _settle(
    future: asyncio.Future[AppendResult | Exception], result: AppendResult | Exception
) -> None:
    if not future.done():  # the client may have gone away; the statement is committed anyway
        future.set_result(result)


@router.post(
    "/v1/statements/batch",
    status_code=201,
    response_model=ReceiptList,
    responses={
        201: json_example({"receipts": [EXAMPLE_RECEIPT_JSON]}, "All recorded, in order"),
        200: json_example({"receipts": [EXAMPLE_RECEIPT_JSON]}, "All were replays"),
        **problem_responses(*_REJECTIONS),
    },
    openapi_extra=_body_doc("BatchCreate", {"submissions": [EXAMPLE_SUBMISSION_JSON]}),
)
def submit_batch(body: JsonBody, ledger: LedgerDep, now: NowDep) -> Response:
    """Append up to 1000 statements all-or-nothing; a rejection names its index."""
    return _batch_response(ledger.append(parse_batch(body), now=now))

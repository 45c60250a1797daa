"""RFC 9457 problem details: every failure becomes ``application/problem+json``.

Each ``LedgerError.code`` maps to one HTTP status and one stable ``type`` URI,
``https://fairledger.dev/problems/<code>``. A code missing from ``PROBLEMS`` (a domain error
added later, e.g. ``malformed-event``) keeps its own ``type`` and takes the status of its
nearest mapped ancestor class, so ``MalformedError`` subclasses are 400 and
``RejectedStatementError`` subclasses 422. Problems carry the extensions ``code`` and, when
known, ``field``, ``index`` (position in a batch), ``seq``, ``expected`` and ``observed``.

Storage failures and unexpected exceptions are answered with a fixed ``detail``: no stack
trace, SQL or database message ever reaches a client.

The API's own failures (not found, too large, unauthenticated...) are ``LedgerError``
subclasses defined here, so routes raise them like any library error and one set of
handlers answers them all; routes never raise ``HTTPException``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import (
    LedgerError,
    MalformedError,
    StorageError,
    StorageUnavailableError,
    VerificationError,
)

PROBLEM_BASE = "https://fairledger.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
#: Seconds a client should wait before retrying a 503.
RETRY_AFTER_SECONDS = 1
#: RFC 9421 §5.1: what a 401 asks the client to sign.
ACCEPT_SIGNATURE = 'sig1=("@method" "@authority" "@path" "@query");created;alg="ed25519"'

logger = logging.getLogger("fairledger.api")


@dataclass(frozen=True, slots=True)
class ProblemSpec:
    status: int
    title: str
    #: Fixed detail replacing the error's message (for failures whose message is internal).
    detail: str | None = None


PROBLEMS: dict[str, ProblemSpec] = {
    # malformed input
    "malformed": ProblemSpec(400, "Malformed input"),
    "not-canonical": ProblemSpec(400, "Not acceptable as canonical JSON"),
    "malformed-statement": ProblemSpec(400, "Malformed statement"),
    "malformed-note": ProblemSpec(400, "Malformed signed note"),
    "malformed-key": ProblemSpec(400, "Malformed key"),
    "invalid-request": ProblemSpec(400, "Invalid request parameters"),
    "invalid-range": ProblemSpec(400, "Invalid tree range"),
    # well-formed but refused by a ledger rule
    "rejected": ProblemSpec(422, "Statement rejected"),
    "bad-signature": ProblemSpec(422, "Statement signature does not verify"),
    "unknown-key": ProblemSpec(422, "Unknown key or participant"),
    "key-not-active": ProblemSpec(422, "Key rotated out or revoked"),
    "wrong-author": ProblemSpec(403, "Author may not sign this kind"),
    "wrong-ledger": ProblemSpec(422, "Statement is for another ledger"),
    "duplicate-nonce": ProblemSpec(409, "Nonce already used for another statement"),
    "conflict": ProblemSpec(409, "Statement conflicts with the ledger state"),
    # traceability queries (GET /v1/lots..., /v1/exports/...)
    "malformed-identifier": ProblemSpec(400, "Malformed GS1 identifier"),
    "unknown-lot": ProblemSpec(404, "Unknown lot"),
    # HTTP-level failures
    "not-found": ProblemSpec(404, "Not found"),
    "method-not-allowed": ProblemSpec(405, "Method not allowed"),
    "payload-too-large": ProblemSpec(413, "Request body too large"),
    "unsupported-media-type": ProblemSpec(415, "Unsupported media type"),
    # RFC 9421 request signatures
    "request-signature-missing": ProblemSpec(401, "Request signature required"),
    "request-signature-invalid": ProblemSpec(401, "Request signature invalid"),
    "request-signature-stale": ProblemSpec(401, "Request signature too old or from the future"),
    "request-signature-replayed": ProblemSpec(401, "Request signature replayed"),
    "request-key-unknown": ProblemSpec(401, "Request signed with an unknown key"),
    "request-key-not-active": ProblemSpec(401, "Request signed with a retired key"),
    "forbidden": ProblemSpec(403, "Role not allowed"),
    # witness cosignatures (POST /v1/checkpoint/cosignatures)
    "unknown-witness": ProblemSpec(403, "Witness not trusted by this ledger"),
    "cosignature-invalid": ProblemSpec(422, "Cosignature does not verify"),
    "checkpoint-unknown": ProblemSpec(422, "Not a checkpoint this ledger signed"),
    "cosignature-conflict": ProblemSpec(409, "Witness already cosigned this checkpoint"),
    # server side
    "busy": ProblemSpec(503, "Server busy", "the server is busy; retry shortly"),
    "verification-failed": ProblemSpec(
        500, "Ledger evidence does not verify", "the ledger could not prove this answer"
    ),
    "storage-error": ProblemSpec(
        500, "Storage error", "the ledger's database failed; nothing was written"
    ),
    "not-initialized": ProblemSpec(
        503, "Ledger not initialized", "the ledger has no genesis record yet"
    ),
    "storage-unavailable": ProblemSpec(
        503,
        "Storage unavailable",
        "the ledger's database is temporarily unavailable; nothing was written",
    ),
    "ledger-error": ProblemSpec(500, "Ledger error"),
    "internal-error": ProblemSpec(500, "Internal server error", "an unexpected error occurred"),
}


# -- the API's own errors (one tree with the library's) ------------------------------------


class NotFoundError(LedgerError):
    """No such record, participant or path."""

    code = "not-found"

    def __init__(self, message: str, *, field: str | None = None, seq: int | None = None):
        super().__init__(message, field=field)
        self.seq = seq


class InvalidRequestError(MalformedError):
    """A query, path or body parameter out of its allowed range or shape."""

    code = "invalid-request"


class InvalidRangeError(MalformedError):
    """A proof asked for between tree sizes that do not exist or are out of order."""

    code = "invalid-range"


class MethodNotAllowedError(LedgerError):
    code = "method-not-allowed"


class PayloadTooLargeError(LedgerError):
    code = "payload-too-large"


class UnsupportedMediaTypeError(LedgerError):
    code = "unsupported-media-type"


class UnauthenticatedError(LedgerError):
    """An RFC 9421 signature is missing, invalid, stale, replayed or by an unusable key;
    ``code`` names which (one of the ``request-*`` problems)."""

    code = "request-signature-invalid"

    def __init__(self, message: str, *, code: str = "request-signature-invalid") -> None:
        super().__init__(message)
        if code not in PROBLEMS or PROBLEMS[code].status != 401:
            raise ValueError(f"{code!r} is not a 401 problem")
        self.code = code


class ForbiddenError(LedgerError):
    """The signer is authenticated but its roles do not allow this request."""

    code = "forbidden"


class BusyError(LedgerError):
    """A bounded server resource is full (e.g. the replay cache); retryable."""

    code = "busy"


# -- building problem documents ------------------------------------------------------------


def problem_type(code: str) -> str:
    return PROBLEM_BASE + code


def spec_for(exc: LedgerError) -> tuple[str, ProblemSpec]:
    """The problem code and spec for ``exc``: its own code if mapped, else its code with the
    status of the nearest mapped ancestor."""
    code = str(exc.code)
    if code in PROBLEMS:
        return code, PROBLEMS[code]
    for cls in type(exc).__mro__:
        inherited = getattr(cls, "code", None)
        if isinstance(inherited, str) and inherited in PROBLEMS:
            base = PROBLEMS[inherited]
            title = code.replace("-", " ").capitalize()
            return code, ProblemSpec(base.status, title, base.detail)
    return code, PROBLEMS["ledger-error"]


def _clean(text: str, limit: int = 2000) -> str:
    """Text safe to serialise: lone surrogates replaced, bounded length."""
    safe = text.encode("utf-8", "replace").decode("utf-8")
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"


def problem_document(
    code: str,
    *,
    detail: str,
    instance: str | None = None,
    title: str | None = None,
    status: int | None = None,
    extensions: Mapping[str, object] | None = None,
) -> dict[str, Any]:
    """An RFC 9457 problem object for ``code`` (mapped in ``PROBLEMS`` unless title and
    status are given)."""
    spec = PROBLEMS.get(code)
    doc: dict[str, Any] = {
        "type": problem_type(code),
        "title": title or (spec.title if spec else code),
        "status": status or (spec.status if spec else 500),
        "detail": _clean(detail),
        "code": code,
    }
    if instance is not None:
        doc["instance"] = _clean(instance, 500)
    for name, value in (extensions or {}).items():
        if value is not None:
            doc[name] = _clean(value) if isinstance(value, str) else value
    return doc


def error_document(exc: LedgerError, *, instance: str | None = None) -> dict[str, Any]:
    """The problem document for a library or API error."""
    code, spec = spec_for(exc)
    extensions: dict[str, object] = {
        "field": exc.field,
        "index": getattr(exc, "index", None),
        "seq": getattr(exc, "seq", None),
    }
    if isinstance(exc, VerificationError):
        extensions["expected"] = exc.expected
        extensions["observed"] = exc.observed
    return problem_document(
        code,
        detail=spec.detail or exc.message,
        instance=instance,
        title=spec.title,
        status=spec.status,
        extensions=extensions,
    )


class ProblemResponse(Response):
    """``application/problem+json``, always valid UTF-8 JSON."""

    media_type = PROBLEM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def error_response(exc: LedgerError, *, instance: str | None = None) -> ProblemResponse:
    doc = error_document(exc, instance=instance)
    headers: dict[str, str] = {}
    if doc["status"] == 503:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if doc["status"] == 401:
        headers["Accept-Signature"] = ACCEPT_SIGNATURE
    return ProblemResponse(doc, status_code=doc["status"], headers=headers)


# -- exception handlers --------------------------------------------------------------------


async def _ledger_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LedgerError)
    if isinstance(exc, StorageError) and not isinstance(exc, StorageUnavailableError):
        logger.error("storage error on %s %s: %s", request.method, request.url.path, exc)
    return error_response(exc, instance=request.url.path)


def _location(loc: Iterable[object]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"query", "path", "header", "body", "cookie"}:
        head, rest = parts[0], parts[1:]
        return ".".join([head, *rest]) if rest else head
    return ".".join(parts)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _location(e.get("loc", ())), "message": _clean(str(e.get("msg", "")), 300)}
        for e in exc.errors()[:20]
    ]
    field = errors[0]["field"] if errors else None
    message = errors[0]["message"] if errors else "invalid request"
    doc = problem_document(
        "invalid-request",
        detail=f"{field}: {message}" if field else message,
        instance=request.url.path,
        extensions={"field": field or None, "errors": errors},
    )
    return ProblemResponse(doc, status_code=400)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}.get(
        exc.status_code
    )
    if code is None:
        doc = problem_document(
            "http-error",
            detail=_clean(str(exc.detail), 300),
            title="HTTP error",
            status=exc.status_code,
            instance=request.url.path,
        )
    else:
        detail = f"no such path: {request.url.path}" if code == "not-found" else str(exc.detail)
        doc = problem_document(code, detail=detail, instance=request.url.path)
    headers = dict(exc.headers or {})
    return ProblemResponse(doc, status_code=exc.status_code, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    spec = PROBLEMS["internal-error"]
    assert spec.detail is not None
    doc = problem_document("internal-error", detail=spec.detail, instance=request.url.path)
    return ProblemResponse(doc, status_code=500)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error, expected or not, with a problem document."""
    app.add_exception_handler(LedgerError, _ledger_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


# -- OpenAPI documentation of problems -----------------------------------------------------

_EXAMPLE_DETAILS: dict[str, tuple[str, dict[str, object]]] = {
    "malformed-statement": (
        "statement.nonce must be 8-64 characters from [A-Za-z0-9._:~-]",
        {"field": "statement.nonce"},
    ),
    "not-canonical": ("duplicate object key 'kind'", {}),
    "invalid-request": (
        "query.limit: Input should be less than or equal to 1000",
        {"field": "query.limit"},
    ),
    "invalid-range": ("need 0 <= seq < size <= 12, got seq=12 size=12", {}),
    "bad-signature": (
        "signature does not verify with key 3f0c1d2e4a5b6c7d… of farm-a",
        {"field": "signature", "index": 0},
    ),
    "unknown-key": (
        "key 3f0c1d2e4a5b6c7d… is not a registered key of farm-a",
        {"field": "statement.key"},
    ),
    "key-not-active": (
        "key 3f0c1d2e4a5b6c7d… of farm-a was revoked at seq 7 and may not sign seq 12",
        {"field": "statement.key"},
    ),
    "wrong-author": (
        "farm-a (roles supplier) may not sign participant.register; it needs one of: operator",
        {"field": "statement.kind"},
    ),
    "wrong-ledger": (
        "statement is for ledger 'other.example/ledger', this is 'ledger.example.coop/grain'",
        {"field": "statement.ledger"},
    ),
    "duplicate-nonce": (
        "farm-a already used nonce 'n-00000042' for a different statement",
        {"field": "statement.nonce"},
    ),
    "conflict": ("participant mill is already registered", {"field": "statement.body.participant"}),
    "not-found": ("no record 4096: the ledger holds 12 records", {"seq": 4096}),
    "malformed-identifier": (
        "query.lot: 'https://id.gs1.org/01/09506000134353/10/W-1': Invalid GTIN check digit "
        "for '09506000134353': Expected 2, got 3.",
        {"field": "query.lot"},
    ),
    "unknown-lot": (
        "no record names lot https://id.gs1.org/01/09506000134352/10/W-404",
        {"field": "query.lot"},
    ),
    "payload-too-large": ("request body exceeds 1048576 bytes", {}),
    "unsupported-media-type": ("send the body as application/json, not text/plain", {}),
    "request-signature-missing": (
        "this path requires an RFC 9421 signature (Signature-Input and Signature headers)",
        {},
    ),
    "request-signature-invalid": ("the request signature does not verify", {}),
    "request-signature-stale": ("signature created 900 s ago; at most 300 s allowed", {}),
    "request-signature-replayed": ("nonce already used with this key", {}),
    "request-key-not-active": ("key 3f0c1d2e4a5b6c7d… was revoked at seq 7", {}),
    "forbidden": ("farm-a (roles supplier) may not read this; it needs: auditor, operator", {}),
    "unknown-witness": (
        "no cosignature by a witness this ledger trusts: witness.example+1a2b3c4d "
        "(trusted: witness.example.org+5e6f7a8b)",
        {},
    ),
    "cosignature-invalid": (
        "cosignature by witness witness.example.org+5e6f7a8b does not verify over this checkpoint",
        {},
    ),
    "checkpoint-unknown": (
        "the ledger signed another checkpoint at size 13",
        {"seq": 12, "expected": "3q2+7w==…", "observed": "AAAAAA==…"},
    ),
    "cosignature-conflict": (
        "witness witness.example.org+5e6f7a8b already cosigned the checkpoint of size 13 "
        "with another line",
        {},
    ),
}


def problem_example(code: str) -> dict[str, Any]:
    spec = PROBLEMS[code]
    fallback: tuple[str, dict[str, object]] = (spec.detail or spec.title, {})
    detail, extensions = _EXAMPLE_DETAILS.get(code, fallback)
    return problem_document(code, detail=detail, instance="/v1/...", extensions=extensions)


def problem_responses(*codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting ``codes`` (grouped by status, one named
    example per code) plus a ``default`` entry for the unexpected."""
    grouped: dict[int, list[str]] = {}
    for code in codes:
        grouped.setdefault(PROBLEMS[code].status, []).append(code)
    responses: dict[int | str, dict[str, Any]] = {}
    for status, group in sorted(grouped.items()):
        responses[status] = _problem_entry(group)
    responses["default"] = _problem_entry(["internal-error", "storage-unavailable"])
    return responses


def _problem_entry(codes: list[str]) -> dict[str, Any]:
    return {
        "description": "; ".join(PROBLEMS[c].title for c in codes),
        "content": {
            PROBLEM_MEDIA_TYPE: {
                "schema": {"$ref": "#/components/schemas/Problem"},
                "examples": {
                    c: {"summary": PROBLEMS[c].title, "value": problem_example(c)} for c in codes
                },
            }
        },
    }

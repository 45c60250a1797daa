"""The FairLedger HTTP API (DESIGN §8): ``create_app(settings)``.

Layers: routes (``api/routes``) are thin and call the ledger; errors propagate as
``LedgerError``s and ``api.problems`` answers them as RFC 9457 problems; ``api.auth`` checks
RFC 9421 request signatures where a path needs them. The clock is read only by the
``get_now`` dependency. Request bodies pass through ``BodyLimit`` before anything reads them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import wiring
from api.auth import NonceCache
from api.problems import PayloadTooLargeError, error_response, install_problem_handlers
from api.routes import (
    bundle,
    commercial,
    cosignatures,
    export,
    exports,
    lots,
    participants,
    proofs,
    records,
    statements,
    web,
)
from api.routes import ledger as ledger_routes
from api.routes.deps import ApiSettings, get_now
from api.schemas import BatchCreate, Problem, SubmissionCreate
from api.settings import Settings
from ledger.keys import load_private_key
from ledger.log import Ledger

__all__ = ["ApiSettings", "FairLedgerAPI", "create_app", "get_now", "open_ledger"]

DESCRIPTION = """\
A signed, hash-chained, append-only ledger for small-business supply chains.

Every failure is an RFC 9457 `application/problem+json` document whose `type` is stable per
failure (`https://fairledger.dev/problems/<code>`). `GET /v1/export` needs an RFC 9421 HTTP
Message Signature (`ed25519`, `keyid` = the participant key id, covering `@method`, `@path`,
`@query`, with `created` and `nonce`) by an auditor or the operator.
"""


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` with a 413 problem: at once when
    Content-Length says so, otherwise as soon as the streamed (e.g. chunked) body passes the
    limit, without reading further."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        too_large = PayloadTooLargeError(f"request body exceeds {limit} bytes")
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                response = error_response(too_large, instance=scope.get("path"))
                await response(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large
            return message

        await self.app(scope, limited, send)


class FairLedgerAPI(FastAPI):
    """FastAPI with the problem and request-body schemas registered in the OpenAPI
    document (they are referenced from hand-written request bodies and problem responses)."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema:
            return self.openapi_schema
        schema = get_openapi(
            title=self.title,
            version=self.version,
            description=self.description,
            routes=self.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (Problem, SubmissionCreate, BatchCreate):
            found = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(found.pop("$defs", {}))
            components[model.__name__] = found
        self.openapi_schema = schema
        return schema


def open_ledger(settings: Settings) -> Ledger:
    """The ledger ``settings`` names, with the operator key (so it can sign checkpoints).

    Raises ``MalformedKeyError`` without a usable operator key file and
    ``LedgerNotInitializedError`` if there is no ledger yet.
    """
    key = load_private_key(settings.key_path("operator"), settings.passphrase_bytes)
    return wiring.open_ledger(settings.url, operator_key=key)


def create_app(settings: Settings, *, ledger: Ledger | None = None) -> FastAPI:
    """The API over ``ledger``, or over the ledger ``settings`` names, opened with the
    operator key (so it can sign checkpoints) and closed on shutdown.

    Raises ``LedgerError`` if the ledger or the operator key cannot be opened.
    """
    api_settings = (
        settings if isinstance(settings, ApiSettings) else ApiSettings(**settings.model_dump())
    )
    owned = ledger is None
    the_ledger = open_ledger(api_settings) if ledger is None else ledger

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            the_ledger.close()

    app = FairLedgerAPI(
        title="FairLedger",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = api_settings
    app.state.ledger = the_ledger
    app.state.nonces = NonceCache(api_settings.replay_cache_size)
    install_problem_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=api_settings.max_body_bytes)
    for module in (
        ledger_routes,
        statements,
        records,
        proofs,
        participants,
        export,
        cosignatures,
        lots,
        bundle,
        exports,
        commercial,
        web,
    ):
        app.include_router(module.router)
    return app

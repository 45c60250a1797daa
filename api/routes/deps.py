"""Dependencies shared by the routes: the ledger, the clock, settings and the raw body.

The clock is read here (``get_now``) and nowhere below ``api/``; tests override it with
``app.dependency_overrides[get_now]``. Dependencies that only look things up are ``async``
so FastAPI does not hop to a worker thread for them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from pydantic import Field, field_validator

from api.problems import UnsupportedMediaTypeError
from api.settings import Settings
from ledger.errors import LedgerError
from ledger.log import Ledger
from ledger.note import CosignatureVerifier
from ledger.trace.identifiers import DIGITAL_LINK_BASE, Gtin

MIB = 1 << 20


class ApiSettings(Settings):
    """Settings of the HTTP API, on top of where the ledger lives (``FAIRLEDGER_*``)."""

    #: Largest request body accepted; larger ones get 413 before more is read.
    max_body_bytes: int = MIB
    #: RFC 9421: how old a signature's ``created`` may be, in seconds.
    signature_max_age: int = 300
    #: RFC 9421: how far in the future ``created`` may be (clock skew), in seconds.
    signature_clock_skew: int = 30
    #: (keyid, nonce) pairs remembered to refuse replays, per server process.
    replay_cache_size: int = 100_000
    #: Witnesses whose cosignatures the ledger accepts and serves: cosignature/v1 vkeys
    #: (``FAIRLEDGER_TRUSTED_WITNESSES`` as a JSON list).
    trusted_witnesses: list[str] = Field(default_factory=list)
    #: Whether lot summaries, provenance, recall and the traceability exports are public
    #: (DESIGN §8); when false they need an RFC 9421 signature by a registered participant.
    public_provenance: bool = True

    #: Base of the GS1 Digital Link URIs the provenance pages show and put in their QR codes
    #: (``https://id.gs1.org``, or a resolver or this server's own public address).
    digital_link_base: str = DIGITAL_LINK_BASE
    #: Product descriptions by GTIN for the provenance pages and their search
    #: (``FAIRLEDGER_PRODUCT_NAMES`` as a JSON object; keys GTIN-8/12/13/14).
    product_names: dict[str, str] = Field(default_factory=dict)

    @field_validator("digital_link_base")
    @classmethod
    def _resolver_base(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"digital_link_base must be an http(s) URL, not {value[:80]!r}")
        if parts.query or parts.fragment:
            raise ValueError("digital_link_base must not carry a query or fragment")
        return value.rstrip("/")

    @field_validator("product_names")
    @classmethod
    def _product_gtins(cls, value: dict[str, str]) -> dict[str, str]:
        try:
            return {Gtin.parse(gtin).value: name for gtin, name in value.items()}
        except LedgerError as exc:
            raise ValueError(f"product_names: {exc.message}") from exc

    @field_validator("trusted_witnesses")
    @classmethod
    def _witness_vkeys(cls, value: list[str]) -> list[str]:
        for vkey in value:
            try:
                CosignatureVerifier.from_vkey(vkey)
            except LedgerError as exc:
                raise ValueError(f"trusted witness {vkey[:40]!r}: {exc.message}") from exc
        return value

    @property
    def witness_verifiers(self) -> list[CosignatureVerifier]:
        return [CosignatureVerifier.from_vkey(v) for v in self.trusted_witnesses]


def json_response(
    data: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """``data`` as compact UTF-8 JSON, skipping FastAPI's response-model pass (the routes
    that use it build their documents from validated library objects)."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status_code=status, headers=headers, media_type="application/json")


async def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


async def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


async def get_now() -> datetime:
    """The current time: the one place the API reads the clock."""
    return datetime.now(UTC)


def _require_json(content_type: str | None) -> None:
    media, _, params = (content_type or "").partition(";")
    if media.strip().lower() != "application/json":
        raise UnsupportedMediaTypeError(
            f"send the body as application/json, not {media.strip() or 'no content type'}"
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            raise UnsupportedMediaTypeError("JSON bodies must be UTF-8")


async def json_body(request: Request) -> bytes:
    """The raw JSON request body (media type checked here, size by the body limit)."""
    _require_json(request.headers.get("content-type"))
    return await request.body()


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
NowDep = Annotated[datetime, Depends(get_now)]
JsonBody = Annotated[bytes, Depends(json_body)]

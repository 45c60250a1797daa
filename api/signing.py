"""RFC 9421 HTTP Message Signatures, client side: ``RequestSigner`` signs ``httpx`` requests
as one participant key, the way ``api.auth`` (the server side) checks them.

Kept apart from ``api.auth`` so that the client SDK, the CLI and the auditor's scripts do not
import FastAPI. The ``ed25519`` algorithm (RFC 9421 §3.3.6) is computed by ``ledger.keys``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageSigner,
    HTTPSignatureAlgorithm,
    HTTPSignatureKeyResolver,
    InvalidSignature,
)

from ledger.keys import PrivateKey, PublicKey

__all__ = ["ALGORITHM", "SIGNATURE_LABEL", "SIGNED_COMPONENTS", "Ed25519Algorithm", "RequestSigner"]

ALGORITHM = "ed25519"
#: What ``RequestSigner`` covers: ``@method``, ``@path``, ``@query`` (which the server
#: requires) plus the authority (binds the signature to a host).
SIGNED_COMPONENTS = ("@method", "@authority", "@path", "@query")
SIGNATURE_LABEL = "fairledger"


class Ed25519Algorithm(HTTPSignatureAlgorithm):
    """RFC 9421 ``ed25519`` over FairLedger keys (``ledger.keys``), for the package's signer
    and verifier."""

    algorithm_id = ALGORITHM

    def __init__(self, public_key: object = None, private_key: object = None) -> None:
        if public_key is not None and not isinstance(public_key, PublicKey):
            raise HTTPMessageSignaturesException("expected a ledger.keys.PublicKey")
        if private_key is not None and not isinstance(private_key, PrivateKey):
            raise HTTPMessageSignaturesException("expected a ledger.keys.PrivateKey")
        self.public_key = public_key
        self.private_key = private_key

    def sign(self, message: bytes) -> bytes:
        if self.private_key is None:
            raise HTTPMessageSignaturesException("no private key to sign with")
        return self.private_key.sign(message)

    def verify(self, signature: bytes, message: bytes) -> None:
        if self.public_key is None or not self.public_key.verify(signature, message):
            raise InvalidSignature("the Ed25519 signature does not verify")


class _OneKey(HTTPSignatureKeyResolver):
    def __init__(self, key: PrivateKey) -> None:
        self.key = key

    def resolve_public_key(self, key_id: str) -> PublicKey:
        return self.key.public_key

    def resolve_private_key(self, key_id: str) -> PrivateKey:
        return self.key


class RequestSigner:
    """Signs ``httpx`` requests as one participant key: ``@method``, ``@authority``,
    ``@path``, ``@query`` and, for a body, ``content-digest``; with ``created``, a random
    ``nonce`` and ``keyid`` = the key id. ``clock`` defaults to the system clock."""

    def __init__(
        self,
        key: PrivateKey,
        *,
        clock: Callable[[], datetime] | None = None,
        nonce: Callable[[], str] | None = None,
    ) -> None:
        self.key = key
        self.key_id = key.public_key.key_id
        self._clock = clock or (lambda: datetime.now(UTC))
        self._nonce = nonce or (lambda: secrets.token_urlsafe(18))
        self._signer = HTTPMessageSigner(
            signature_algorithm=Ed25519Algorithm, key_resolver=_OneKey(key)
        )

    def sign(self, request: httpx.Request) -> httpx.Request:
        """Add ``Signature-Input``, ``Signature`` (and ``Content-Digest``) to ``request``."""
        body = request.content
        self._signer.sign(
            request,
            key_id=self.key_id,
            created=self._clock(),
            nonce=self._nonce(),
            label=SIGNATURE_LABEL,
            covered_component_ids=SIGNED_COMPONENTS,
            body=body if body else None,
        )
        return request

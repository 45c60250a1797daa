"""RFC 9421 HTTP Message Signatures: who is asking, for the paths that need to know.

The signature base, component resolution, ``Signature-Input`` parsing and RFC 9530
``Content-Digest`` checks are the ``http-message-signatures`` package's; nothing here builds a
signature base by hand. FairLedger adds its policy on top:

* algorithm ``ed25519`` (RFC 9421 §3.3.6), computed by ``ledger.keys`` (the one module that
  touches ``cryptography``) through ``Ed25519Algorithm``;
* ``keyid`` is a DESIGN §2 key id (hex SHA-256 of the raw public key) of a registered key that
  is active at the current ledger size: unknown keys and retired (rotated or revoked) keys are
  refused;
* the signature covers at least ``@method``, ``@path`` and ``@query``, and ``content-digest``
  whenever the request has a body;
* ``created`` is required, at most ``signature_max_age`` seconds old and at most
  ``signature_clock_skew`` seconds in the future, measured against the ``now`` the API passes
  in (never the clock read inside the package);
* a ``nonce`` is required, and a (keyid, nonce) pair is accepted once per signature window.
  The replay cache is in memory, per server process and bounded (``replay_cache_size``):
  with N server processes a replay could land on another process within the window, which
  the short window bounds. When the cache is full of live entries new signatures are refused
  with 503 rather than forgetting a live nonce.

``SignedParticipant`` is the FastAPI dependency for "any registered participant";
``require_roles`` builds one for a set of roles (401 if unauthenticated, 403 if the roles do
not match). The client side (``RequestSigner``, which signs ``httpx`` requests for the SDK)
lives in ``api.signing`` so that clients do not import the server.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
)
from starlette.concurrency import run_in_threadpool

from api.problems import BusyError, ForbiddenError, UnauthenticatedError
from api.routes.deps import LedgerDep, NowDep, SettingsDep
from api.signing import (
    Ed25519Algorithm,
)
from ledger.keys import PrivateKey, PublicKey
from ledger.state import LedgerState, Role

#: Components every signature must cover (``content-digest`` too when there is a body).
REQUIRED_COMPONENTS = ("@method", "@path", "@query")
MAX_NONCE = 128


# -- server side ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signer:
    """The participant behind a verified request signature."""

    participant: str
    roles: frozenset[Role]
    key_id: str


class _Fields:
    """Header field lines in wire order, as the package reads them (``items()``)."""

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        self._items = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]

    def items(self) -> list[tuple[str, str]]:
        return self._items

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k.lower() == name.lower() for k, _ in self._items)


class _IncomingRequest:
    """The request as the package's component resolver sees it: method, absolute URL (from
    the raw, still percent-encoded path) and header lines."""

    def __init__(self, request: Request) -> None:
        scope = request.scope
        self.method = request.method
        self.headers = _Fields(scope["headers"])
        host = request.headers.get("host")
        if not host:
            server = scope.get("server") or ("localhost", None)
            host = server[0] if server[1] is None else f"{server[0]}:{server[1]}"
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
        query = scope.get("query_string", b"")
        path = raw_path.decode("latin-1")
        self.url = f"{scope.get('scheme', 'http')}://{host}{path}" + (
            "?" + query.decode("latin-1") if query else ""
        )


class _KeyResolver(HTTPSignatureKeyResolver):
    """Keys registered on the ledger and active at its current size."""

    def __init__(self, state: LedgerState) -> None:
        self.state = state

    def resolve_public_key(self, key_id: str) -> PublicKey:
        info = self.state.keys.get(key_id)
        if info is None:
            raise UnauthenticatedError(
                f"keyid {key_id[:16]}… is not a registered key", code="request-key-unknown"
            )
        if not info.active_at(self.state.size):
            raise UnauthenticatedError(
                f"keyid {key_id[:16]}… of {info.participant} was {info.retired_how} at seq "
                f"{info.retired_seq}",
                code="request-key-not-active",
            )
        return info.public_key

    def resolve_private_key(self, key_id: str) -> PrivateKey:
        raise HTTPMessageSignaturesException("the server holds no participant's private key")


class _Verifier(HTTPMessageVerifier):
    """The package's verifier with the time window measured against a given ``now``."""

    def __init__(self, state: LedgerState, *, now: datetime, max_age: int, skew: int) -> None:
        super().__init__(signature_algorithm=Ed25519Algorithm, key_resolver=_KeyResolver(state))
        self.now = now
        self.max_age = max_age
        self.skew = skew

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        params = sig_input.params
        created = params.get("created")
        if type(created) is not int:
            raise UnauthenticatedError(
                "the signature needs an integer created parameter", code="request-signature-stale"
            )
        age = int(self.now.timestamp()) - created
        if age > self.max_age:
            raise UnauthenticatedError(
                f"signature created {age} s ago; at most {self.max_age} s allowed",
                code="request-signature-stale",
            )
        if -age > self.skew:
            raise UnauthenticatedError(
                f"signature created {-age} s in the future; at most {self.skew} s of clock "
                "skew allowed",
                code="request-signature-stale",
            )
        expires = params.get("expires")
        if expires is not None and (type(expires) is not int or expires < self.now.timestamp()):
            raise UnauthenticatedError("the signature has expired", code="request-signature-stale")


class NonceCache:
    """(keyid, nonce) pairs seen within the signature window: bounded, thread-safe, in
    memory. Entries expire once a signature carrying them could no longer be accepted."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[tuple[str, str], datetime] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, key_id: str, nonce: str, *, now: datetime, keep: timedelta) -> bool:
        """Remember the pair until ``now + keep``; False if it is already remembered.
        Raises ``BusyError`` when full of live entries."""
        pair = (key_id, nonce)
        with self._lock:
            while self._seen:
                oldest, until = next(iter(self._seen.items()))
                if until > now:
                    break
                del self._seen[oldest]
            if pair in self._seen:
                return False
            if len(self._seen) >= self.capacity:
                raise BusyError("too many signed requests in the replay window; retry shortly")
            self._seen[pair] = max(now + keep, next(reversed(self._seen.values()), now))
        return True


def verify_request(
    request: Request,
    body: bytes,
    state: LedgerState,
    *,
    now: datetime,
    max_age: int,
    skew: int,
    nonces: NonceCache,
) -> Signer:
    """Verify the request's RFC 9421 signature against the ledger's keys.

    Raises ``UnauthenticatedError`` (401) naming the failure: missing, invalid, stale,
    replayed, or made with an unknown or retired key.
    """
    headers = request.headers
    if "signature-input" not in headers or "signature" not in headers:
        raise UnauthenticatedError(
            "this path requires an RFC 9421 signature (Signature-Input and Signature headers)",
            code="request-signature-missing",
        )
    verifier = _Verifier(state, now=now, max_age=max_age, skew=skew)
    try:
        results = verifier.verify(
            _IncomingRequest(request),
            max_age=None,
            require_components=REQUIRED_COMPONENTS,
            body=body,
        )
    except UnauthenticatedError:
        raise
    except HTTPMessageSignaturesException as exc:
        cause = exc.__cause__
        if isinstance(cause, UnauthenticatedError):
            raise cause from exc
        raise UnauthenticatedError(f"the request signature is not valid: {exc}") from exc
    result = results[0]
    key_id = str(result.parameters["keyid"])
    nonce = result.nonce
    if not isinstance(nonce, str) or not 8 <= len(nonce) <= MAX_NONCE:
        raise UnauthenticatedError(
            f"the signature needs a nonce parameter of 8 to {MAX_NONCE} characters"
        )
    keep = timedelta(seconds=max_age + skew)
    if not nonces.add(key_id, nonce, now=now, keep=keep):
        raise UnauthenticatedError(
            "this nonce was already used with this key", code="request-signature-replayed"
        )
    info = state.keys[key_id]
    participant = state.participants[info.participant]
    return Signer(participant.id, participant.roles, key_id)


async def signed_participant(
    request: Request, ledger: LedgerDep, settings: SettingsDep, now: NowDep
) -> Signer:
    """The registered participant who signed this request (401 otherwise)."""
    body = await request.body()
    state = await run_in_threadpool(ledger.state)
    nonces: NonceCache = request.app.state.nonces
    return verify_request(
        request,
        body,
        state,
        now=now,
        max_age=settings.signature_max_age,
        skew=settings.signature_clock_skew,
        nonces=nonces,
    )


SignedParticipant = Annotated[Signer, Depends(signed_participant)]


def require_roles(*roles: Role) -> Callable[[Signer], Awaitable[Signer]]:
    """A dependency admitting signers holding any of ``roles`` (403 otherwise)."""
    allowed = frozenset(roles)

    async def dependency(signer: SignedParticipant) -> Signer:
        if not signer.roles & allowed:
            raise ForbiddenError(
                f"{signer.participant} (roles {', '.join(sorted(signer.roles))}) may not read "
                f"this; it needs one of: {', '.join(sorted(allowed))}"
            )
        return signer

    return dependency


AuditorOrOperator = Annotated[Signer, Depends(require_roles(Role.AUDITOR, Role.OPERATOR))]

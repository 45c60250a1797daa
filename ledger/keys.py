"""Ed25519 keys: the only module that touches ``cryptography.hazmat``.

DESIGN §2: a key id is the lowercase hex SHA-256 of the 32-byte raw public key; key files are
PKCS#8 PEM, optionally encrypted with a passphrase; public keys travel as standard base64 of
the 32 raw bytes. Signing and verification here are raw Ed25519 over the bytes given: callers
add their own domain prefix (statements, notes, HTTP messages).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ledger.errors import MalformedKeyError

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


def b64encode(data: bytes) -> str:
    """Standard padded base64, as every wire format here uses."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, *, what: str) -> bytes:
    """Strict standard base64 (padding required, no stray characters)."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise MalformedKeyError(f"{what} is not valid standard base64") from exc


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A 32-byte Ed25519 public key. Construction validates the point encoding."""

    raw: bytes
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.raw) != PUBLIC_KEY_SIZE:
            raise MalformedKeyError(
                f"Ed25519 public key must be {PUBLIC_KEY_SIZE} bytes, got {len(self.raw)}"
            )
        try:
            key = Ed25519PublicKey.from_public_bytes(self.raw)
        except ValueError as exc:
            raise MalformedKeyError("not a valid Ed25519 public key") from exc
        object.__setattr__(self, "_key", key)

    @classmethod
    def from_base64(cls, text: str) -> PublicKey:
        return cls(b64decode(text, what="public key"))

    @property
    def b64(self) -> str:
        return b64encode(self.raw)

    @property
    def key_id(self) -> str:
        """DESIGN §2 key id: lowercase hex SHA-256 of the raw public key."""
        return hashlib.sha256(self.raw).hexdigest()

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True if ``signature`` is a valid Ed25519 signature of ``message`` by this key."""
        if len(signature) != SIGNATURE_SIZE:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class PrivateKey:
    """An Ed25519 signing key."""

    _key: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> PrivateKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> PrivateKey:
        """The key whose RFC 8032 private seed is ``seed`` (32 bytes)."""
        if len(seed) != 32:
            raise MalformedKeyError(f"Ed25519 seed must be 32 bytes, got {len(seed)}")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def seed(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )

    @property
    def public_key(self) -> PublicKey:
        raw = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return PublicKey(raw)

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature (deterministic, RFC 8032) over ``message``."""
        return self._key.sign(message)

    def to_pem(self, passphrase: bytes | None = None) -> bytes:
        """PKCS#8 PEM, encrypted with the best available scheme when a passphrase is given."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    @classmethod
    def from_pem(cls, data: bytes, passphrase: bytes | None = None) -> PrivateKey:
        """Load a PKCS#8 PEM Ed25519 key; raises ``MalformedKeyError`` with the reason."""
        try:
            key = serialization.load_pem_private_key(data, password=passphrase or None)
        except TypeError as exc:
            if passphrase:
                raise MalformedKeyError("key file is not encrypted; omit the passphrase") from exc
            raise MalformedKeyError("key file is encrypted; a passphrase is required") from exc
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise MalformedKeyError(
                "not a PKCS#8 PEM private key, or the passphrase is wrong"
            ) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise MalformedKeyError(f"key file holds a {type(key).__name__}, not an Ed25519 key")
        return cls(key)


def save_private_key(path: Path, key: PrivateKey, passphrase: bytes | None = None) -> None:
    """Write ``key`` as PEM readable only by its owner; refuses to overwrite a key file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise MalformedKeyError(f"{path} already exists; refusing to overwrite a key") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.to_pem(passphrase))
        handle.flush()
        os.fsync(handle.fileno())


def load_private_key(path: Path, passphrase: bytes | None = None) -> PrivateKey:
    """Read a PEM key file; raises ``MalformedKeyError`` if missing or unusable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MalformedKeyError(f"cannot read key file {path}: {exc.strerror}") from exc
    return PrivateKey.from_pem(data, passphrase)

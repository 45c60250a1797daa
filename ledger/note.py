"""C2SP signed notes, transparency-log checkpoints and witness cosignatures (DESIGN §2).

Implemented byte for byte:

* ``c2sp.org/signed-note`` v1.0.0: note text, signature lines, Ed25519 (type 0x01) keys in
  their ``vkey``/``skey`` text forms;
* ``c2sp.org/tlog-checkpoint``: the checkpoint body (origin, tree size, root hash, extension
  lines);
* ``c2sp.org/tlog-cosignature``: ``cosignature/v1``, timestamped Ed25519 witness cosignatures
  (type 0x04).

Verification follows ``golang.org/x/mod/sumdb/note.Open``: signatures by unknown keys are kept
but ignored; a signature by a known key that does not verify rejects the whole note; more than
100 signatures is malformed; two verifiers with one key name and key id are ambiguous; at least
one signature by a known key must verify. Two deliberate differences, both stricter than Go:

* base64 must be canonical (RFC 4648 §3.5 lets decoders reject non-zero pad bits), so a
  signature line has exactly one spelling and ``parse_note(text).text() == text`` for every
  accepted note; Go would also accept a variant with different pad bits;
* every distinct signature line by a known key is verified (signed-note: "If the key name and
  ID match a known key, verifiers MUST verify the signature"); Go skips later lines by a key it
  has already seen.

Errors: ``MalformedNoteError`` (does not parse), ``MalformedKeyError`` (unusable vkey/skey, or an
ambiguous verifier set), ``SignatureError`` (a known key's signature does not verify, or no known
key signed), ``CheckpointError`` (a valid note that is not the checkpoint expected).

No I/O and no clock: cosignature timestamps are parameters. Ed25519 itself is ``ledger.keys``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ledger.errors import (
    CheckpointError,
    MalformedError,
    MalformedKeyError,
    MalformedNoteError,
    SignatureError,
)
from ledger.keys import (
    PUBLIC_KEY_SIZE,
    SIGNATURE_SIZE,
    PrivateKey,
    PublicKey,
    b64decode,
    b64encode,
)

#: Every signature line starts with U+2014 EM DASH and a space.
SIGNATURE_PREFIX = "\u2014 "
#: Go's ``note.Open`` limit; signed-note requires accepting at least 16.
MAX_SIGNATURES = 100
KEY_ID_SIZE = 4
#: signed-note signature type bytes.
ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
#: tlog-checkpoint: the root is an RFC 6962 (SHA-256) tree hash.
ROOT_SIZE = 32
MAX_TREE_SIZE = 2**64 - 1
#: tlog-cosignature: "It MUST NOT exceed 2^63 - 1".
MAX_TIMESTAMP = 2**63 - 1
COSIGNATURE_HEADER = "cosignature/v1\n"
#: tlog-cosignature ``timestamped_signature``: u64 timestamp || Ed25519 signature.
COSIGNATURE_BLOB_SIZE = 8 + SIGNATURE_SIZE

_SKEY_PREFIX = "PRIVATE+KEY+"
_FORBIDDEN_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_HEX_KEY_ID = re.compile(r"[0-9a-f]{8}")
_ALGORITHM_NAMES = {
    0x01: "Ed25519",
    0x02: "ECDSA (transparency-dev witness)",
    0x04: "cosignature/v1 (timestamped Ed25519)",
    0x05: "RFC 6962 TreeHeadSignature",
    0x06: "ML-DSA-44 cosignature",
}


# --- text checks ---------------------------------------------------------------------------


def _check_chars(text: str, what: str, error: type[MalformedError]) -> None:
    """signed-note: valid UTF-8, no ASCII control characters other than newline."""
    match = _FORBIDDEN_CONTROL.search(text)
    if match is not None:
        raise error(
            f"{what} contains control character {match.group()!r} at offset {match.start()}"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise error(f"{what} is not valid UTF-8 (lone surrogate at offset {exc.start})") from exc


def _check_name(name: str, what: str, error: type[MalformedError]) -> None:
    """signed-note: key names are non-empty, with no Unicode spaces and no "+"."""
    if not name:
        raise error(f"{what} must not be empty")
    _check_chars(name, what, error)
    if "+" in name or any(c.isspace() for c in name):
        raise error(f"{what} must contain no whitespace and no '+', got {name!r}")


def _check_body(body: str) -> None:
    """A note text: non-empty, every line ending in a newline."""
    if not body:
        raise MalformedNoteError("note text must not be empty")
    if not body.endswith("\n"):
        raise MalformedNoteError("note text must end with a newline")
    _check_chars(body, "note text", MalformedNoteError)


def _check_line(line: str, what: str) -> None:
    """One non-empty line of a checkpoint body, without its newline."""
    if not line:
        raise MalformedNoteError(f"checkpoint {what} must not be empty")
    if "\n" in line:
        raise MalformedNoteError(f"checkpoint {what} must be a single line")
    _check_chars(line, f"checkpoint {what}", MalformedNoteError)


def _decode_base64(text: str, what: str, error: type[MalformedError]) -> bytes:
    """Strict, canonical standard base64: exactly one spelling per byte string."""
    try:
        raw = b64decode(text, what=what)
    except MalformedKeyError as exc:
        raise error(f"{what} is not valid standard base64") from exc
    if b64encode(raw) != text:
        raise error(f"{what} is not canonical base64 (non-zero padding bits)")
    return raw


def key_id(name: str, algorithm: int, public_key: bytes) -> bytes:
    """signed-note key id: ``SHA-256(name || 0x0A || type || public key)[:4]``."""
    data = name.encode("utf-8") + b"\n" + bytes([algorithm]) + public_key
    return hashlib.sha256(data).digest()[:KEY_ID_SIZE]


def _label(name: str, key_id: bytes) -> str:
    """How Go names a key in its errors: ``name+hex key id``."""
    return f"{name}+{key_id.hex()}"


# --- notes ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, 4-byte key id and the signature bytes after the key id."""

    name: str
    key_id: bytes
    blob: bytes

    def __post_init__(self) -> None:
        _check_name(self.name, "signature key name", MalformedNoteError)
        if len(self.key_id) != KEY_ID_SIZE:
            raise MalformedNoteError(
                f"signature key id must be {KEY_ID_SIZE} bytes, got {len(self.key_id)}"
            )
        if not self.blob:
            raise MalformedNoteError(f"signature by {self.name} is empty")

    @property
    def label(self) -> str:
        """``name+hex key id``, as in error messages."""
        return _label(self.name, self.key_id)

    def line(self) -> str:
        """The signature line, ``— <name> <base64(key id || blob)>\\n``."""
        return f"{SIGNATURE_PREFIX}{self.name} {b64encode(self.key_id + self.blob)}\n"

    @classmethod
    def from_line(cls, line: str) -> NoteSignature:
        """Parse one signature line (the final newline is optional).

        Raises ``MalformedNoteError`` if it is not ``— <name> <base64>`` with a valid key name
        and at least five signature bytes (key id and signature).
        """
        if line.endswith("\n"):
            line = line[:-1]
        if "\n" in line:
            raise MalformedNoteError("a signature line must be a single line")
        _check_chars(line, "signature line", MalformedNoteError)
        if not line.startswith(SIGNATURE_PREFIX):
            raise MalformedNoteError(
                f"signature line must start with '— ' (U+2014, space), got {line[:24]!r}"
            )
        name, space, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not space or not encoded:
            raise MalformedNoteError(f"signature line has no signature: {line[:60]!r}")
        if " " in encoded:
            raise MalformedNoteError(
                f"signature line must be '— <name> <base64>' and key names contain no spaces, "
                f"got {line[:60]!r}"
            )
        _check_name(name, "signature key name", MalformedNoteError)
        raw = _decode_base64(encoded, f"signature by {name}", MalformedNoteError)
        if len(raw) <= KEY_ID_SIZE:
            raise MalformedNoteError(
                f"signature by {name} must be a key id and a signature, got {len(raw)} bytes"
            )
        return cls(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


@dataclass(frozen=True, slots=True)
class Note:
    """A structurally valid signed note: its text (``body``) and 1..100 signature lines.

    ``body`` includes its final newline but not the blank separator line; it is the signed
    message. Signatures are not verified here (see ``verify_note``).
    """

    body: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        _check_body(self.body)
        object.__setattr__(self, "signatures", tuple(self.signatures))
        if not self.signatures:
            raise MalformedNoteError("a signed note needs at least one signature line")
        if len(self.signatures) > MAX_SIGNATURES:
            raise MalformedNoteError(
                f"note has {len(self.signatures)} signatures, at most {MAX_SIGNATURES} allowed"
            )

    def text(self) -> str:
        """The note as sent: body, blank line, signature lines."""
        return self.body + "\n" + "".join(s.line() for s in self.signatures)


def parse_note(text: str) -> Note:
    """Split a signed note into its text and signature lines, verifying nothing.

    The text is everything up to and including the newline before the *last* blank line.
    Raises ``MalformedNoteError`` for control characters, invalid UTF-8, a missing blank line
    or final newline, a line in the signature block that is not a signature line, or more
    than 100 signatures.
    """
    _check_chars(text, "note", MalformedNoteError)
    split = text.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("note has no blank line before its signatures")
    body, block = text[: split + 1], text[split + 2 :]
    if not block:
        raise MalformedNoteError("note has no signature lines")
    if not block.endswith("\n"):
        raise MalformedNoteError("note does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(
            f"note has {len(lines)} signature lines, at most {MAX_SIGNATURES} allowed"
        )
    return Note(body, tuple(NoteSignature.from_line(line) for line in lines))


class NoteVerifier(Protocol):
    """A key that can check signature lines carrying its name and key id."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def verify(self, message: bytes, blob: bytes) -> bool:
        """True if ``blob`` (the signature bytes after the key id) signs ``message``."""
        ...


def _verify_signatures(note: Note, verifiers: Sequence[NoteVerifier]) -> list[NoteSignature]:
    """Check every signature by a known key; return them, once each, in note order.

    Unknown keys are ignored (signed-note: "Verifiers MUST ignore signatures from unknown
    keys, even if they share a name or ID (but not both) with a known key").
    """
    known: dict[tuple[str, bytes], list[NoteVerifier]] = {}
    for verifier in verifiers:
        known.setdefault((verifier.name, bytes(verifier.key_id)), []).append(verifier)
    message = note.body.encode("utf-8")
    verified: list[NoteSignature] = []
    for sig in dict.fromkeys(note.signatures):  # identical lines: checked and reported once
        candidates = known.get((sig.name, sig.key_id))
        if candidates is None:
            continue
        if len(candidates) > 1:
            raise MalformedKeyError(
                f"ambiguous key {sig.label}: {len(candidates)} verifiers share that key name "
                "and key id"
            )
        if not candidates[0].verify(message, sig.blob):
            raise SignatureError(
                f"invalid signature for key {sig.label}",
                expected="a valid signature over the note text",
                observed=sig.line().rstrip("\n"),
            )
        verified.append(sig)
    return verified


def verify_note(text: str, verifiers: Sequence[NoteVerifier]) -> tuple[Note, list[NoteSignature]]:
    """Parse ``text`` and verify it with ``verifiers``; returns the note and the signatures
    that verified (each once, in note order). Signatures by unknown keys stay in the note.

    Raises ``MalformedNoteError`` if it does not parse, ``MalformedKeyError`` if a signature
    names a key that two verifiers share, and ``SignatureError`` if a signature by a known key
    does not verify or no signature by a known key is present.
    """
    note = parse_note(text)
    verified = _verify_signatures(note, verifiers)
    if not verified:
        raise SignatureError(
            "note has no verifiable signatures",
            expected="a signature by "
            + (", ".join(_label(v.name, v.key_id) for v in verifiers) or "(no keys given)"),
            observed=", ".join(s.label for s in note.signatures),
        )
    return note, verified


# --- keys ----------------------------------------------------------------------------------


def _algorithm_name(algorithm: int) -> str:
    return _ALGORITHM_NAMES.get(algorithm, "unassigned")


def _vkey(name: str, algorithm: int, public_key: PublicKey) -> str:
    kid = key_id(name, algorithm, public_key.raw)
    return f"{name}+{kid.hex()}+{b64encode(bytes([algorithm]) + public_key.raw)}"


def _parse_vkey(vkey: str) -> tuple[int, str, PublicKey]:
    """``<name>+<hex key id>+base64(type || public key)`` for types 0x01 and 0x04."""
    parts = vkey.split("+", 2)  # the base64 itself may contain "+"
    if len(parts) != 3:
        raise MalformedKeyError("vkey must be <name>+<8 hex key id>+<base64 key>")
    name, hex_id, encoded = parts
    _check_name(name, "vkey name", MalformedKeyError)
    if not _HEX_KEY_ID.fullmatch(hex_id):
        raise MalformedKeyError(f"vkey key id must be 8 lowercase hex digits, got {hex_id!r}")
    raw = _decode_base64(encoded, "vkey public key", MalformedKeyError)
    if not raw:
        raise MalformedKeyError("vkey public key is empty")
    algorithm, key = raw[0], raw[1:]
    if algorithm not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise MalformedKeyError(
            f"vkey signature type 0x{algorithm:02x} ({_algorithm_name(algorithm)}) is not "
            "supported: FairLedger verifies Ed25519 (0x01) and cosignature/v1 (0x04) keys only"
        )
    if len(key) != PUBLIC_KEY_SIZE:
        raise MalformedKeyError(
            f"vkey Ed25519 public key must be {PUBLIC_KEY_SIZE} bytes, got {len(key)}"
        )
    public_key = PublicKey(key)
    expected = key_id(name, algorithm, key).hex()
    if hex_id != expected:
        raise MalformedKeyError(
            f"vkey key id does not match its name and key: expected {expected}, got {hex_id}"
        )
    return algorithm, name, public_key


def _parse_skey(skey: str) -> tuple[int, str, PrivateKey]:
    """``PRIVATE+KEY+<name>+<hex key id>+base64(type || seed)`` for types 0x01 and 0x04."""
    if not skey.startswith(_SKEY_PREFIX):
        raise MalformedKeyError("skey must start with PRIVATE+KEY+")
    parts = skey[len(_SKEY_PREFIX) :].split("+", 2)
    if len(parts) != 3:
        raise MalformedKeyError("skey must be PRIVATE+KEY+<name>+<8 hex key id>+<base64 seed>")
    name, hex_id, encoded = parts
    _check_name(name, "skey name", MalformedKeyError)
    if not _HEX_KEY_ID.fullmatch(hex_id):
        raise MalformedKeyError("skey key id must be 8 lowercase hex digits")
    raw = _decode_base64(encoded, "skey seed", MalformedKeyError)
    if not raw:
        raise MalformedKeyError("skey seed is empty")
    algorithm, seed = raw[0], raw[1:]
    if algorithm not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise MalformedKeyError(
            f"skey signature type 0x{algorithm:02x} ({_algorithm_name(algorithm)}) is not "
            "supported: FairLedger signs with Ed25519 (0x01) and cosignature/v1 (0x04) keys only"
        )
    private_key = PrivateKey.from_seed(seed)  # MalformedKeyError unless 32 bytes
    if hex_id != key_id(name, algorithm, private_key.public_key.raw).hex():
        raise MalformedKeyError("skey key id does not match its name and key")
    return algorithm, name, private_key


def _skey(name: str, algorithm: int, private_key: PrivateKey) -> str:
    kid = key_id(name, algorithm, private_key.public_key.raw)
    return f"{_SKEY_PREFIX}{name}+{kid.hex()}+{b64encode(bytes([algorithm]) + private_key.seed)}"


def _expect_algorithm(found: int, wanted: int, what: str) -> None:
    if found != wanted:
        raise MalformedKeyError(
            f"{what} has signature type 0x{found:02x} ({_algorithm_name(found)}), expected "
            f"0x{wanted:02x} ({_algorithm_name(wanted)})"
        )


@dataclass(frozen=True, slots=True)
class Ed25519Verifier:
    """A signed-note Ed25519 (type 0x01) verifier key. Raises ``MalformedKeyError`` if the name
    is not a valid key name."""

    name: str
    public_key: PublicKey
    key_id: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_name(self.name, "key name", MalformedKeyError)
        object.__setattr__(self, "key_id", key_id(self.name, ALG_ED25519, self.public_key.raw))

    @property
    def vkey(self) -> str:
        """``<name>+<hex key id>+base64(0x01 || public key)``."""
        return _vkey(self.name, ALG_ED25519, self.public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> Ed25519Verifier:
        """Parse a type 0x01 vkey; raises ``MalformedKeyError`` (wrong type, bad key id...)."""
        algorithm, name, public_key = _parse_vkey(vkey)
        _expect_algorithm(algorithm, ALG_ED25519, "vkey")
        return cls(name, public_key)

    def verify(self, message: bytes, blob: bytes) -> bool:
        return self.public_key.verify(blob, message)


@dataclass(frozen=True, eq=False, slots=True)
class Ed25519Signer:
    """A signed-note Ed25519 (type 0x01) signing key."""

    name: str
    private_key: PrivateKey = field(repr=False)
    _verifier: Ed25519Verifier = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_verifier", Ed25519Verifier(self.name, self.private_key.public_key)
        )

    @property
    def key_id(self) -> bytes:
        return self._verifier.key_id

    @property
    def vkey(self) -> str:
        return self._verifier.vkey

    @property
    def skey(self) -> str:
        """``PRIVATE+KEY+<name>+<hex key id>+base64(0x01 || seed)``: a secret."""
        return _skey(self.name, ALG_ED25519, self.private_key)

    def verifier(self) -> Ed25519Verifier:
        return self._verifier

    @classmethod
    def from_skey(cls, skey: str) -> Ed25519Signer:
        """Parse a type 0x01 skey; raises ``MalformedKeyError``."""
        algorithm, name, private_key = _parse_skey(skey)
        _expect_algorithm(algorithm, ALG_ED25519, "skey")
        return cls(name, private_key)

    def sign(self, body: str) -> NoteSignature:
        """Sign a note text (deterministic, RFC 8032). Raises ``MalformedNoteError`` if
        ``body`` is not a note text (empty, no final newline, control characters)."""
        _check_body(body)
        return NoteSignature(self.name, self.key_id, self.private_key.sign(body.encode("utf-8")))


def sign_note(body: str, signers: Sequence[Ed25519Signer]) -> str:
    """The signed note text for ``body``, one line per distinct signer, in order.

    Raises ``MalformedNoteError`` for an invalid body or no signers.
    """
    signatures = tuple(dict.fromkeys(signer.sign(body) for signer in signers))
    return Note(body, signatures).text()


def vkey_from_text(vkey: str) -> NoteVerifier:
    """Parse a vkey of type 0x01 (``Ed25519Verifier``) or 0x04 (``CosignatureVerifier``).

    Raises ``MalformedKeyError`` for any other type or a malformed key.
    """
    algorithm, name, public_key = _parse_vkey(vkey)
    if algorithm == ALG_COSIGNATURE_V1:
        return CosignatureVerifier(name, public_key)
    return Ed25519Verifier(name, public_key)


# --- checkpoints ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tlog-checkpoint body: origin, tree size, RFC 6962 root hash, extension lines.

    Validated on construction (``MalformedNoteError``): one-line non-empty origin and
    extension lines without control characters, 0 <= size < 2**64, a 32-byte root.
    ``Checkpoint.from_body(cp.body()) == cp`` and ``from_body(b).body() == b``.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise MalformedNoteError(f"checkpoint size must be an int, got {self.size!r}")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedNoteError(f"checkpoint size {self.size} is outside 0..2**64-1")
        if not isinstance(self.root, bytes):
            raise MalformedNoteError(f"checkpoint root hash must be bytes, got {self.root!r}")
        if len(self.root) != ROOT_SIZE:
            raise MalformedNoteError(
                f"checkpoint root hash must be {ROOT_SIZE} bytes, got {len(self.root)}"
            )
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for line in self.extensions:
            _check_line(line, "extension line")

    def body(self) -> str:
        """The note text: ``<origin>\\n<size>\\n<base64 root>\\n`` and any extension lines."""
        lines = (self.origin, str(self.size), b64encode(self.root), *self.extensions)
        return "".join(line + "\n" for line in lines)

    @classmethod
    def from_body(cls, body: str) -> Checkpoint:
        """Parse a checkpoint note text. Raises ``MalformedNoteError`` for fewer than three
        lines, a size with leading zeros or beyond uint64, a root that is not canonical
        base64 of 32 bytes, or an empty line."""
        _check_body(body)
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedNoteError(
                f"checkpoint needs origin, size and root hash lines, got {len(lines)} line(s)"
            )
        origin, size_text, root_text, *extensions = lines
        if not _DECIMAL.fullmatch(size_text):
            raise MalformedNoteError(
                f"checkpoint size must be decimal without leading zeros, got {size_text[:30]!r}"
            )
        size = int(size_text)
        if size > MAX_TREE_SIZE:
            raise MalformedNoteError(f"checkpoint size {size_text} does not fit in 64 bits")
        root = _decode_base64(root_text, "checkpoint root hash", MalformedNoteError)
        return cls(origin, size, root, tuple(extensions))


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A checkpoint whose log signature verified (built by ``open_checkpoint``).

    ``note`` keeps every signature line, cosignatures included; ``verify_cosignatures``
    checks those against witness keys.
    """

    checkpoint: Checkpoint
    note: Note
    text: str

    def __post_init__(self) -> None:
        if self.note.body != self.checkpoint.body() or self.note.text() != self.text:
            raise MalformedNoteError("signed checkpoint text, note and checkpoint disagree")


def sign_checkpoint(checkpoint: Checkpoint, signer: Ed25519Signer) -> str:
    """The checkpoint as a note signed by the log's key.

    Raises ``CheckpointError`` if the origin is not the signer's key name (``open_checkpoint``
    requires them to be equal).
    """
    if checkpoint.origin != signer.name:
        raise CheckpointError(
            "checkpoint origin must be the log's key name",
            expected=signer.name,
            observed=checkpoint.origin,
        )
    return sign_note(checkpoint.body(), [signer])


def open_checkpoint(
    text: str, log_verifier: Ed25519Verifier, *, origin: str | None = None
) -> SignedCheckpoint:
    """Verify the log's signature on a checkpoint note and parse it.

    Other signature lines (witness cosignatures, other keys) are kept, unverified. Raises
    ``MalformedNoteError`` if the note or the checkpoint body does not parse,
    ``SignatureError`` if the log's signature does not verify, and ``CheckpointError`` if
    there is no signature by the log's key, or the origin is not the log's key name or
    ``origin``.
    """
    note = parse_note(text)
    if not _verify_signatures(note, [log_verifier]):
        raise CheckpointError(
            "checkpoint has no signature by the log's key",
            expected=_label(log_verifier.name, log_verifier.key_id),
            observed=", ".join(s.label for s in note.signatures),
        )
    checkpoint = Checkpoint.from_body(note.body)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(
            "checkpoint is for another log", expected=origin, observed=checkpoint.origin
        )
    if checkpoint.origin != log_verifier.name:
        raise CheckpointError(
            "checkpoint origin is not the log's key name",
            expected=log_verifier.name,
            observed=checkpoint.origin,
        )
    return SignedCheckpoint(checkpoint, note, text)


def add_signature_lines(note_text: str, lines: Sequence[NoteSignature]) -> str:
    """Append signature lines (e.g. cosignatures) to a note, skipping lines already present.

    Nothing is verified: check a cosignature before adding it, since a bad line by a key a
    client trusts makes the whole note fail for that client. Raises ``MalformedNoteError``
    if the note does not parse or would exceed 100 signatures.
    """
    note = parse_note(note_text)
    signatures = list(note.signatures)
    present = set(signatures)
    for sig in lines:
        if sig not in present:
            signatures.append(sig)
            present.add(sig)
    return Note(note.body, tuple(signatures)).text()


# --- cosignatures --------------------------------------------------------------------------


def cosignature_message(body: str, timestamp: int) -> bytes:
    """tlog-cosignature v1 signed message: ``cosignature/v1\\ntime <t>\\n`` + checkpoint body."""
    return f"{COSIGNATURE_HEADER}time {timestamp}\n{body}".encode()


@dataclass(frozen=True, slots=True)
class CosignatureVerifier:
    """A witness's cosignature/v1 (type 0x04) verifier key."""

    name: str
    public_key: PublicKey
    key_id: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_name(self.name, "witness key name", MalformedKeyError)
        object.__setattr__(
            self, "key_id", key_id(self.name, ALG_COSIGNATURE_V1, self.public_key.raw)
        )

    @property
    def vkey(self) -> str:
        """``<name>+<hex key id>+base64(0x04 || public key)``."""
        return _vkey(self.name, ALG_COSIGNATURE_V1, self.public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        """Parse a type 0x04 vkey; raises ``MalformedKeyError``."""
        algorithm, name, public_key = _parse_vkey(vkey)
        _expect_algorithm(algorithm, ALG_COSIGNATURE_V1, "vkey")
        return cls(name, public_key)

    def timestamp_of(self, blob: bytes) -> int:
        """The POSIX timestamp of a cosignature (``blob`` = bytes after the key id).

        Raises ``MalformedNoteError`` unless ``blob`` is 72 bytes.
        """
        if len(blob) != COSIGNATURE_BLOB_SIZE:
            raise MalformedNoteError(
                f"cosignature must be {COSIGNATURE_BLOB_SIZE} bytes after the key id, "
                f"got {len(blob)}"
            )
        return int.from_bytes(blob[:8], "big")

    def verify(self, message: bytes, blob: bytes) -> bool:
        """True if ``blob`` is u64 timestamp || Ed25519 signature over
        ``cosignature/v1\\ntime <timestamp>\\n`` + ``message`` (a checkpoint body)."""
        if len(blob) != COSIGNATURE_BLOB_SIZE:
            return False
        timestamp = int.from_bytes(blob[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        signed = COSIGNATURE_HEADER.encode() + b"time %d\n" % timestamp + message
        return self.public_key.verify(blob[8:], signed)


@dataclass(frozen=True, eq=False, slots=True)
class CosignatureSigner:
    """A witness's cosignature/v1 (type 0x04) signing key."""

    name: str
    private_key: PrivateKey = field(repr=False)
    _verifier: CosignatureVerifier = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_verifier", CosignatureVerifier(self.name, self.private_key.public_key)
        )

    @property
    def key_id(self) -> bytes:
        return self._verifier.key_id

    @property
    def vkey(self) -> str:
        return self._verifier.vkey

    @property
    def skey(self) -> str:
        """``PRIVATE+KEY+<name>+<hex key id>+base64(0x04 || seed)``: a secret."""
        return _skey(self.name, ALG_COSIGNATURE_V1, self.private_key)

    def verifier(self) -> CosignatureVerifier:
        return self._verifier

    @classmethod
    def from_skey(cls, skey: str) -> CosignatureSigner:
        """Parse a type 0x04 skey; raises ``MalformedKeyError``."""
        algorithm, name, private_key = _parse_skey(skey)
        _expect_algorithm(algorithm, ALG_COSIGNATURE_V1, "skey")
        return cls(name, private_key)

    def cosign(self, checkpoint: Checkpoint, timestamp: int) -> NoteSignature:
        """The cosignature line for ``checkpoint`` made at ``timestamp`` (POSIX seconds,
        passed in: this module never reads the clock). Deterministic.

        Raises ``ValueError`` for a timestamp outside 0..2**63-1 (a caller bug).
        """
        if isinstance(timestamp, bool) or not 0 <= timestamp <= MAX_TIMESTAMP:
            raise ValueError(f"cosignature timestamp must be in 0..2**63-1, got {timestamp!r}")
        signature = self.private_key.sign(cosignature_message(checkpoint.body(), timestamp))
        return NoteSignature(self.name, self.key_id, timestamp.to_bytes(8, "big") + signature)


def verify_cosignatures(
    signed: SignedCheckpoint, witnesses: Sequence[CosignatureVerifier], *, required: int
) -> list[str]:
    """Names of the witnesses (in ``witnesses`` order, each once) with a valid cosignature
    on ``signed``.

    Lines by keys not in ``witnesses`` are ignored. Raises ``SignatureError`` if a line by a
    listed witness does not verify (signed-note: reject the whole note), ``MalformedKeyError``
    if two witnesses share a key name and key id, ``CheckpointError`` if fewer than
    ``required`` witnesses cosigned, and ``ValueError`` if ``required`` is negative.
    """
    if required < 0:
        raise ValueError(f"required must be >= 0, got {required}")
    cosigned = {sig.name for sig in _verify_signatures(signed.note, witnesses)}
    names = list(dict.fromkeys(w.name for w in witnesses if w.name in cosigned))
    if len(names) < required:
        raise CheckpointError(
            f"checkpoint has valid cosignatures from {len(names)} of {len(witnesses)} "
            f"witnesses, {required} required",
            expected=f"at least {required} of " + ", ".join(w.name for w in witnesses),
            observed=", ".join(names) or "none",
        )
    return names

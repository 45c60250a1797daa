"""What an auditor remembers between runs (DESIGN §7): per ledger, the last checkpoint it
verified and everything an incremental audit needs to resume from it.

The state file is one canonical JSON document::

    {"format": "fairledger-auditor-state/v1",
     "ledgers": {"<origin> <operator key id>": {
         "origin", "vkey", "operator_key_id",   the trust anchor (the auditor's own)
         "size", "root", "checkpoint",          the last verified checkpoint (signed note)
         "peaks", "last_entry_hash",            compact range at ``size``; entry hash of size-1
         "last_recorded_at", "ledger_state",    participants and keys after record size-1
         "nonces": {"file", "count", "salt"}}}} the replay-check sidecar

Entries are keyed by the origin and the operator key id (lowercase hex SHA-256 of the raw
public key) of the vkey the auditor trusts: never by anything a server sends.

The (author, nonce) pairs seen so far live in a binary sidecar next to the state file, one per
ledger: a 32-byte header (``FLNONCE1``, count and ledger size as little-endian u64, 8 zero
bytes) then ``count`` sorted, distinct little-endian u64 digests
``BLAKE2b-64(key=salt, author || 0x00 || nonce)``. The salt is random per state (a parameter
here), so nobody can craft colliding nonces. Loading the state reads the JSON (O(participants))
and maps the sidecar without reading it; each new record costs one binary search. Saving
merges the new digests in one sequential pass over the old sidecar (a memory copy).

Every file is written atomically: a temporary file in the same directory, flushed and fsynced,
renamed over the old one, then the directory fsynced. A new sidecar gets a new name and is
written before the state that names it; the old one is removed only after the state is
renamed, so a crash at any point leaves a state and the sidecar it names.

Errors: ``StateFileError`` (a ``StorageError``) for a state or sidecar that cannot be read,
does not parse, or does not hold together (a checkpoint that does not verify with the stored
vkey, peaks that do not give its root, a sidecar of the wrong length).
"""

from __future__ import annotations

import bisect
import hashlib
import mmap
import os
import struct
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ledger import merkle
from ledger.canonical import JSONObject, JSONValue, canonical_bytes, parse_json
from ledger.errors import LedgerError, StorageError
from ledger.keys import PublicKey
from ledger.note import Ed25519Verifier, open_checkpoint
from ledger.state import KeyInfo, LedgerState, Participant, Role

FORMAT = "fairledger-auditor-state/v1"
NONCE_MAGIC = b"FLNONCE1"
_HEADER = struct.Struct("<8sQQ8x")
SALT_SIZE = 16


class StateFileError(StorageError):
    """The auditor's state file or its sidecar cannot be used."""

    code = "state-file-invalid"


# -- atomic files ------------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Replace ``path`` with ``data`` atomically and durably (temp file, fsync, rename,
    directory fsync). Raises ``StorageError`` if the file cannot be written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as out:
            if isinstance(data, bytes):
                out.write(data)
            else:
                for part in data:
                    out.write(part)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        _fsync_directory(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. platforms without directory handles
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- (author, nonce) digests ------------------------------------------------------------------


def nonce_digest(salt: bytes, author: str, nonce: str) -> int:
    """The 64-bit replay-check digest of one (author, nonce) pair."""
    data = author.encode("utf-8") + b"\x00" + nonce.encode("utf-8")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8, key=salt).digest(), "little")


class SortedDigests:
    """A read-only sorted array of u64 digests, memory-mapped from a sidecar (or empty).

    Membership is a binary search; nothing is read until it is asked for."""

    def __init__(self, path: Path | None = None, *, count: int = 0, size: int = 0) -> None:
        self.path = path
        self._map: mmap.mmap | None = None
        self._values: Sequence[int] = ()
        if path is None:
            if count:
                raise StateFileError("a nonce sidecar with entries needs a file")
            return
        try:
            with path.open("rb") as handle:
                length = os.fstat(handle.fileno()).st_size
                if length != _HEADER.size + 8 * count:
                    raise StateFileError(
                        f"nonce sidecar {path} holds {length} bytes, expected "
                        f"{_HEADER.size + 8 * count} for {count} digests"
                    )
                self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as exc:
            raise StateFileError(f"cannot read nonce sidecar {path}: {exc.strerror}") from exc
        magic, stored_count, stored_size = _HEADER.unpack_from(self._map, 0)
        if magic != NONCE_MAGIC or stored_count != count or stored_size != size:
            self.close()
            raise StateFileError(
                f"nonce sidecar {path} does not belong to this state "
                f"(expected {count} digests at size {size}, found {stored_count} at {stored_size})"
            )
        body = memoryview(self._map)[_HEADER.size :]
        if sys.byteorder == "little":
            self._values = body.cast("Q")
        else:  # pragma: no cover - big-endian hosts read a byte-swapped copy
            values = array("Q", body.tobytes())
            values.byteswap()
            self._values = values

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, digest: object) -> bool:
        values = self._values
        i = bisect.bisect_left(values, digest)  # type: ignore[call-overload]
        return i < len(values) and bool(values[i] == digest)

    def merged(self, new: Iterable[int], size: int) -> Iterable[bytes]:
        """The bytes of a sidecar holding these digests and ``new`` (not already present),
        for ledger ``size``: one pass over the old array, cut at each new digest."""
        values = self._values
        added = sorted(set(new))
        count = len(values) + len(added)
        yield _HEADER.pack(NONCE_MAGIC, count, size)
        raw = memoryview(self._map)[_HEADER.size :] if self._map is not None else None
        previous = 0
        for digest in added:
            cut = bisect.bisect_left(values, digest)
            if raw is not None and cut > previous:
                yield _le_slice(raw, values, previous, cut)
            yield digest.to_bytes(8, "little")
            previous = cut
        if raw is not None and len(values) > previous:
            yield _le_slice(raw, values, previous, len(values))

    def close(self) -> None:
        self._values = ()
        if self._map is not None:
            self._map.close()
            self._map = None


def _le_slice(raw: memoryview, values: Sequence[int], start: int, end: int) -> bytes:
    if sys.byteorder == "little":
        return bytes(raw[8 * start : 8 * end])
    out = array("Q", values[start:end])  # pragma: no cover - big-endian hosts
    out.byteswap()  # pragma: no cover
    return out.tobytes()  # pragma: no cover


@dataclass
class NonceSet:
    """Digests of every (author, nonce) recorded so far: the saved sidecar plus this run's."""

    salt: bytes
    prior: SortedDigests = field(default_factory=SortedDigests)
    added: set[int] = field(default_factory=set)

    def __contains__(self, digest: int) -> bool:
        return digest in self.added or digest in self.prior

    def add(self, digest: int) -> None:
        self.added.add(digest)

    def __len__(self) -> int:
        return len(self.prior) + len(self.added)


# -- the state of one ledger ------------------------------------------------------------------


@dataclass
class AuditorState:
    """Where the last audit of one ledger stopped: a verified checkpoint and what is needed to
    verify the records after it. Validated on load (``StateFile.load``)."""

    vkey: str
    size: int
    checkpoint: str
    peaks: tuple[bytes, ...]
    last_entry_hash: bytes
    last_recorded_at: str
    ledger_state: LedgerState
    nonces: NonceSet

    @property
    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier.from_vkey(self.vkey)

    @property
    def origin(self) -> str:
        return self.verifier.name

    @property
    def operator_key_id(self) -> str:
        return self.verifier.public_key.key_id

    @property
    def key(self) -> str:
        return ledger_key(self.origin, self.operator_key_id)

    @property
    def root(self) -> bytes:
        return merkle.CompactRange(self.size, self.peaks).root()


def ledger_key(origin: str, operator_key_id: str) -> str:
    """How the state file names one ledger: its origin and its operator key id."""
    return f"{origin} {operator_key_id}"


def key_for_vkey(vkey: str) -> str:
    """The state-file key of the ledger whose operator ``vkey`` the auditor trusts.
    Raises ``MalformedKeyError`` for a vkey that is not an Ed25519 (0x01) key."""
    verifier = Ed25519Verifier.from_vkey(vkey)
    return ledger_key(verifier.name, verifier.public_key.key_id)


def _state_to_json(state: LedgerState) -> JSONObject:
    participants: list[JSONValue] = [
        {
            "id": p.id,
            "display_name": p.display_name,
            "roles": sorted(str(r) for r in p.roles),  # type: ignore[dict-item]
            "registered_seq": p.registered_seq,
            "gln": p.gln,
        }
        for p in sorted(state.participants.values(), key=lambda p: p.id)
    ]
    keys: list[JSONValue] = [
        {
            "key_id": k.key_id,
            "participant": k.participant,
            "public_key": k.public_key.b64,
            "added_seq": k.added_seq,
            "retired_seq": k.retired_seq,
            "retired_how": k.retired_how,
            "retired_reason": k.retired_reason,
        }
        for k in sorted(state.keys.values(), key=lambda k: (k.added_seq, k.key_id))
    ]
    return {
        "origin": state.origin,
        "operator": state.operator,
        "participants": participants,
        "keys": keys,
    }


def _state_from_json(value: JSONValue, size: int, last_recorded_at: str) -> LedgerState:
    doc = _obj(value, "ledger_state")
    state = LedgerState(
        origin=_opt_str(doc.get("origin")),
        operator=_opt_str(doc.get("operator")),
        size=size,
        last_recorded_at=last_recorded_at or None,
    )
    for item in _list(doc.get("participants"), "participants"):
        p = _obj(item, "participant")
        state.participants[_str(p.get("id"), "participant id")] = Participant(
            _str(p.get("id"), "participant id"),
            _str(p.get("display_name"), "display_name"),
            frozenset(Role(_str(r, "role")) for r in _list(p.get("roles"), "roles")),
            _int(p.get("registered_seq"), "registered_seq"),
            _opt_str(p.get("gln")),
        )
    for item in _list(doc.get("keys"), "keys"):
        k = _obj(item, "key")
        public = PublicKey.from_base64(_str(k.get("public_key"), "public_key"))
        key_id = _str(k.get("key_id"), "key_id")
        if public.key_id != key_id:
            raise StateFileError(f"state key {key_id[:16]}… does not match its public key")
        retired = k.get("retired_seq")
        state.keys[key_id] = KeyInfo(
            key_id,
            _str(k.get("participant"), "participant"),
            public,
            _int(k.get("added_seq"), "added_seq"),
            None if retired is None else _int(retired, "retired_seq"),
            _opt_str(k.get("retired_how")),
            _opt_str(k.get("retired_reason")),
        )
    return state


def _obj(value: JSONValue, what: str) -> JSONObject:
    if not isinstance(value, dict):
        raise StateFileError(f"state file: {what} must be an object")
    return value


def _list(value: JSONValue, what: str) -> list[JSONValue]:
    if not isinstance(value, list):
        raise StateFileError(f"state file: {what} must be a list")
    return value


def _str(value: JSONValue, what: str) -> str:
    if not isinstance(value, str):
        raise StateFileError(f"state file: {what} must be a string")
    return value


def _opt_str(value: JSONValue) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: JSONValue, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise StateFileError(f"state file: {what} must be a non-negative integer")
    return value


def _hex(value: JSONValue, what: str, size: int = 32) -> bytes:
    text = _str(value, what)
    try:
        raw = bytes.fromhex(text)
    except ValueError as exc:
        raise StateFileError(f"state file: {what} is not hex") from exc
    if len(raw) != size:
        raise StateFileError(f"state file: {what} must be {size} bytes")
    return raw


class StateFile:
    """The auditor's state file: one entry per trusted (origin, operator key), each with its
    nonce sidecar in the same directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, JSONValue]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StateFileError(f"cannot read state file {self.path}: {exc.strerror}") from exc
        try:
            doc = parse_json(data)
        except LedgerError as exc:
            raise StateFileError(f"state file {self.path} is not JSON: {exc.message}") from exc
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise StateFileError(f"{self.path} is not a FairLedger auditor state ({FORMAT})")
        return dict(_obj(doc.get("ledgers"), "ledgers"))

    def vkeys(self) -> list[str]:
        """The operator vkeys of every ledger held, in key order."""
        entries = sorted(self._read().items())
        return [_str(_obj(v, "entry").get("vkey"), "vkey") for _k, v in entries]

    def load(self, vkey: str) -> AuditorState | None:
        """The saved state of the ledger whose operator ``vkey`` is trusted, or None.

        Raises ``StateFileError`` if the entry does not hold together."""
        key = key_for_vkey(vkey)
        entry = self._read().get(key)
        if entry is None:
            return None
        doc = _obj(entry, "entry")
        if doc.get("vkey") != vkey:
            raise StateFileError(f"state entry {key!r} names another vkey")
        size = _int(doc.get("size"), "size")
        peaks = tuple(_hex(p, "peak") for p in _list(doc.get("peaks"), "peaks"))
        try:
            tree = merkle.CompactRange(size, peaks)
            note = _str(doc.get("checkpoint"), "checkpoint")
            signed = open_checkpoint(note, Ed25519Verifier.from_vkey(vkey))
        except LedgerError as exc:
            raise StateFileError(f"state entry {key!r}: {exc.message}") from exc
        if signed.checkpoint.size != size or signed.checkpoint.root != tree.root():
            raise StateFileError(
                f"state entry {key!r}: the saved tree does not match the saved checkpoint"
            )
        last_recorded_at = _str(doc.get("last_recorded_at"), "last_recorded_at")
        nonces_doc = _obj(doc.get("nonces"), "nonces")
        salt = _hex(nonces_doc.get("salt"), "nonce salt", SALT_SIZE)
        count = _int(nonces_doc.get("count"), "nonce count")
        name = _str(nonces_doc.get("file"), "nonce file")
        if "/" in name or name.startswith("."):
            raise StateFileError(f"state entry {key!r}: bad nonce file name {name!r}")
        prior = SortedDigests(self.path.with_name(name), count=count, size=size)
        return AuditorState(
            vkey=vkey,
            size=size,
            checkpoint=signed.text,
            peaks=peaks,
            last_entry_hash=_hex(doc.get("last_entry_hash"), "last_entry_hash"),
            last_recorded_at=last_recorded_at,
            ledger_state=_state_from_json(doc.get("ledger_state"), size, last_recorded_at),
            nonces=NonceSet(salt, prior),
        )

    def save(self, state: AuditorState) -> None:
        """Write ``state`` (its sidecar first, then the state file, atomically), replacing the
        entry of the same ledger and keeping the others. Raises ``StorageError``."""
        key = state.key
        ledgers = self._read()
        old_entry = ledgers.get(key)
        tag = hashlib.sha256(key.encode()).hexdigest()[:16]
        sidecar = self.path.with_name(f"{self.path.name}.{tag}.{state.size}.nonces")
        nonces = state.nonces
        if nonces.added or not sidecar.exists():
            write_atomic(sidecar, nonces.prior.merged(nonces.added, state.size))
        entry: JSONObject = {
            "origin": state.origin,
            "operator_key_id": state.operator_key_id,
            "vkey": state.vkey,
            "size": state.size,
            "root": state.root.hex(),
            "checkpoint": state.checkpoint,
            "peaks": [p.hex() for p in state.peaks],
            "last_entry_hash": state.last_entry_hash.hex(),
            "last_recorded_at": state.last_recorded_at,
            "ledger_state": _state_to_json(state.ledger_state),
            "nonces": {"file": sidecar.name, "count": len(nonces), "salt": nonces.salt.hex()},
        }
        ledgers[key] = entry
        write_atomic(self.path, canonical_bytes({"format": FORMAT, "ledgers": ledgers}) + b"\n")
        if isinstance(old_entry, dict):
            old_nonces = old_entry.get("nonces")
            old_name = old_nonces.get("file") if isinstance(old_nonces, dict) else None
            if isinstance(old_name, str) and old_name != sidecar.name and "/" not in old_name:
                nonces.prior.close()
                self.path.with_name(old_name).unlink(missing_ok=True)


__all__ = [
    "FORMAT",
    "AuditorState",
    "NonceSet",
    "SortedDigests",
    "StateFile",
    "StateFileError",
    "key_for_vkey",
    "ledger_key",
    "nonce_digest",
    "write_atomic",
]

"""RFC 9162 §2.1 Merkle tree: hashing, a streaming root accumulator, proofs and their checks.

Pure and stdlib-only. Storage model: the ledger keeps the hash of every *perfect* subtree;
node ``(level, index)`` covers leaves ``[index * 2**level, (index + 1) * 2**level)`` and level 0
holds the entry (leaf) hashes. Proof generation reads nodes through a ``NodeReader``:

* every node of a proof is the hash of some subtree ``[a, b)`` of the RFC 9162 tree;
* if ``[a, b)`` is perfect it is stored and read directly; otherwise it lies on the right edge
  of the tree and is folded from the O(log n) perfect subtrees of its left-aligned binary
  decomposition (the same shape RFC 9162 §2.1.1 gives it when it splits at powers of two);
* all ``(level, index)`` pairs of one proof go to the reader in ONE call (one batched query),
  so a proof costs O(log n) node reads and O(log n) hashing, never a pass over the log.

Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 step by step, after checking every hash
is 32 bytes and the proof has exactly the length its sizes imply (which is what the RFC's
``sn`` checks enforce), so that a failure says what was expected and what was observed.

Policy (DESIGN §2): a consistency proof from size 0 is empty and always valid (the old root
must then be ``EMPTY_ROOT``); from m to m it is empty and the two roots must be equal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TypeAlias

from ledger.errors import (
    ConsistencyProofError,
    InclusionProofError,
    MalformedError,
    StorageError,
)

HASH_SIZE = 32
EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()  # RFC 9162 §2.1.1: MTH({}) = HASH()

#: Given ``(level, index)`` of perfect subtrees, their hashes in the same order (one query).
NodeReader: TypeAlias = Callable[[Sequence[tuple[int, int]]], Sequence[bytes]]

_Range = tuple[int, int]  # leaves [a, b)


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1: ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly less than ``n`` (``n >= 2``), RFC 9162 §2.1.1."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over ``leaf_hashes`` by the RFC 9162 §2.1.1 recursion; a reference for tests, O(n)."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return node_hash(root_of(leaf_hashes[:k]), root_of(leaf_hashes[k:]))


def _decompose(a: int, b: int) -> list[tuple[int, int]]:
    """Perfect subtrees of ``[a, b)``, largest (leftmost) first.

    Every subtree of an RFC 9162 tree starts at a multiple of the largest power of two not
    above its size, so each piece is an aligned, stored node.
    """
    nodes = []
    while a < b:
        level = (b - a).bit_length() - 1
        nodes.append((level, a >> level))
        a += 1 << level
    return nodes


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Root of a range from its decomposition: RFC 9162 splits off the largest (left) piece
    first, so the pieces are joined right to left."""
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = node_hash(left, h)
    return h


def _read(reader: NodeReader, wanted: Sequence[tuple[int, int]]) -> Sequence[bytes]:
    """One batched ``reader`` call. Raises ``StorageError`` if the answer does not fit."""
    got = reader(wanted)
    if len(got) != len(wanted) or any(len(h) != HASH_SIZE for h in got):
        raise StorageError(
            f"node reader returned {len(got)} values for {len(wanted)} nodes, "
            f"or a value that is not a {HASH_SIZE}-byte hash"
        )
    return got


def _read_ranges(ranges: Sequence[_Range], reader: NodeReader) -> list[bytes]:
    """Hash of each range, with every node they need fetched in a single ``reader`` call."""
    shapes = [_decompose(a, b) for a, b in ranges]
    got = _read(reader, [node for shape in shapes for node in shape])
    out, pos = [], 0
    for shape in shapes:
        out.append(_fold(got[pos : pos + len(shape)]))
        pos += len(shape)
    return out


def _check_hash(
    value: bytes, what: str, error: type[InclusionProofError | ConsistencyProofError]
) -> None:
    if len(value) != HASH_SIZE:
        raise error(
            f"{what} is not a {HASH_SIZE}-byte hash",
            expected=str(HASH_SIZE),
            observed=str(len(value)),
        )


class CompactRange:
    """Streaming RFC 9162 root accumulator over leaves ``0..size-1`` holding O(log n) hashes.

    ``peaks`` are the hashes of the perfect subtrees of the binary decomposition of ``size``,
    left to right (largest first). Raises ``MalformedError`` if they do not fit ``size``.
    """

    __slots__ = ("_peaks", "_size")

    def __init__(self, size: int = 0, peaks: Sequence[bytes] = ()) -> None:
        if size < 0 or len(peaks) != size.bit_count():
            raise MalformedError(
                f"a compact range of size {size} has {max(size, 0).bit_count()} peaks, "
                f"not {len(peaks)}",
                field="peaks",
            )
        if any(len(p) != HASH_SIZE for p in peaks):
            raise MalformedError(f"peaks must be {HASH_SIZE}-byte hashes", field="peaks")
        self._size = size
        self._peaks = list(peaks)

    @classmethod
    def from_reader(cls, size: int, reader: NodeReader) -> CompactRange:
        """The compact range of the stored tree of ``size`` leaves: one batched read of its
        O(log n) peaks. Raises ``MalformedError`` for a negative size, ``StorageError`` if
        the reader's answer does not fit."""
        if size < 0:
            raise MalformedError(f"tree size {size} is negative", field="size")
        wanted = _decompose(0, size)
        return cls(size, _read(reader, wanted) if wanted else ())

    @property
    def size(self) -> int:
        return self._size

    @property
    def peaks(self) -> tuple[bytes, ...]:
        return tuple(self._peaks)

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add the next leaf; return the perfect nodes of level >= 1 it completes, as
        ``(level, index, hash)`` lowest level first. Amortised O(1) hashing.
        Raises ``MalformedError`` if ``leaf_hash`` is not 32 bytes."""
        if len(leaf_hash) != HASH_SIZE:
            raise MalformedError(f"a leaf hash is {HASH_SIZE} bytes", field="leaf_hash")
        seq, h, level, created = self._size, leaf_hash, 0, []
        # Each trailing 1 bit of the old size is a peak of the same level as ``h``: merge them.
        while (seq >> level) & 1:
            h = node_hash(self._peaks.pop(), h)
            level += 1
            created.append((level, seq >> level, h))
        self._peaks.append(h)
        self._size = seq + 1
        return created

    def root(self) -> bytes:
        """MTH of the current tree (``EMPTY_ROOT`` for size 0), O(log n) hashing."""
        return _fold(self._peaks) if self._peaks else EMPTY_ROOT

    def copy(self) -> CompactRange:
        return CompactRange(self._size, self._peaks)

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"


def root_from_reader(size: int, reader: NodeReader) -> bytes:
    """MTH of the stored tree of ``size`` leaves from one batched read of its O(log n) peaks.
    Raises ``MalformedError`` for a negative size, ``StorageError`` for a bad read."""
    return CompactRange.from_reader(size, reader).root()


def _inclusion_ranges(index: int, size: int) -> list[_Range]:
    """The subtrees whose hashes form PATH(index, D[0:size]) of RFC 9162 §2.1.3.1,
    leaf to root."""
    ranges = []
    a, b = 0, size
    while b - a > 1:
        k = _split(b - a)
        if index < a + k:  # PATH(m, D[0:k]) : MTH(D[k:n])
            ranges.append((a + k, b))
            b = a + k
        else:  # PATH(m - k, D[k:n]) : MTH(D[0:k])
            ranges.append((a, a + k))
            a += k
    ranges.reverse()
    return ranges


def _consistency_ranges(old: int, new: int) -> list[_Range]:
    """The subtrees whose hashes form SUBPROOF(old, D[0:new], true) of RFC 9162 §2.1.4.1,
    in proof order (``0 < old < new``)."""
    ranges = []
    a, b, complete = 0, new, True
    while old != b:
        k = _split(b - a)
        if old - a <= k:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            ranges.append((a + k, b))
            b = a + k
        else:  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            ranges.append((a, a + k))
            a += k
            complete = False
    if not complete:  # m == n and b is false: MTH(D[0:m]) of the current subtree
        ranges.append((a, b))
    ranges.reverse()
    return ranges


def inclusion_proof(index: int, size: int, reader: NodeReader) -> list[bytes]:
    """RFC 9162 §2.1.3.1 inclusion proof of leaf ``index`` in the tree of ``size`` leaves,
    leaf to root. O(log n): one batched ``reader`` call for O(log n) perfect nodes, then a
    fold for the right-edge subtree that is not perfect.
    Raises ``MalformedError`` unless ``0 <= index < size``; the reader's errors propagate."""
    if not 0 <= index < size:
        raise MalformedError(f"leaf index {index} is not in a tree of size {size}", field="index")
    return _read_ranges(_inclusion_ranges(index, size), reader)


def consistency_proof(old_size: int, new_size: int, reader: NodeReader) -> list[bytes]:
    """RFC 9162 §2.1.4.1 consistency proof from ``old_size`` to ``new_size``; empty when
    ``old_size`` is 0 or equals ``new_size``. O(log n) nodes in one batched ``reader`` call.
    Raises ``MalformedError`` unless ``0 <= old_size <= new_size``."""
    if not 0 <= old_size <= new_size:
        raise MalformedError(
            f"cannot prove size {old_size} consistent with size {new_size}", field="old_size"
        )
    if old_size in (0, new_size):
        return []
    return _read_ranges(_consistency_ranges(old_size, new_size), reader)


def _inclusion_length(index: int, size: int) -> int:
    """Length of PATH(index, D[0:size]): the levels below where ``index`` and the last leaf
    part ways, plus one left sibling per 1 bit of ``index`` above them."""
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def root_from_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` leads to from ``leaf_hash`` at ``index`` in a tree of ``size``
    (RFC 9162 §2.1.3.2 steps 1-4). Raises ``InclusionProofError`` for an index outside the
    tree, a proof of the wrong length or a value that is not a 32-byte hash."""
    # Step 1: the index must lie inside the tree.
    if not 0 <= index < size:
        raise InclusionProofError(
            f"leaf index {index} is not in a tree of size {size}",
            seq=index,
            expected=f"index < {size}",
            observed=str(index),
        )
    _check_hash(leaf_hash, "leaf hash", InclusionProofError)
    for i, p in enumerate(proof):
        _check_hash(p, f"inclusion proof element {i}", InclusionProofError)
    want = _inclusion_length(index, size)
    if len(proof) != want:
        raise InclusionProofError(
            "inclusion proof has the wrong length",
            seq=index,
            expected=f"{want} hashes",
            observed=f"{len(proof)} hashes",
        )
    # Steps 2-4; the length check above already guarantees 4a (sn > 0) and 5 (sn ends at 0).
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if fn & 1 or fn == sn:  # 4b
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1  # 4c
        sn >>= 1
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with ``root``
    (RFC 9162 §2.1.3.2). Raises ``InclusionProofError`` on any failure."""
    _check_hash(root, "root", InclusionProofError)
    computed = root_from_inclusion(leaf_hash, index, size, proof)
    if computed != root:  # step 5
        raise InclusionProofError(
            "inclusion proof does not lead to the root",
            seq=index,
            expected=root.hex(),
            observed=computed.hex(),
        )


def _consistency_length(old_size: int, new_size: int) -> int:
    """Length of SUBPROOF(old, D[0:new], true) for ``0 < old < new``: the inclusion path of
    leaf ``old - 1`` above the largest perfect subtree ending at ``old``, plus that subtree's
    hash unless it is the whole old tree."""
    shift = (old_size & -old_size).bit_length() - 1
    start = 0 if old_size == 1 << shift else 1
    return start + _inclusion_length(old_size - 1, new_size) - shift


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``new_size`` leaves with ``new_root`` extends the tree of
    ``old_size`` leaves with ``old_root`` (RFC 9162 §2.1.4.2, with the DESIGN §2 policy for
    sizes 0 and m == m). Raises ``ConsistencyProofError`` on any failure, including
    ``old_size > new_size`` and an old root of size 0 that is not ``EMPTY_ROOT``."""
    _check_hash(old_root, "old root", ConsistencyProofError)
    _check_hash(new_root, "new root", ConsistencyProofError)
    for i, p in enumerate(proof):
        _check_hash(p, f"consistency proof element {i}", ConsistencyProofError)
    if not 0 <= old_size <= new_size:
        raise ConsistencyProofError(
            "the old tree is larger than the new one",
            expected=f"old size <= {new_size}",
            observed=str(old_size),
        )
    want = 0 if old_size in (0, new_size) else _consistency_length(old_size, new_size)
    if len(proof) != want:
        raise ConsistencyProofError(
            "consistency proof has the wrong length",
            expected=f"{want} hashes",
            observed=f"{len(proof)} hashes",
        )
    if old_size == 0 and old_root != EMPTY_ROOT:
        raise ConsistencyProofError(
            "the root of the empty tree is SHA-256('')",
            expected=EMPTY_ROOT.hex(),
            observed=old_root.hex(),
        )
    if old_size == new_size:  # policy: same size, same root
        if old_root != new_root:
            raise ConsistencyProofError(
                f"two different roots for size {old_size}",
                expected=old_root.hex(),
                observed=new_root.hex(),
            )
        return
    if old_size == 0:  # policy: every tree extends the empty one
        return
    # Step 2: a perfect old tree is its own first proof node.
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # Steps 3-5.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    # Step 6; the length check above already guarantees 6a (sn > 0) and 7's sn == 0.
    for c in path[1:]:
        if fn & 1 or fn == sn:  # 6b
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1  # 6c
        sn >>= 1
    # Step 7.
    if fr != old_root:
        raise ConsistencyProofError(
            "consistency proof does not lead to the old root",
            expected=old_root.hex(),
            observed=fr.hex(),
        )
    if sr != new_root:
        raise ConsistencyProofError(
            "consistency proof does not lead to the new root",
            expected=new_root.hex(),
            observed=sr.hex(),
        )

"""Properties of ``ledger.merkle`` for every tree size up to ~300: generated proofs equal the
literal RFC 9162 §2.1.3.1 / §2.1.4.1 recursions and verify, the compact range agrees with the
reference root, and any tampering (a flipped bit, a wrong index or size, a missing or extra
hash) is rejected. A stateful test appends, proves and verifies as the ledger does.

Note on sizes: an RFC 9162 proof does not bind the tree size on its own — a proof for
``(i, n)`` can also verify as ``(i, n + 1)`` against the *same* root (e.g. leaf 0 of 3 vs
4). The signed checkpoint binds size and root together, so the size properties here check a
wrong size against the root of that size, plus upstream's ``size * 2`` and ``size // 2``
probes against the original root.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ledger.errors import ConsistencyProofError, InclusionProofError
from ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_inclusion,
    root_from_reader,
    root_of,
    verify_consistency,
    verify_inclusion,
)

N_MAX = 300

# -- the RFC 9162 recursions, literally: the reference for generation -----------------------


def _k(n: int) -> int:
    """The largest power of two smaller than ``n``."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]), RFC 9162 §2.1.3.1."""
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, d[:k]), root_of(d[k:])]
    return [*ref_path(m - k, d[k:]), root_of(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b), RFC 9162 §2.1.4.1."""
    n = len(d)
    if m == n:
        return [] if b else [root_of(d)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), root_of(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), root_of(d[:k])]


def ref_consistency(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]); empty from size 0 by DESIGN §2 policy."""
    return ref_subproof(m, d, True) if m > 0 else []


# -- one tree of N_MAX distinct leaves, stored as the ledger stores it ------------------------


class Store:
    """Perfect-subtree hashes keyed ``(level, index)``, filled by ``CompactRange.append``;
    its reader counts calls so tests can check that each proof is one batched read."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.tree = CompactRange()
        self.peaks_at: list[tuple[bytes, ...]] = [()]
        self.calls: list[int] = []

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        self.nodes[(0, self.tree.size)] = leaf
        created = self.tree.append(leaf)
        self.nodes.update(((level, idx), h) for level, idx, h in created)
        self.peaks_at.append(self.tree.peaks)
        return created

    def reader(self, wanted: Sequence[tuple[int, int]]) -> list[bytes]:
        self.calls.append(len(wanted))
        return [self.nodes[w] for w in wanted]


LEAVES = [leaf_hash(b"leaf %d" % i) for i in range(N_MAX)]
STORE = Store()
for _leaf in LEAVES:
    STORE.append(_leaf)


@cache
def root(n: int) -> bytes:
    return root_of(LEAVES[:n])


def one_read(n: int) -> None:
    """The last proof took exactly one reader call, of O(log n) nodes."""
    assert len(STORE.calls) == 1
    assert STORE.calls[0] <= 2 * n.bit_length()
    STORE.calls.clear()


sizes = st.integers(min_value=1, max_value=N_MAX)


@st.composite
def leaf_in_tree(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(sizes)
    return draw(st.integers(0, n - 1)), n


@st.composite
def two_sizes(draw: st.DrawFn, min_old: int = 0, proper: bool = False) -> tuple[int, int]:
    """``(m, n)`` with ``min_old <= m <= n`` (``m < n`` when ``proper``)."""
    n = draw(st.integers(min_value=min_old + proper, max_value=N_MAX))
    return draw(st.integers(min_old, n - proper)), n


def flip(proof: Sequence[bytes], element: int, bit: int) -> list[bytes]:
    out = list(proof)
    changed = bytearray(out[element])
    changed[bit // 8] ^= 1 << (bit % 8)
    out[element] = bytes(changed)
    return out


hashes = st.one_of(
    st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE), st.sampled_from(sorted(STORE.nodes.values()))
)

# -- compact range ----------------------------------------------------------------------------


def test_compact_range_root_equals_reference_at_every_size() -> None:
    tree = CompactRange()
    assert tree.root() == EMPTY_ROOT
    for n, leaf in enumerate(LEAVES, start=1):
        tree.append(leaf)
        assert tree.size == n
        assert tree.root() == root(n)


@given(st.lists(st.binary(max_size=8), max_size=N_MAX))
def test_compact_range_appends_match_reference(data: list[bytes]) -> None:
    leaves = [leaf_hash(d) for d in data]
    tree = CompactRange()
    for seq, leaf in enumerate(leaves):
        created = tree.append(leaf)
        # The completed nodes are exactly one per trailing 1 bit of seq, lowest level first.
        assert [level for level, _, _ in created] == list(
            range(1, 1 + (seq ^ (seq + 1)).bit_length() - 1)
        )
        for level, idx, h in created:
            assert (idx + 1) << level == seq + 1
            assert h == root_of(leaves[idx << level : (idx + 1) << level])
    assert tree.root() == root_of(leaves)
    copy = tree.copy()
    copy.append(leaf_hash(b"more"))
    assert tree.size == len(leaves)
    assert tree.root() == root_of(leaves)


@given(st.integers(min_value=0, max_value=N_MAX))
def test_from_reader_reproduces_peaks(n: int) -> None:
    STORE.calls.clear()
    tree = CompactRange.from_reader(n, STORE.reader)
    assert STORE.calls == ([n.bit_count()] if n else [])
    STORE.calls.clear()
    assert tree.size == n
    assert tree.peaks == STORE.peaks_at[n]
    assert tree.root() == root(n)
    assert root_from_reader(n, STORE.reader) == root(n)
    STORE.calls.clear()
    # ... and it keeps accumulating from there.
    if n < N_MAX:
        tree.append(LEAVES[n])
        assert tree.peaks == STORE.peaks_at[n + 1]


# -- inclusion ---------------------------------------------------------------------------------


def _check_inclusion(i: int, n: int) -> list[bytes]:
    STORE.calls.clear()
    proof = inclusion_proof(i, n, STORE.reader)
    one_read(n)
    assert proof == ref_path(i, LEAVES[:n])
    verify_inclusion(LEAVES[i], i, n, proof, root(n))
    assert root_from_inclusion(LEAVES[i], i, n, proof) == root(n)
    return proof


@pytest.mark.parametrize("n", range(1, 65), ids=lambda n: f"size-{n}")
def test_every_inclusion_proof_of_small_trees(n: int) -> None:
    for i in range(n):
        _check_inclusion(i, n)


@given(leaf_in_tree())
def test_inclusion_proof_matches_rfc_and_verifies(case: tuple[int, int]) -> None:
    _check_inclusion(*case)


@given(leaf_in_tree(), st.data())
def test_inclusion_proof_with_a_flipped_bit_fails(
    case: tuple[int, int], data: st.DataObject
) -> None:
    i, n = case
    proof = inclusion_proof(i, n, STORE.reader)
    bit = data.draw(st.integers(0, 8 * HASH_SIZE - 1), label="bit")
    if proof:
        element = data.draw(st.integers(0, len(proof) - 1), label="element")
        with pytest.raises(InclusionProofError):
            verify_inclusion(LEAVES[i], i, n, flip(proof, element, bit), root(n))
    with pytest.raises(InclusionProofError):
        verify_inclusion(flip([LEAVES[i]], 0, bit)[0], i, n, proof, root(n))
    with pytest.raises(InclusionProofError):
        verify_inclusion(LEAVES[i], i, n, proof, flip([root(n)], 0, bit)[0])


@given(leaf_in_tree(), st.data())
def test_inclusion_proof_at_a_wrong_index_fails(case: tuple[int, int], data: st.DataObject) -> None:
    i, n = case
    j = data.draw(st.integers(-1, n + 1).filter(lambda j: j != i), label="wrong index")
    proof = inclusion_proof(i, n, STORE.reader)
    with pytest.raises(InclusionProofError):
        verify_inclusion(LEAVES[i], j, n, proof, root(n))


@given(leaf_in_tree(), st.integers(0, N_MAX))
def test_inclusion_proof_at_a_wrong_size_fails(case: tuple[int, int], other: int) -> None:
    i, n = case
    proof = inclusion_proof(i, n, STORE.reader)
    for wrong in (n * 2, n // 2):
        with pytest.raises(InclusionProofError):
            verify_inclusion(LEAVES[i], i, wrong, proof, root(n))
    if other != n:
        with pytest.raises(InclusionProofError):
            verify_inclusion(LEAVES[i], i, other, proof, root(other))


@given(leaf_in_tree(), st.data())
def test_truncated_or_extended_inclusion_proof_fails(
    case: tuple[int, int], data: st.DataObject
) -> None:
    i, n = case
    proof = inclusion_proof(i, n, STORE.reader)
    if proof:
        gone = data.draw(st.integers(0, len(proof) - 1), label="removed")
        with pytest.raises(InclusionProofError):
            verify_inclusion(LEAVES[i], i, n, proof[:gone] + proof[gone + 1 :], root(n))
    at = data.draw(st.integers(0, len(proof)), label="inserted at")
    extra = data.draw(hashes, label="inserted")
    with pytest.raises(InclusionProofError):
        verify_inclusion(LEAVES[i], i, n, [*proof[:at], extra, *proof[at:]], root(n))


# -- consistency -------------------------------------------------------------------------------


def _check_consistency(m: int, n: int) -> list[bytes]:
    STORE.calls.clear()
    proof = consistency_proof(m, n, STORE.reader)
    if 0 < m < n:
        one_read(n)
    assert STORE.calls == []
    assert proof == ref_consistency(m, LEAVES[:n])
    verify_consistency(m, n, root(m), root(n), proof)
    return proof


@pytest.mark.parametrize("n", range(65), ids=lambda n: f"to-size-{n}")
def test_every_consistency_proof_of_small_trees(n: int) -> None:
    for m in range(n + 1):
        _check_consistency(m, n)


@given(two_sizes())
def test_consistency_proof_matches_rfc_and_verifies(case: tuple[int, int]) -> None:
    _check_consistency(*case)


@given(two_sizes(min_old=1, proper=True), st.data())
def test_consistency_proof_with_a_flipped_bit_fails(
    case: tuple[int, int], data: st.DataObject
) -> None:
    m, n = case
    proof = consistency_proof(m, n, STORE.reader)
    element = data.draw(st.integers(0, len(proof) - 1), label="element")
    bit = data.draw(st.integers(0, 8 * HASH_SIZE - 1), label="bit")
    with pytest.raises(ConsistencyProofError):
        verify_consistency(m, n, root(m), root(n), flip(proof, element, bit))
    with pytest.raises(ConsistencyProofError):
        verify_consistency(m, n, flip([root(m)], 0, bit)[0], root(n), proof)
    with pytest.raises(ConsistencyProofError):
        verify_consistency(m, n, root(m), flip([root(n)], 0, bit)[0], proof)
    with pytest.raises(ConsistencyProofError):
        verify_consistency(m, n, root(n), root(m), proof)


@given(two_sizes(min_old=1, proper=True), st.integers(1, N_MAX))
def test_consistency_proof_at_a_wrong_size_fails(case: tuple[int, int], other: int) -> None:
    m, n = case
    proof = consistency_proof(m, n, STORE.reader)
    for old, new in ((m - 1, n), (m + 1, n), (m ^ 2, n), (m, n * 2), (m, n // 2)):
        with pytest.raises(ConsistencyProofError):
            verify_consistency(old, new, root(m), root(n), proof)
    if other != m:
        with pytest.raises(ConsistencyProofError):
            verify_consistency(other, n, root(other), root(n), proof)
    if other != n:
        with pytest.raises(ConsistencyProofError):
            verify_consistency(m, other, root(m), root(other), proof)


@given(two_sizes(min_old=1, proper=True), st.data())
def test_truncated_or_extended_consistency_proof_fails(
    case: tuple[int, int], data: st.DataObject
) -> None:
    m, n = case
    proof = consistency_proof(m, n, STORE.reader)
    gone = data.draw(st.integers(0, len(proof) - 1), label="removed")
    with pytest.raises(ConsistencyProofError):
        verify_consistency(m, n, root(m), root(n), proof[:gone] + proof[gone + 1 :])
    at = data.draw(st.integers(0, len(proof)), label="inserted at")
    extra = data.draw(hashes, label="inserted")
    with pytest.raises(ConsistencyProofError):
        verify_consistency(m, n, root(m), root(n), [*proof[:at], extra, *proof[at:]])


@given(st.integers(0, N_MAX), hashes)
def test_policy_for_size_zero_and_equal_sizes(n: int, other: bytes) -> None:
    verify_consistency(0, n, EMPTY_ROOT, root(n), [])
    verify_consistency(n, n, root(n), root(n), [])
    with pytest.raises(ConsistencyProofError):
        verify_consistency(0, n, EMPTY_ROOT, root(n), [other])
    if other != root(n):
        with pytest.raises(ConsistencyProofError):
            verify_consistency(n, n, root(n), other, [])


# -- stateful: append, checkpoint, prove, verify -----------------------------------------------


class MerkleLog(RuleBasedStateMachine):
    """A log that appends leaves, signs checkpoints and serves proofs from its store, checked
    against the RFC recursions over the plain list of leaves."""

    def __init__(self) -> None:
        super().__init__()
        self.store = Store()
        self.leaves: list[bytes] = []
        self.checkpoints: list[tuple[int, bytes]] = [(0, EMPTY_ROOT)]

    @rule(data=st.lists(st.binary(max_size=8), min_size=1, max_size=40))
    def append(self, data: list[bytes]) -> None:
        for d in data:
            h = leaf_hash(d)
            self.leaves.append(h)
            for level, idx, node in self.store.append(h):
                assert node == root_of(self.leaves[idx << level :])

    @rule()
    def checkpoint(self) -> None:
        size, head = self.store.tree.size, self.store.tree.root()
        assert head == root_of(self.leaves)
        assert root_from_reader(size, self.store.reader) == head
        self.checkpoints.append((size, head))

    @precondition(lambda self: len(self.checkpoints) > 1)
    @rule(data=st.data())
    def prove_inclusion(self, data: st.DataObject) -> None:
        n, head = data.draw(st.sampled_from(self.checkpoints).filter(lambda c: c[0] > 0))
        i = data.draw(st.integers(0, n - 1), label="index")
        self.store.calls.clear()
        proof = inclusion_proof(i, n, self.store.reader)
        assert len(self.store.calls) == 1
        assert proof == ref_path(i, self.leaves[:n])
        verify_inclusion(self.leaves[i], i, n, proof, head)
        if proof:
            bad = flip(
                proof, data.draw(st.integers(0, len(proof) - 1)), data.draw(st.integers(0, 255))
            )
            with pytest.raises(InclusionProofError):
                verify_inclusion(self.leaves[i], i, n, bad, head)

    @rule(data=st.data())
    def prove_consistency(self, data: st.DataObject) -> None:
        first = data.draw(st.sampled_from(self.checkpoints), label="first")
        second = data.draw(st.sampled_from(self.checkpoints), label="second")
        (m, old), (n, new) = sorted((first, second))
        note(f"consistency {m} -> {n}")
        proof = consistency_proof(m, n, self.store.reader)
        assert proof == ref_consistency(m, self.leaves[:n])
        verify_consistency(m, n, old, new, proof)
        if proof:
            bad = flip(
                proof, data.draw(st.integers(0, len(proof) - 1)), data.draw(st.integers(0, 255))
            )
            with pytest.raises(ConsistencyProofError):
                verify_consistency(m, n, old, new, bad)

    @invariant()
    def compact_range_is_the_stored_tree(self) -> None:
        size = len(self.leaves)
        assert self.store.tree.size == size
        assert CompactRange.from_reader(size, self.store.reader).peaks == self.store.tree.peaks


MerkleLog.TestCase.settings = settings(max_examples=50, stateful_step_count=40, deadline=None)
TestMerkleLog = MerkleLog.TestCase

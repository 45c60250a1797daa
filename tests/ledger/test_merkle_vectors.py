"""RFC 6962 / RFC 9162 known-answer vectors (``shared/vectors/rfc6962.json``, the CT test data
set as kept by transparency-dev/merkle): every root, stored node, hasher case, inclusion and
consistency proof is both generated from a dict-backed store and verified.

Negative probes: the vectors file names ``rfc6962_probes.json`` (transparency-dev's
``testdata/**``) but it is not in ``shared/vectors``. Those files are the happy paths run
through a fixed set of corruptions (``corruptInclusionProof`` / ``corruptConsistencyProof``);
the same corruptions are applied here to every vector, under upstream's names, and each one
must be rejected.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pytest

from ledger.errors import ConsistencyProofError, InclusionProofError, MalformedError
from ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion,
    root_from_reader,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from tests.shared import VECTORS_DIR

VECTORS: dict[str, Any] = json.loads((VECTORS_DIR / "rfc6962.json").read_text())
LEAF_HASHES = [leaf_hash(bytes.fromhex(x)) for x in VECTORS["leaf_inputs_hex"]]
ROOTS = {int(n): bytes.fromhex(h) for n, h in VECTORS["root_hashes_hex_by_size"].items()}


def _store(leaves: Sequence[bytes]) -> dict[tuple[int, int], bytes]:
    """Every perfect subtree of ``leaves``, keyed ``(level, index)``, as the ledger stores them."""
    tree, store = CompactRange(), {}
    for i, h in enumerate(leaves):
        store[(0, i)] = h
        store.update(((level, idx), digest) for level, idx, digest in tree.append(h))
    return store


STORE = _store(LEAF_HASHES)


def reader(wanted: Sequence[tuple[int, int]]) -> list[bytes]:
    return [STORE[node] for node in wanted]


def _hexes(hashes: Sequence[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


# -- hashing, roots and stored nodes ---------------------------------------------------------


@pytest.mark.parametrize(
    "vector", VECTORS["hasher_vectors"], ids=lambda v: v["desc"].split(" (")[0]
)
def test_hasher(vector: dict[str, str]) -> None:
    if vector["kind"] == "empty":
        got = EMPTY_ROOT
    elif vector["kind"] == "leaf":
        got = leaf_hash(bytes.fromhex(vector["input_hex"]))
    else:
        got = node_hash(bytes.fromhex(vector["left_hex"]), bytes.fromhex(vector["right_hex"]))
    assert got.hex() == vector["want_hex"]


@pytest.mark.parametrize("size", sorted(ROOTS), ids=lambda n: f"size-{n}")
def test_root_by_size(size: int) -> None:
    tree = CompactRange()
    for h in LEAF_HASHES[:size]:
        tree.append(h)
    assert root_of(LEAF_HASHES[:size]) == ROOTS[size]
    assert tree.root() == ROOTS[size]
    assert root_from_reader(size, reader) == ROOTS[size]
    assert CompactRange.from_reader(size, reader).peaks == tree.peaks


NODES = [
    (level, idx, want)
    for level, row in enumerate(VECTORS["node_hashes_hex_by_level"])
    for idx, want in enumerate(row)
]


@pytest.mark.parametrize(
    ("level", "idx", "want"), NODES, ids=[f"level-{lv}-index-{i}" for lv, i, _ in NODES]
)
def test_stored_node(level: int, idx: int, want: str) -> None:
    assert STORE[(level, idx)].hex() == want


def test_store_holds_exactly_the_perfect_subtrees() -> None:
    assert sorted(STORE) == sorted((level, idx) for level, idx, _ in NODES)


# -- proofs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inclusion:
    leaf: bytes
    index: int
    size: int
    proof: tuple[bytes, ...]
    root: bytes

    def verify(self) -> None:
        verify_inclusion(self.leaf, self.index, self.size, self.proof, self.root)


@dataclass(frozen=True)
class Consistency:
    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    proof: tuple[bytes, ...]

    def verify(self) -> None:
        verify_consistency(self.old_size, self.new_size, self.old_root, self.new_root, self.proof)


INCLUSIONS = [
    Inclusion(
        LEAF_HASHES[v["leaf_index"]],
        v["leaf_index"],
        v["tree_size"],
        tuple(bytes.fromhex(p) for p in v["proof_hex"]),
        ROOTS[v["tree_size"]],
    )
    for v in VECTORS["inclusion_proofs"]
]
CONSISTENCIES = [
    Consistency(
        v["size1"],
        v["size2"],
        ROOTS[v["size1"]],
        ROOTS[v["size2"]],
        tuple(bytes.fromhex(p) for p in v["proof_hex"]),
    )
    for v in VECTORS["consistency_proofs"]
]


def _inclusion_id(c: Inclusion) -> str:
    return f"leaf-{c.index}-of-{c.size}"


def _consistency_id(c: Consistency) -> str:
    return f"{c.old_size}-to-{c.new_size}"


@pytest.mark.parametrize("case", INCLUSIONS, ids=_inclusion_id)
def test_inclusion_proof_generated(case: Inclusion) -> None:
    assert _hexes(inclusion_proof(case.index, case.size, reader)) == _hexes(case.proof)


@pytest.mark.parametrize("case", INCLUSIONS, ids=_inclusion_id)
def test_inclusion_proof_verifies(case: Inclusion) -> None:
    case.verify()
    assert root_from_inclusion(case.leaf, case.index, case.size, case.proof) == case.root


@pytest.mark.parametrize("case", CONSISTENCIES, ids=_consistency_id)
def test_consistency_proof_generated(case: Consistency) -> None:
    got = consistency_proof(case.old_size, case.new_size, reader)
    assert _hexes(got) == _hexes(case.proof)


@pytest.mark.parametrize("case", CONSISTENCIES, ids=_consistency_id)
def test_consistency_proof_verifies(case: Consistency) -> None:
    case.verify()


# -- negative probes ----------------------------------------------------------------------------

GARBAGE = b""  # upstream's "garbage" is an empty proof element
JUNK = base64.b64decode(
    "q6yroAAAAAAAAAAAAAAAAAAAAAAAAAAAAGAGHgASNFY="
)  # upstream's inserted component
RANDOM_ROOT = bytes(range(HASH_SIZE))


def _flips(proof: tuple[bytes, ...]) -> list[tuple[str, tuple[bytes, ...]]]:
    out = []
    for i, p in enumerate(proof):
        for bit in (0, 3, 255):
            flipped = bytearray(p)
            flipped[bit // 8] ^= 1 << (bit % 8)
            out.append(
                (f"modified-proof[{i}]-bit-{bit}", (*proof[:i], bytes(flipped), *proof[i + 1 :]))
            )
    return out


def _proof_edits(
    proof: tuple[bytes, ...], roots: dict[str, bytes]
) -> list[tuple[str, tuple[bytes, ...]]]:
    """Proof corruptions shared by both kinds of proof."""
    mid = len(proof) // 2
    edits = [
        ("preceding-garbage", (GARBAGE, *proof)),
        ("trailing-garbage", (*proof, GARBAGE)),
        ("inserted-component", (*proof[:mid], JUNK, *proof[mid:])),
        ("empty-proof", ()),
        *_flips(proof),
        *((f"removed-component[{i}]", proof[:i] + proof[i + 1 :]) for i in range(len(proof))),
        *((f"duplicated-proof[{i}]", proof[: i + 1] + proof[i:]) for i in range(len(proof))),
    ]
    for name, root in roots.items():
        edits += [(f"preceding-{name}", (root, *proof)), (f"trailing-{name}", (*proof, root))]
    return edits


def _inclusion_probes(c: Inclusion) -> list[tuple[str, Inclusion]]:
    probes = [
        ("leafIndex-sub-1", replace(c, index=c.index - 1)),
        ("leafIndex-plus-1", replace(c, index=c.index + 1)),
        ("leafIndex-xor-2", replace(c, index=c.index ^ 2)),
        ("treeSize-mul-2", replace(c, size=c.size * 2)),
        ("treeSize-div-2", replace(c, size=c.size // 2)),
        ("wrong-leaf", replace(c, leaf=b"WrongLeaf")),
        ("wrong-leaf-hash", replace(c, leaf=leaf_hash(b"WrongLeaf"))),
        ("empty-root", replace(c, root=EMPTY_ROOT)),
        ("random-root", replace(c, root=RANDOM_ROOT)),
        ("truncated-root", replace(c, root=c.root[:-1])),
        ("extended-root", replace(c, root=c.root + b"\x00")),
        ("truncated-leaf", replace(c, leaf=c.leaf[:-1])),
    ]
    probes += [(n, replace(c, proof=p)) for n, p in _proof_edits(c.proof, {"root": c.root})]
    return [(f"{_inclusion_id(c)}-{name}", p) for name, p in probes if p != c]


def _consistency_probes(c: Consistency) -> list[tuple[str, Consistency]]:
    probes = [
        ("size1-sub-1", replace(c, old_size=c.old_size - 1)),
        ("size1-plus-1", replace(c, old_size=c.old_size + 1)),
        ("size1-xor-2", replace(c, old_size=c.old_size ^ 2)),
        ("size2-mul-2", replace(c, new_size=c.new_size * 2)),
        ("size2-div-2", replace(c, new_size=c.new_size // 2)),
        ("wrong-root1", replace(c, old_root=RANDOM_ROOT)),
        ("wrong-root2", replace(c, new_root=RANDOM_ROOT)),
        ("empty-root1", replace(c, old_root=EMPTY_ROOT)),
        ("empty-root2", replace(c, new_root=EMPTY_ROOT)),
        ("swapped-roots", replace(c, old_root=c.new_root, new_root=c.old_root)),
        ("truncated-root1", replace(c, old_root=c.old_root[:-1])),
        ("truncated-root2", replace(c, new_root=c.new_root[:-1])),
        ("truncated-proof", replace(c, proof=c.proof[:-1])),
    ]
    roots = {"root1": c.old_root, "root2": c.new_root}
    probes += [(n, replace(c, proof=p)) for n, p in _proof_edits(c.proof, roots)]
    return [(f"{_consistency_id(c)}-{name}", p) for name, p in probes if p != c]


INCLUSION_PROBES = [
    *(probe for case in INCLUSIONS for probe in _inclusion_probes(case)),
    ("leaf-0-of-0", Inclusion(EMPTY_ROOT, 0, 0, (), EMPTY_ROOT)),
    ("leaf-8-of-8", Inclusion(LEAF_HASHES[7], 8, 8, (), ROOTS[8])),
    ("negative-index", Inclusion(LEAF_HASHES[0], -1, 8, (), ROOTS[8])),
]
CONSISTENCY_PROBES = [
    *(probe for case in CONSISTENCIES for probe in _consistency_probes(case)),
    ("0-to-8-proof-not-empty", Consistency(0, 8, EMPTY_ROOT, ROOTS[8], (LEAF_HASHES[0],))),
    ("0-to-8-old-root-not-empty", Consistency(0, 8, ROOTS[1], ROOTS[8], ())),
    ("8-to-8-different-roots", Consistency(8, 8, ROOTS[8], ROOTS[7], ())),
    ("8-to-8-proof-not-empty", Consistency(8, 8, ROOTS[8], ROOTS[8], (ROOTS[8],))),
    ("8-to-7", Consistency(8, 7, ROOTS[8], ROOTS[7], ())),
    ("negative-size1", Consistency(-1, 8, EMPTY_ROOT, ROOTS[8], ())),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=n) for n, c in INCLUSION_PROBES])
def test_inclusion_probe_rejected(case: Inclusion) -> None:
    with pytest.raises(InclusionProofError):
        case.verify()


@pytest.mark.parametrize("case", [pytest.param(c, id=n) for n, c in CONSISTENCY_PROBES])
def test_consistency_probe_rejected(case: Consistency) -> None:
    with pytest.raises(ConsistencyProofError):
        case.verify()


# -- policy (DESIGN §2) and generation arguments -------------------------------------------


@pytest.mark.parametrize("size", sorted(ROOTS), ids=lambda n: f"0-to-{n}")
def test_consistency_from_empty_tree_is_empty_and_valid(size: int) -> None:
    assert consistency_proof(0, size, reader) == []
    verify_consistency(0, size, EMPTY_ROOT, ROOTS[size], [])


@pytest.mark.parametrize("size", sorted(ROOTS), ids=lambda n: f"{n}-to-{n}")
def test_consistency_to_same_size_is_empty_and_needs_equal_roots(size: int) -> None:
    assert consistency_proof(size, size, reader) == []
    verify_consistency(size, size, ROOTS[size], ROOTS[size], [])


@pytest.mark.parametrize(
    ("call", "field"),
    [
        pytest.param(lambda: inclusion_proof(8, 8, reader), "index", id="inclusion-index-eq-size"),
        pytest.param(
            lambda: inclusion_proof(-1, 8, reader), "index", id="inclusion-negative-index"
        ),
        pytest.param(lambda: inclusion_proof(0, 0, reader), "index", id="inclusion-empty-tree"),
        pytest.param(
            lambda: consistency_proof(5, 4, reader), "old_size", id="consistency-old-gt-new"
        ),
        pytest.param(
            lambda: consistency_proof(-1, 4, reader), "old_size", id="consistency-negative"
        ),
        pytest.param(lambda: root_from_reader(-1, reader), "size", id="root-negative-size"),
    ],
)
def test_bad_generation_arguments_are_malformed(call: Callable[[], object], field: str) -> None:
    with pytest.raises(MalformedError) as info:
        call()
    assert info.value.field == field


@pytest.mark.parametrize(
    ("leaf", "index", "size", "proof"),
    [
        pytest.param(LEAF_HASHES[0] + b"\x00", 0, 1, (), id="leaf-hash-33-bytes"),
        pytest.param(b"WrongLeaf", 0, 1, (), id="leaf-hash-9-bytes"),
        pytest.param(LEAF_HASHES[0], 1, 1, (), id="index-eq-size"),
        pytest.param(LEAF_HASHES[0], 0, 2, (LEAF_HASHES[1][:-1],), id="proof-hash-31-bytes"),
        pytest.param(LEAF_HASHES[0], 0, 2, (), id="proof-too-short"),
        pytest.param(LEAF_HASHES[0], 0, 1, (LEAF_HASHES[1],), id="proof-too-long"),
    ],
)
def test_root_from_inclusion_rejects_malformed_input(
    leaf: bytes, index: int, size: int, proof: tuple[bytes, ...]
) -> None:
    with pytest.raises(InclusionProofError):
        root_from_inclusion(leaf, index, size, proof)

"""Where upstream revenue shares come from: ``ProvenanceSource``.

A revenue share flows upstream (DESIGN §5): a supplier earns its share of the sales revenue
of every lot its lots went into, pro rata by contribution through transformations. Settlement
asks a ``ProvenanceSource`` for the contributions of each sold lot, as of the statement's
``as_of_seq``, and cites the seqs it returns. The traceability projections will provide the
real source; ``ProvenanceGraph`` is a small in-memory one (tests, demos, offline re-settlement
of a hand-made bundle).

**Fractions** are exact ``Decimal`` values in ``[0, 1]`` that add up to at most 1 per sold
lot. A source whose shares have no finite decimal expansion (a third) rounds each one down to
``SHARE_PLACES`` decimal places with ``decimal_share``, deterministically, so every machine
gets the same statement and the shares never add up to more than the whole.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Protocol

from contracts.errors import InvalidFactError
from contracts.facts import Contribution

__all__ = [
    "SHARE_PLACES",
    "ProvenanceGraph",
    "ProvenanceSource",
    "UpstreamContribution",
    "decimal_share",
]

#: Decimal places of a contribution share that is not a finite decimal.
SHARE_PLACES = 18


def decimal_share(share: Fraction) -> Decimal:
    """``share`` exactly if it is a finite decimal with at most ``SHARE_PLACES`` places, else
    rounded down to ``SHARE_PLACES`` places."""
    if share < 0 or share > 1:
        raise InvalidFactError(f"a contribution share must lie in [0, 1], got {share}")
    scaled = share * 10**SHARE_PLACES
    floor = Decimal(scaled.numerator // scaled.denominator).scaleb(-SHARE_PLACES)
    return floor.normalize() if floor else Decimal(0)


@dataclass(frozen=True, slots=True)
class UpstreamContribution:
    """``fraction`` of a sold lot came from upstream ``lot``, which ``supplier`` supplied;
    ``seqs`` are the records proving each step (shipments, receipts, transformations)."""

    lot: str
    supplier: str
    fraction: Decimal
    seqs: tuple[int, ...]

    def __post_init__(self) -> None:
        Contribution(self.lot, self.supplier, self.fraction)  # validates the fact
        if not all(type(seq) is int and seq >= 0 for seq in self.seqs):
            raise InvalidFactError("UpstreamContribution.seqs must be record seqs", field="seqs")

    @property
    def fact(self) -> Contribution:
        return Contribution(self.lot, self.supplier, self.fraction)


class ProvenanceSource(Protocol):
    """The contributions of upstream suppliers' lots to a lot, from records up to
    ``as_of_seq`` (inclusive). An unknown lot has no contributions (an empty sequence)."""

    def contributions(self, lot: str, as_of_seq: int) -> Sequence[UpstreamContribution]: ...


@dataclass(frozen=True, slots=True)
class _Supply:
    supplier: str
    seq: int


@dataclass(frozen=True, slots=True)
class _Transform:
    inputs: tuple[tuple[str, Fraction], ...]
    seq: int


@dataclass
class ProvenanceGraph:
    """An in-memory lot graph: lots supplied by a party, and transformations of input lots
    (with quantities) into an output lot.

    ``contributions(lot)`` walks back through transformations multiplying the input shares
    (by quantity) until it reaches supplied lots; each supplied lot's total share is reported
    once with the union of the seqs on its paths. Records after ``as_of_seq`` are ignored.
    """

    supplies: dict[str, _Supply] = field(default_factory=dict)
    transforms: dict[str, list[_Transform]] = field(default_factory=dict)

    def supplied(self, lot: str, supplier: str, seq: int) -> ProvenanceGraph:
        """``supplier`` delivered ``lot`` (proven by record ``seq``)."""
        self.supplies[lot] = _Supply(supplier, seq)
        return self

    def transformed(
        self, output: str, inputs: Mapping[str, Decimal | int], seq: int
    ) -> ProvenanceGraph:
        """``inputs`` (lot → quantity) went into ``output`` (record ``seq``). Several
        transformations into one output lot add up."""
        parts = tuple(sorted((lot, Fraction(quantity)) for lot, quantity in inputs.items()))
        if not parts or any(quantity <= 0 for _, quantity in parts):
            raise InvalidFactError(f"transformation into {output}: quantities must be positive")
        self.transforms.setdefault(output, []).append(_Transform(parts, seq))
        return self

    def contributions(self, lot: str, as_of_seq: int) -> Sequence[UpstreamContribution]:
        # Shares are exact ratios kept as integer pairs (numerator, denominator): the same
        # rationals as Fraction arithmetic gives, without a Fraction per step.
        shares: dict[str, tuple[int, int]] = {}
        proofs: dict[str, set[int]] = {}
        self._walk(lot, 1, 1, frozenset(), as_of_seq, shares, proofs, set())
        return [
            UpstreamContribution(
                origin,
                self.supplies[origin].supplier,
                decimal_share(Fraction(numerator, denominator)),
                tuple(sorted(proofs[origin])),
            )
            for origin, (numerator, denominator) in sorted(shares.items())
        ]

    def _walk(
        self,
        lot: str,
        numerator: int,
        denominator: int,
        path: frozenset[int],
        as_of_seq: int,
        shares: dict[str, tuple[int, int]],
        proofs: dict[str, set[int]],
        visiting: set[str],
    ) -> None:
        transforms = [t for t in self.transforms.get(lot, ()) if t.seq <= as_of_seq]
        if transforms:
            if lot in visiting:
                raise InvalidFactError(f"lot {lot} is its own ancestor")
            visiting.add(lot)
            total = sum((q for t in transforms for _, q in t.inputs), Fraction(0))
            # share * quantity / total, with total = tn / td
            base_n, base_d = numerator * total.denominator, denominator * total.numerator
            for transform in transforms:
                for source, quantity in transform.inputs:
                    n, d = base_n * quantity.numerator, base_d * quantity.denominator
                    divisor = math.gcd(n, d)
                    self._walk(
                        source,
                        n // divisor,
                        d // divisor,
                        path | {transform.seq},
                        as_of_seq,
                        shares,
                        proofs,
                        visiting,
                    )
            visiting.discard(lot)
            return
        supply = self.supplies.get(lot)
        if supply is None or supply.seq > as_of_seq:
            return
        seen = shares.get(lot)
        if seen is not None:
            n = seen[0] * denominator + numerator * seen[1]
            d = seen[1] * denominator
            divisor = math.gcd(n, d)
            numerator, denominator = n // divisor, d // divisor
        shares[lot] = (numerator, denominator)
        proofs.setdefault(lot, set()).update(path | {supply.seq})

"""Contract lifecycle: proposals, acceptances, amendments and termination (DESIGN §5).

One pure state machine, used twice: ``contracts.projection`` runs it inside each append (a
refused statement raises and nothing is written) and settlement replays it over the records
up to ``as_of_seq``. Both call ``apply_contract_statement``; a record it refuses (possible only
for records appended while the projection was not registered) changes nothing in either.

Rules:

* ``contract.propose`` of version 1 creates the contract; version ``n+1`` amends it and may be
  proposed by an obligated party of the current version; the currency never changes. A newer
  proposal replaces an older one that was never accepted by everyone (it *lapses*).
* The parties that **take on an obligation** are those with the ``buyer`` or ``supplier``
  role; auditors only read. A version becomes **binding** when every one of them has signed
  ``contract.accept`` over that version's exact ``terms_hash``; proposing is not accepting, so
  the proposer signs an acceptance too. No one is bound without its own acceptance.
* A binding amendment **supersedes** the previous binding version. Facts are priced under the
  version in force on their date: the highest version that has ever been binding whose
  validity (``valid_from``..``valid_until``) covers the date, before any termination.
* ``contract.terminate`` needs a binding version and an obligated author. Ground
  ``late_delivery``: a buyer cites a delivery more than ``termination_after_days`` late and not
  excused by force majeure (``contracts.rules.termination_right``); it takes effect on
  ``effective_on``. Ground ``mutual``: takes effect once every obligated party has filed one
  with the same ``effective_on``. Either way ``effective_on`` is not before the statement's
  own ``issued_at`` date, and facts dated on or after it fall outside the contract.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from functools import lru_cache

from contracts.bodies import (
    ContractAcceptBody,
    ContractProposeBody,
    ContractTerminateBody,
    parse_body,
    period_bounds,
)
from contracts.deliveries import delivery_fact, match_deliveries, read_event
from contracts.entries import Entry
from contracts.errors import (
    ContractError,
    ContractStateError,
    InvalidTermsError,
    MalformedContractStatementError,
    NotAPartyError,
    TerminationRefusedError,
    TermsMismatchError,
    UnknownContractError,
)
from contracts.rules import days_late, termination_right
from contracts.terms import ContractTerms, parse_terms, terms_hash
from ledger.canonical import JSONObject, JSONValue, canonical_bytes, parse_json
from ledger.state import Kind

__all__ = [
    "CONTRACT_KINDS",
    "Contract",
    "ContractStatus",
    "ContractVersion",
    "EntryLookup",
    "MutualNotice",
    "Termination",
    "VersionStatus",
    "apply_contract_statement",
    "contract_id_of",
    "obligated_parties",
    "parse_propose",
    "replay_contracts",
]

CONTRACT_KINDS = frozenset({Kind.CONTRACT_PROPOSE, Kind.CONTRACT_ACCEPT, Kind.CONTRACT_TERMINATE})

#: Finds an earlier record by seq (evidence cited by a termination), or None.
EntryLookup = Callable[[int], Entry | None]


class VersionStatus(StrEnum):
    PROPOSED = "proposed"  # waiting for acceptances
    BINDING = "binding"  # every obligated party accepted; the current terms
    SUPERSEDED = "superseded"  # was binding; a later version became binding
    LAPSED = "lapsed"  # never binding; replaced by a newer proposal


class ContractStatus(StrEnum):
    PROPOSED = "proposed"  # no version has been binding yet
    ACTIVE = "active"  # a version is binding
    TERMINATED = "terminated"


def obligated_parties(terms: ContractTerms) -> tuple[str, ...]:
    """Parties that take on an obligation (buyer or supplier role), in listed order."""
    return tuple(party.id for party in terms.parties if {"buyer", "supplier"} & set(party.roles))


@lru_cache(maxsize=256)
def _terms_from_bytes(data: bytes) -> tuple[ContractTerms, str]:
    terms = parse_terms(parse_json(data))
    return terms, terms_hash(terms)


def _parse_terms_json(document: JSONValue) -> tuple[ContractTerms, str]:
    return _terms_from_bytes(canonical_bytes(document))


@dataclass(frozen=True, slots=True)
class ContractVersion:
    version: int
    terms: ContractTerms
    terms_hash: str
    proposed_by: str
    proposed_seq: int
    obligated: tuple[str, ...]
    accepted: tuple[tuple[str, int], ...]  # (party, accept seq), in acceptance order
    status: VersionStatus
    binding_seq: int | None = None
    ended_seq: int | None = None

    @property
    def ever_binding(self) -> bool:
        return self.binding_seq is not None

    def accepted_by(self, party: str) -> int | None:
        for who, seq in self.accepted:
            if who == party:
                return seq
        return None

    def covers(self, day: date) -> bool:
        terms = self.terms
        return terms.valid_from <= day and (terms.valid_until is None or day <= terms.valid_until)

    def to_json(self) -> JSONObject:
        return {
            "version": self.version,
            "terms_hash": self.terms_hash,
            "terms": self.terms.model_dump(mode="json"),
            "proposed_by": self.proposed_by,
            "proposed_seq": self.proposed_seq,
            "obligated": list(self.obligated),
            "accepted": [{"party": who, "seq": seq} for who, seq in self.accepted],
            "status": self.status.value,
            "binding_seq": self.binding_seq,
            "ended_seq": self.ended_seq,
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> ContractVersion:
        terms, digest = _parse_terms_json(data["terms"])
        accepted = data["accepted"]
        obligated = data["obligated"]
        assert isinstance(accepted, list)
        assert isinstance(obligated, list)
        binding, ended = data["binding_seq"], data["ended_seq"]
        return cls(
            version=_int(data["version"]),
            terms=terms,
            terms_hash=digest,
            proposed_by=str(data["proposed_by"]),
            proposed_seq=_int(data["proposed_seq"]),
            obligated=tuple(str(party) for party in obligated),
            accepted=tuple(
                (str(item["party"]), _int(item["seq"]))
                for item in accepted
                if isinstance(item, dict)
            ),
            status=VersionStatus(str(data["status"])),
            binding_seq=None if binding is None else _int(binding),
            ended_seq=None if ended is None else _int(ended),
        )


def _int(value: JSONValue) -> int:
    assert isinstance(value, int)
    return value


@dataclass(frozen=True, slots=True)
class Termination:
    ground: str
    effective_on: date
    seq: int
    by: tuple[str, ...]
    reason: str

    def to_json(self) -> JSONObject:
        return {
            "ground": self.ground,
            "effective_on": self.effective_on.isoformat(),
            "seq": self.seq,
            "by": list(self.by),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class MutualNotice:
    party: str
    seq: int
    effective_on: date
    reason: str

    def to_json(self) -> JSONObject:
        return {
            "party": self.party,
            "seq": self.seq,
            "effective_on": self.effective_on.isoformat(),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Contract:
    """A contract as of some record prefix: every version, the termination if any, and the
    mutual-termination notices filed so far."""

    contract_id: str
    versions: tuple[ContractVersion, ...]
    termination: Termination | None = None
    mutual: tuple[MutualNotice, ...] = ()

    @property
    def latest(self) -> ContractVersion:
        return self.versions[-1]

    @property
    def binding(self) -> ContractVersion | None:
        """The version currently binding, if any."""
        for version in reversed(self.versions):
            if version.status is VersionStatus.BINDING:
                return version
        return None

    @property
    def status(self) -> ContractStatus:
        if self.termination is not None:
            return ContractStatus.TERMINATED
        return ContractStatus.ACTIVE if self.binding is not None else ContractStatus.PROPOSED

    def version(self, number: int) -> ContractVersion | None:
        for version in self.versions:
            if version.version == number:
                return version
        return None

    def parties(self) -> dict[str, tuple[str, ...]]:
        """Every party of any version → its roles in the latest version naming it."""
        roles: dict[str, tuple[str, ...]] = {}
        for version in self.versions:
            for party in version.terms.parties:
                roles[party.id] = tuple(party.roles)
        return roles

    def in_force_on(self, day: date) -> ContractVersion | None:
        """The version that prices facts dated ``day`` (see the module docstring)."""
        if self.termination is not None and day >= self.termination.effective_on:
            return None
        best = None
        for version in self.versions:
            if version.ever_binding and version.covers(day):
                best = version
        return best

    def in_force_during(self, period: str) -> ContractVersion | None:
        """The highest version in force on some day of ``period`` (``YYYY-MM``)."""
        first, last = period_bounds(period)
        end = last
        if self.termination is not None:
            if self.termination.effective_on <= first:
                return None
            end = min(last, self.termination.effective_on)
        best = None
        for version in self.versions:
            terms = version.terms
            if not version.ever_binding or terms.valid_from > end:
                continue
            if terms.valid_until is not None and terms.valid_until < first:
                continue
            best = version
        return best

    def to_json(self) -> JSONObject:
        binding = self.binding
        return {
            "contract_id": self.contract_id,
            "status": self.status.value,
            "binding_version": None if binding is None else binding.version,
            "latest_version": self.latest.version,
            "versions": [version.to_json() for version in self.versions],
            "termination": None if self.termination is None else self.termination.to_json(),
            "mutual_termination": [notice.to_json() for notice in self.mutual],
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> Contract:
        versions = data["versions"]
        mutual = data["mutual_termination"]
        termination = data["termination"]
        assert isinstance(versions, list)
        assert isinstance(mutual, list)
        ended = None
        if isinstance(termination, dict):
            by = termination["by"]
            assert isinstance(by, list)
            ended = Termination(
                str(termination["ground"]),
                date.fromisoformat(str(termination["effective_on"])),
                _int(termination["seq"]),
                tuple(str(party) for party in by),
                str(termination["reason"]),
            )
        return cls(
            contract_id=str(data["contract_id"]),
            versions=tuple(ContractVersion.from_json(v) for v in versions if isinstance(v, dict)),
            termination=ended,
            mutual=tuple(
                MutualNotice(
                    str(n["party"]),
                    _int(n["seq"]),
                    date.fromisoformat(str(n["effective_on"])),
                    str(n["reason"]),
                )
                for n in mutual
                if isinstance(n, dict)
            ),
        )


# -- statements ----------------------------------------------------------------------------


def parse_propose(body: JSONObject) -> tuple[ContractProposeBody, ContractTerms]:
    """Validate a ``contract.propose`` body and its terms.

    Raises ``MalformedContractStatementError``; a terms problem names the terms field, e.g.
    ``statement.body.terms.payment.net_days``.
    """
    parsed = parse_body(ContractProposeBody, Kind.CONTRACT_PROPOSE, body)
    try:
        terms = parse_terms(parsed.terms)
    except InvalidTermsError as exc:
        detail = exc.message.removeprefix("contract terms refused: ")
        raise MalformedContractStatementError(
            f"contract.propose body.terms refused: {detail}",
            field=f"statement.body.terms.{exc.field}" if exc.field else "statement.body.terms",
        ) from exc
    if terms.contract_id != parsed.contract_id:
        raise MalformedContractStatementError(
            f"contract.propose body.contract_id is {parsed.contract_id!r} but the terms are for "
            f"{terms.contract_id!r}",
            field="statement.body.terms.contract_id",
        )
    return parsed, terms


def _propose(contract: Contract | None, entry: Entry) -> Contract:
    body, terms = parse_propose(entry.body)
    digest = terms_hash(terms)
    if entry.author not in {party.id for party in terms.parties}:
        raise NotAPartyError(
            f"{entry.author} proposes contract {body.contract_id} but is not one of its parties",
            field="statement.author",
        )
    new = ContractVersion(
        version=body.version,
        terms=terms,
        terms_hash=digest,
        proposed_by=entry.author,
        proposed_seq=entry.seq,
        obligated=obligated_parties(terms),
        accepted=(),
        status=VersionStatus.PROPOSED,
    )
    if contract is None:
        if body.version != 1:
            raise UnknownContractError(
                f"contract {body.contract_id} does not exist; its first proposal must be "
                f"version 1, got {body.version}",
                field="statement.body.version",
            )
        return Contract(body.contract_id, (new,))
    if contract.termination is not None:
        raise ContractStateError(
            f"contract {contract.contract_id} was terminated at seq {contract.termination.seq}; "
            "it cannot be amended",
            field="statement.body.contract_id",
        )
    latest = contract.latest
    if body.version != latest.version + 1:
        raise ContractStateError(
            f"contract {contract.contract_id} is at version {latest.version}; an amendment must "
            f"be version {latest.version + 1}, got {body.version}",
            field="statement.body.version",
        )
    current = contract.binding or latest
    if entry.author not in current.obligated:
        raise NotAPartyError(
            f"{entry.author} may not amend contract {contract.contract_id}: only parties bound "
            f"by version {current.version} may ({', '.join(current.obligated)})",
            field="statement.author",
        )
    if terms.currency != current.terms.currency:
        raise ContractStateError(
            f"an amendment keeps the contract currency {current.terms.currency}, got "
            f"{terms.currency}",
            field="statement.body.terms.currency",
        )
    versions = tuple(
        replace(v, status=VersionStatus.LAPSED, ended_seq=entry.seq)
        if v.status is VersionStatus.PROPOSED
        else v
        for v in contract.versions
    )
    return replace(contract, versions=(*versions, new))


def _require(contract: Contract | None, contract_id: str) -> Contract:
    if contract is None:
        raise UnknownContractError(
            f"no contract {contract_id} has been proposed on this ledger",
            field="statement.body.contract_id",
        )
    return contract


def _accept(contract: Contract | None, entry: Entry) -> Contract:
    body = parse_body(ContractAcceptBody, Kind.CONTRACT_ACCEPT, entry.body)
    contract = _require(contract, body.contract_id)
    if contract.termination is not None:
        raise ContractStateError(
            f"contract {contract.contract_id} was terminated at seq {contract.termination.seq}",
            field="statement.body.contract_id",
        )
    version = contract.version(body.version)
    if version is None:
        raise UnknownContractError(
            f"contract {contract.contract_id} has no version {body.version} (latest is "
            f"{contract.latest.version})",
            field="statement.body.version",
        )
    if version.status is not VersionStatus.PROPOSED:
        raise ContractStateError(
            f"version {version.version} of contract {contract.contract_id} is "
            f"{version.status.value}; only an open proposal can be accepted (latest is version "
            f"{contract.latest.version})",
            field="statement.body.version",
        )
    if body.terms_hash != version.terms_hash:
        raise TermsMismatchError(
            f"the accepted terms hash does not match version {version.version} of contract "
            f"{contract.contract_id}: expected {version.terms_hash}, got {body.terms_hash}",
            field="statement.body.terms_hash",
        )
    if entry.author not in version.obligated:
        named = entry.author in {party.id for party in version.terms.parties}
        raise NotAPartyError(
            f"{entry.author} "
            + ("takes on no obligation under" if named else "is not a party to")
            + f" version {version.version} of contract {contract.contract_id}; the parties "
            f"that accept are {', '.join(version.obligated)}",
            field="statement.author",
        )
    earlier = version.accepted_by(entry.author)
    if earlier is not None:
        raise ContractStateError(
            f"{entry.author} already accepted version {version.version} of contract "
            f"{contract.contract_id} at seq {earlier}",
            field="statement.author",
        )
    accepted = (*version.accepted, (entry.author, entry.seq))
    done = {who for who, _ in accepted} >= set(version.obligated)
    updated = replace(
        version,
        accepted=accepted,
        status=VersionStatus.BINDING if done else VersionStatus.PROPOSED,
        binding_seq=entry.seq if done else None,
    )
    versions = []
    for v in contract.versions:
        if v.version == version.version:
            versions.append(updated)
        elif done and v.status is VersionStatus.BINDING:
            versions.append(replace(v, status=VersionStatus.SUPERSEDED, ended_seq=entry.seq))
        else:
            versions.append(v)
    return replace(contract, versions=tuple(versions))


def _late_delivery_right(
    contract: Contract, body: ContractTerminateBody, entry: Entry, lookup: EntryLookup
) -> None:
    evidence = body.delivery
    assert evidence is not None
    shipping, receiving = lookup(evidence.shipping), lookup(evidence.receiving)
    events = [read_event(item) for item in (shipping, receiving) if item is not None]
    matched = [
        delivery
        for delivery in match_deliveries(e for e in events if e is not None)
        if delivery.lot == evidence.lot and delivery.seqs == (evidence.shipping, evidence.receiving)
    ]
    if not matched:
        raise TerminationRefusedError(
            f"records {evidence.shipping} and {evidence.receiving} are not the shipping and "
            f"receiving of lot {evidence.lot}",
            field="statement.body.delivery",
        )
    delivery = matched[0]
    if delivery.buyer != entry.author:
        raise TerminationRefusedError(
            f"only the buyer that received the delivery ({delivery.buyer}) may terminate for it",
            field="statement.author",
        )
    version = contract.in_force_on(delivery.delivered_on)
    if version is None:
        raise TerminationRefusedError(
            f"contract {contract.contract_id} was not in force on {delivery.delivered_on}, "
            "the delivery date",
            field="statement.body.delivery",
        )
    if delivery.supplier not in version.terms.parties_with("supplier"):
        raise TerminationRefusedError(
            f"{delivery.supplier} is not a supplier under version {version.version}",
            field="statement.body.delivery",
        )
    late = version.terms.late_delivery
    fact = delivery_fact(delivery, delivery.uom or "EA")
    if late is None or late.termination_after_days is None:
        raise TerminationRefusedError(
            f"version {version.version} of contract {contract.contract_id} gives no right to "
            "terminate for late delivery",
            field="statement.body.ground",
        )
    if not termination_right(version.terms, fact):
        excuse = " (excused by force majeure)" if fact.force_majeure else ""
        raise TerminationRefusedError(
            f"the delivery was {days_late(fact)} days late{excuse}; the terms allow termination "
            f"only after more than {late.termination_after_days} days",
            field="statement.body.delivery",
        )
    if body.effective_on < delivery.delivered_on:
        raise TerminationRefusedError(
            f"effective_on {body.effective_on} is before the delivery on {delivery.delivered_on}",
            field="statement.body.effective_on",
        )


def _terminate(contract: Contract | None, entry: Entry, lookup: EntryLookup) -> Contract:
    body = parse_body(ContractTerminateBody, Kind.CONTRACT_TERMINATE, entry.body)
    contract = _require(contract, body.contract_id)
    if contract.termination is not None:
        raise ContractStateError(
            f"contract {contract.contract_id} was already terminated at seq "
            f"{contract.termination.seq}",
            field="statement.body.contract_id",
        )
    binding = contract.binding
    if binding is None:
        raise ContractStateError(
            f"contract {contract.contract_id} has no binding version to terminate",
            field="statement.body.contract_id",
        )
    if entry.author not in binding.obligated:
        raise NotAPartyError(
            f"{entry.author} is not bound by contract {contract.contract_id} and may not "
            "terminate it",
            field="statement.author",
        )
    issued_on = date.fromisoformat(entry.issued_at[:10])
    if body.effective_on < issued_on:
        raise TerminationRefusedError(
            f"a termination cannot take effect before it is made: effective_on "
            f"{body.effective_on} is before {issued_on}",
            field="statement.body.effective_on",
        )
    if body.ground == "late_delivery":
        _late_delivery_right(contract, body, entry, lookup)
        ended = Termination(body.ground, body.effective_on, entry.seq, (entry.author,), body.reason)
        return replace(contract, termination=ended)
    for notice in contract.mutual:
        if notice.party == entry.author:
            raise ContractStateError(
                f"{entry.author} already filed a mutual termination at seq {notice.seq}",
                field="statement.author",
            )
        if notice.effective_on != body.effective_on:
            raise ContractStateError(
                f"{notice.party} agreed to end contract {contract.contract_id} on "
                f"{notice.effective_on}; a mutual termination must name the same date, got "
                f"{body.effective_on}",
                field="statement.body.effective_on",
            )
    notice = MutualNotice(entry.author, entry.seq, body.effective_on, body.reason)
    notices = (*contract.mutual, notice)
    if {notice.party for notice in notices} >= set(binding.obligated):
        ended = Termination(
            "mutual",
            body.effective_on,
            entry.seq,
            tuple(notice.party for notice in notices),
            body.reason,
        )
        return replace(contract, mutual=notices, termination=ended)
    return replace(contract, mutual=notices)


def contract_id_of(entry: Entry) -> str | None:
    """The contract a ``contract.*`` record names, if it names one."""
    value = entry.body.get("contract_id")
    return value if isinstance(value, str) else None


def apply_contract_statement(
    contract: Contract | None, entry: Entry, lookup: EntryLookup
) -> Contract:
    """The contract after ``entry`` (a ``contract.*`` record about it).

    ``contract`` is its state before (None if never proposed); ``lookup`` finds evidence
    records. Raises ``MalformedContractStatementError`` or a ``ContractRejectedError``
    subclass, with a message saying what was expected and what was found.
    """
    if entry.kind == Kind.CONTRACT_PROPOSE:
        return _propose(contract, entry)
    if entry.kind == Kind.CONTRACT_ACCEPT:
        return _accept(contract, entry)
    if entry.kind == Kind.CONTRACT_TERMINATE:
        return _terminate(contract, entry, lookup)
    raise ValueError(f"{entry.kind} is not a contract statement")


def replay_contracts(
    entries: list[Entry], lookup: EntryLookup, *, only: str | None = None
) -> dict[str, Contract]:
    """Every contract (or just ``only``) after the ``contract.*`` entries, in seq order;
    refused entries are skipped, as the projection skips them."""
    contracts: dict[str, Contract] = {}
    for entry in sorted(entries, key=lambda e: e.seq):
        if entry.kind not in CONTRACT_KINDS:
            continue
        cid = contract_id_of(entry)
        if cid is None or (only is not None and cid != only):
            continue
        try:
            contracts[cid] = apply_contract_statement(contracts.get(cid), entry, lookup)
        except ContractError:
            continue
    return contracts

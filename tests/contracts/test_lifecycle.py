"""Contract lifecycle on a real ledger: proposal, acceptance, binding, amendment, termination.

The sample contract (``tests/contracts/samples.py``) binds roastery-nord (buyer) and two farms
(suppliers); audit.example reads as auditor. Every refusal leaves the ledger size unchanged.

This module also holds the helpers the other ledger-driven contract tests use.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from contracts.engine import open_contract_ledger
from contracts.errors import (
    ContractStateError,
    MalformedContractStatementError,
    NotAPartyError,
    TerminationRefusedError,
    TermsMismatchError,
    UnknownContractError,
)
from contracts.lifecycle import Contract, ContractStatus, VersionStatus
from contracts.scenario import (
    accept_body,
    lot_id,
    propose_body,
    receiving_event,
    shipping_event,
    terminate_body,
)
from contracts.terms import ContractTerms, parse_terms, terms_hash
from ledger.canonical import JSONObject
from ledger.errors import LedgerError, UnauthorizedKindError
from ledger.state import Kind
from tests.contracts.samples import GTIN_BERRIES, set_path, terms_document
from tests.factory import Chain, key_for, new_chain

BUYER, AURORA, BRISA, AUDITOR = "roastery-nord", "finca-aurora", "finca-brisa", "audit.example"
PARTIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (BUYER, ("buyer",)),
    (AURORA, ("supplier",)),
    (BRISA, ("supplier",)),
    (AUDITOR, ("auditor",)),
    ("stranger", ("supplier", "buyer")),
    ("inspector", ("auditor", "buyer")),
)
CONTRACT = "roastery-nord-2026"
OBLIGATED = (BUYER, AURORA, BRISA)


def contract_chain(path: Path) -> Chain:
    """A ledger with the sample cast, reopened with the contract validators and projection."""
    chain = new_chain(path, *PARTIES)
    chain.ledger.close()
    chain.ledger = open_contract_ledger(chain.url, operator_key=key_for("operator"))
    return chain


def submit(chain: Chain, author: str, kind: str, body: JSONObject) -> int:
    """Append one statement; returns its seq."""
    return chain.ledger.submit(chain.statement(author, kind, body), now=chain.tick()).receipt.seq


def refused(
    chain: Chain, author: str, kind: str, body: JSONObject, error: type[LedgerError], match: str
) -> LedgerError:
    """Submit and expect ``error`` (message matching ``match``) with nothing written."""
    size = chain.ledger.size
    with pytest.raises(error, match=match) as caught:
        submit(chain, author, kind, body)
    assert chain.ledger.size == size
    return caught.value


def contract_doc(chain: Chain, contract_id: str = CONTRACT) -> Contract:
    with chain.ledger.store.read() as tx:
        found = tx.document("contracts", contract_id)
    assert found is not None
    assert isinstance(found[1], dict)
    return Contract.from_json(found[1])


def bind(chain: Chain, terms: ContractTerms, version: int = 1) -> int:
    """Propose (by the buyer) and accept by every obligated party; the binding seq."""
    submit(chain, BUYER, Kind.CONTRACT_PROPOSE, propose_body(terms, version))
    seq = 0
    for party in OBLIGATED:
        seq = submit(chain, party, Kind.CONTRACT_ACCEPT, accept_body(terms, version))
    return seq


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    c = contract_chain(tmp_path / "ledger.db")
    yield c
    c.ledger.close()


TERMS = parse_terms(terms_document())


def amended(**paths: Any) -> ContractTerms:
    document = terms_document()
    for path, value in paths.items():
        set_path(document, path.replace("__", "."), value)
    return parse_terms(document)


# -- binding -------------------------------------------------------------------------------


def test_binding_only_after_every_obligated_party_accepts(chain: Chain) -> None:
    proposed = submit(chain, BUYER, Kind.CONTRACT_PROPOSE, propose_body(TERMS))
    contract = contract_doc(chain)
    assert contract.status is ContractStatus.PROPOSED
    assert contract.latest.obligated == OBLIGATED  # the auditor takes on no obligation
    assert contract.latest.proposed_seq == proposed

    submit(chain, BUYER, Kind.CONTRACT_ACCEPT, accept_body(TERMS))  # proposing is not accepting
    submit(chain, AURORA, Kind.CONTRACT_ACCEPT, accept_body(TERMS))
    assert contract_doc(chain).status is ContractStatus.PROPOSED
    last = submit(chain, BRISA, Kind.CONTRACT_ACCEPT, accept_body(TERMS))

    contract = contract_doc(chain)
    assert contract.status is ContractStatus.ACTIVE
    binding = contract.binding
    assert binding is not None
    assert binding.binding_seq == last
    assert binding.terms_hash == terms_hash(TERMS)
    assert [party for party, _ in binding.accepted] == [BUYER, AURORA, BRISA]
    assert contract.in_force_on(date(2026, 7, 1)) == binding
    assert contract.in_force_on(date(2027, 1, 1)) is None  # valid until 2026-12-31


def test_party_index_lists_every_party(chain: Chain) -> None:
    bind(chain, TERMS)
    with chain.ledger.store.read() as tx:
        index = tx.documents("contract-parties", f"by-party/{AUDITOR}/")
        mine = tx.documents("contract-parties", f"by-party/{AURORA}/")
    assert [key for key, _, _ in index] == [f"by-party/{AUDITOR}/{CONTRACT}"]
    assert mine[0][2] == {
        "contract_id": CONTRACT,
        "party": AURORA,
        "roles": ["supplier"],
        "status": "active",
        "binding_version": 1,
        "latest_version": 1,
    }


# -- refusals ------------------------------------------------------------------------------


def test_accepting_a_contract_that_was_never_proposed(chain: Chain) -> None:
    refused(
        chain,
        AURORA,
        Kind.CONTRACT_ACCEPT,
        accept_body(TERMS),
        UnknownContractError,
        "no contract roastery-nord-2026 has been proposed",
    )


def test_accepting_other_terms_than_proposed(chain: Chain) -> None:
    submit(chain, BUYER, Kind.CONTRACT_PROPOSE, propose_body(TERMS))
    other = amended(payment__net_days=45)
    error = refused(
        chain,
        AURORA,
        Kind.CONTRACT_ACCEPT,
        accept_body(other),
        TermsMismatchError,
        f"expected {terms_hash(TERMS)}, got {terms_hash(other)}",
    )
    assert error.field == "statement.body.terms_hash"


def test_only_obligated_parties_accept(chain: Chain) -> None:
    """An auditor of the contract signs nothing: the ledger refuses the kind for a participant
    with only the auditor role, and the contract refuses a trader listed only as auditor."""
    document = terms_document()
    document["parties"].append({"id": "inspector", "roles": ["auditor"]})
    terms = parse_terms(document)
    submit(chain, BUYER, Kind.CONTRACT_PROPOSE, propose_body(terms))
    refused(
        chain,
        AUDITOR,
        Kind.CONTRACT_ACCEPT,
        accept_body(terms),
        UnauthorizedKindError,
        "audit.example .roles auditor. may not sign contract.accept",
    )
    refused(
        chain,
        "inspector",
        Kind.CONTRACT_ACCEPT,
        accept_body(terms),
        NotAPartyError,
        "inspector takes on no obligation under version 1",
    )
    refused(
        chain,
        "stranger",
        Kind.CONTRACT_ACCEPT,
        accept_body(terms),
        NotAPartyError,
        "stranger is not a party to version 1",
    )


def test_accepting_twice(chain: Chain) -> None:
    submit(chain, BUYER, Kind.CONTRACT_PROPOSE, propose_body(TERMS))
    seq = submit(chain, AURORA, Kind.CONTRACT_ACCEPT, accept_body(TERMS))
    refused(
        chain,
        AURORA,
        Kind.CONTRACT_ACCEPT,
        accept_body(TERMS),
        ContractStateError,
        f"finca-aurora already accepted version 1 of contract roastery-nord-2026 at seq {seq}",
    )


def test_accepting_a_version_that_does_not_exist(chain: Chain) -> None:
    submit(chain, BUYER, Kind.CONTRACT_PROPOSE, propose_body(TERMS))
    refused(
        chain,
        AURORA,
        Kind.CONTRACT_ACCEPT,
        accept_body(TERMS, version=2),
        UnknownContractError,
        "has no version 2",
    )


def test_proposal_must_start_at_version_one(chain: Chain) -> None:
    refused(
        chain,
        BUYER,
        Kind.CONTRACT_PROPOSE,
        propose_body(TERMS, version=2),
        UnknownContractError,
        "first proposal must be version 1",
    )


def test_only_a_trading_party_proposes(chain: Chain) -> None:
    refused(
        chain,
        "stranger",
        Kind.CONTRACT_PROPOSE,
        propose_body(TERMS),
        NotAPartyError,
        "stranger may propose contract roastery-nord-2026 only as one of its buyers or suppliers",
    )


def test_parties_must_be_registered_with_their_roles(chain: Chain) -> None:
    unknown = terms_document()
    unknown["parties"].append({"id": "finca-nueva", "roles": ["supplier"]})
    refused(
        chain,
        BUYER,
        Kind.CONTRACT_PROPOSE,
        propose_body(parse_terms(unknown)),
        NotAPartyError,
        "party finca-nueva of contract roastery-nord-2026 is not a registered participant",
    )
    wrong_role = terms_document()
    wrong_role["parties"][3]["roles"] = ["supplier"]  # audit.example is registered as auditor
    error = refused(
        chain,
        BUYER,
        Kind.CONTRACT_PROPOSE,
        propose_body(parse_terms(wrong_role)),
        NotAPartyError,
        "audit.example has the role.s. supplier in the terms",
    )
    assert error.field == "statement.body.terms.parties.3.roles"


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        ("unknown_field", "x", "terms.unknown_field", "Extra inputs are not permitted"),
        (
            "products.1.pricing.unit_price",
            "-4.20",
            "terms.products.1.pricing.unit_price",
            "greater than or equal to 0",
        ),
        (
            "payment.net_days",
            90,
            "terms.payment.net_days",
            "exceeds the declared statutory maximum",
        ),
        (
            "products.2.pricing.tiers.tiers.1.from_quantity",
            "900",
            "terms.products.2.pricing.tiers.tiers.1",
            "overlaps tier 0",
        ),
        (
            "revenue_share.shares.0.percent",
            "99",
            "terms.revenue_share.shares",
            "revenue shares add up to 100.5%, above 100%",
        ),
        ("contract_id", "someone-else", "terms.contract_id", "but the terms are for"),
    ],
)
def test_bad_terms_are_refused_naming_the_field(
    chain: Chain, path: str, value: object, field: str, message: str
) -> None:
    body = propose_body(TERMS)
    terms = body["terms"]
    assert isinstance(terms, dict)
    set_path(terms, path, value)
    error = refused(
        chain, BUYER, Kind.CONTRACT_PROPOSE, body, MalformedContractStatementError, message
    )
    assert error.field == f"statement.body.{field}"


def test_malformed_accept_body(chain: Chain) -> None:
    error = refused(
        chain,
        AURORA,
        Kind.CONTRACT_ACCEPT,
        {"contract_id": CONTRACT, "version": 1, "terms_hash": "ABC"},
        MalformedContractStatementError,
        "terms_hash: expected 64 lowercase hex digits",
    )
    assert error.field == "statement.body.terms_hash"


# -- amendments ----------------------------------------------------------------------------


def test_amendment_supersedes_only_once_everyone_accepts(chain: Chain) -> None:
    first = bind(chain, TERMS)
    v2 = amended(version=1, products__1__pricing__unit_price="4.50", valid_from="2026-07-01")
    submit(chain, AURORA, Kind.CONTRACT_PROPOSE, propose_body(v2, version=2))
    submit(chain, AURORA, Kind.CONTRACT_ACCEPT, accept_body(v2, version=2))
    submit(chain, BUYER, Kind.CONTRACT_ACCEPT, accept_body(v2, version=2))
    contract = contract_doc(chain)
    assert contract.binding is not None
    assert contract.binding.version == 1  # brisa has not accepted version 2 yet
    assert contract.latest.status is VersionStatus.PROPOSED

    last = submit(chain, BRISA, Kind.CONTRACT_ACCEPT, accept_body(v2, version=2))
    contract = contract_doc(chain)
    assert contract.binding is not None
    assert contract.binding.version == 2
    v1 = contract.version(1)
    assert v1 is not None
    assert (v1.status, v1.binding_seq, v1.ended_seq) == (VersionStatus.SUPERSEDED, first, last)
    # Facts are priced under the version in force on their date.
    assert contract.in_force_on(date(2026, 6, 30)) == v1
    assert contract.in_force_on(date(2026, 7, 1)) == contract.binding


def test_a_newer_proposal_lapses_an_unaccepted_one(chain: Chain) -> None:
    bind(chain, TERMS)
    v2 = amended(payment__net_days=20)
    v3 = amended(payment__net_days=25)
    submit(chain, BUYER, Kind.CONTRACT_PROPOSE, propose_body(v2, version=2))
    submit(chain, AURORA, Kind.CONTRACT_ACCEPT, accept_body(v2, version=2))
    submit(chain, BRISA, Kind.CONTRACT_PROPOSE, propose_body(v3, version=3))
    refused(
        chain,
        BRISA,
        Kind.CONTRACT_ACCEPT,
        accept_body(v2, version=2),
        ContractStateError,
        "version 2 of contract roastery-nord-2026 is lapsed; only an open proposal",
    )
    contract = contract_doc(chain)
    assert [v.status for v in contract.versions] == [
        VersionStatus.BINDING,
        VersionStatus.LAPSED,
        VersionStatus.PROPOSED,
    ]


def test_amendment_rules(chain: Chain) -> None:
    bind(chain, TERMS)
    v2 = amended(payment__net_days=20)
    refused(
        chain,
        BUYER,
        Kind.CONTRACT_PROPOSE,
        propose_body(v2, version=3),
        ContractStateError,
        "an amendment must be version 2, got 3",
    )
    usd = terms_document()
    usd["currency"] = "USD"
    usd["payment"]["fixed_compensation"] = "40.00"
    refused(
        chain,
        BUYER,
        Kind.CONTRACT_PROPOSE,
        propose_body(parse_terms(usd), version=2),
        ContractStateError,
        "an amendment keeps the contract currency EUR, got USD",
    )
    outsider = terms_document()
    outsider["parties"].append({"id": "stranger", "roles": ["supplier"]})
    refused(
        chain,
        "stranger",
        Kind.CONTRACT_PROPOSE,
        propose_body(parse_terms(outsider), version=2),
        NotAPartyError,
        "stranger may not amend contract roastery-nord-2026",
    )


# -- termination ---------------------------------------------------------------------------

PO = "https://roastery-nord.example/po/77"
LOT = lot_id(GTIN_BERRIES, "B-77")


def late_delivery(chain: Chain, *, days_late: int, force_majeure: bool = False) -> tuple[int, int]:
    """Aurora ships berries due 1 July; the roastery receives them ``days_late`` later."""
    due = date(2026, 7, 1)
    arrived = date.fromordinal(due.toordinal() + days_late)
    ship = submit(
        chain,
        AURORA,
        Kind.TRACE_EVENT,
        {
            "event": shipping_event(
                LOT, "100", on=arrived, po=PO, due=due, force_majeure=force_majeure
            )
        },
    )
    receive = submit(
        chain, BUYER, Kind.TRACE_EVENT, {"event": receiving_event(LOT, "100", on=arrived, po=PO)}
    )
    return ship, receive


EFFECTIVE = date(2026, 12, 1)  # after the chain's clock (2026-11-22)


def test_buyer_terminates_for_a_very_late_delivery(chain: Chain) -> None:
    """40 days late > termination_after_days 30: the buyer may terminate."""
    bind(chain, TERMS)
    ship, receive = late_delivery(chain, days_late=40)
    body = terminate_body(
        CONTRACT, ground="late_delivery", effective_on=EFFECTIVE, delivery=(ship, receive, LOT)
    )
    refused(
        chain,
        AURORA,
        Kind.CONTRACT_TERMINATE,
        body,
        TerminationRefusedError,
        "only the buyer that received the delivery .roastery-nord. may terminate",
    )
    seq = submit(chain, BUYER, Kind.CONTRACT_TERMINATE, body)
    contract = contract_doc(chain)
    assert contract.status is ContractStatus.TERMINATED
    assert contract.termination is not None
    assert (contract.termination.seq, contract.termination.effective_on) == (seq, EFFECTIVE)
    assert contract.in_force_on(date(2026, 11, 30)) is not None
    assert contract.in_force_on(EFFECTIVE) is None
    refused(
        chain,
        BRISA,
        Kind.CONTRACT_ACCEPT,
        accept_body(TERMS),
        ContractStateError,
        f"was terminated at seq {seq}",
    )


@pytest.mark.parametrize(
    ("days_late", "force_majeure", "message"),
    [
        (
            30,
            False,
            "the delivery was 30 days late; the terms allow termination only after more "
            "than 30 days",
        ),
        (45, True, "45 days late .excused by force majeure."),
    ],
)
def test_no_termination_right(
    chain: Chain, days_late: int, force_majeure: bool, message: str
) -> None:
    bind(chain, TERMS)
    ship, receive = late_delivery(chain, days_late=days_late, force_majeure=force_majeure)
    body = terminate_body(
        CONTRACT, ground="late_delivery", effective_on=EFFECTIVE, delivery=(ship, receive, LOT)
    )
    refused(chain, BUYER, Kind.CONTRACT_TERMINATE, body, TerminationRefusedError, message)


def test_termination_evidence_must_be_a_delivery(chain: Chain) -> None:
    bind(chain, TERMS)
    ship, receive = late_delivery(chain, days_late=40)
    body = terminate_body(
        CONTRACT, ground="late_delivery", effective_on=EFFECTIVE, delivery=(receive, ship, LOT)
    )
    refused(
        chain,
        BUYER,
        Kind.CONTRACT_TERMINATE,
        body,
        TerminationRefusedError,
        f"records {receive} and {ship} are not the shipping and receiving of lot",
    )


def test_termination_is_not_retroactive(chain: Chain) -> None:
    bind(chain, TERMS)
    body = terminate_body(CONTRACT, ground="mutual", effective_on=date(2026, 11, 1))
    refused(
        chain,
        BUYER,
        Kind.CONTRACT_TERMINATE,
        body,
        TerminationRefusedError,
        "cannot take effect before it is made: effective_on 2026-11-01 is before 2026-11-22",
    )


def test_mutual_termination_needs_every_obligated_party(chain: Chain) -> None:
    bind(chain, TERMS)
    body = terminate_body(CONTRACT, ground="mutual", effective_on=EFFECTIVE)
    submit(chain, BUYER, Kind.CONTRACT_TERMINATE, body)
    submit(chain, AURORA, Kind.CONTRACT_TERMINATE, body)
    refused(
        chain,
        BRISA,
        Kind.CONTRACT_TERMINATE,
        terminate_body(CONTRACT, ground="mutual", effective_on=date(2026, 12, 24)),
        ContractStateError,
        "must name the same date",
    )
    refused(
        chain,
        "stranger",
        Kind.CONTRACT_TERMINATE,
        body,
        NotAPartyError,
        "stranger is not bound by contract",
    )
    assert contract_doc(chain).status is ContractStatus.ACTIVE
    submit(chain, BRISA, Kind.CONTRACT_TERMINATE, body)
    contract = contract_doc(chain)
    assert contract.status is ContractStatus.TERMINATED
    assert contract.termination is not None
    assert contract.termination.by == OBLIGATED


def test_a_mere_proposal_cannot_be_terminated(chain: Chain) -> None:
    submit(chain, BUYER, Kind.CONTRACT_PROPOSE, propose_body(TERMS))
    refused(
        chain,
        BUYER,
        Kind.CONTRACT_TERMINATE,
        terminate_body(CONTRACT, ground="mutual", effective_on=EFFECTIVE),
        ContractStateError,
        "has no binding version to terminate",
    )

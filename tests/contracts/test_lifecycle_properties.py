"""Property: no party is bound without its acceptance.

Random contracts (a buyer, one to three suppliers, maybe an auditor), random subsets of the
participants trying to accept in random order, some with the wrong terms hash: the contract is
binding iff every obligated party accepted the exact hash, and a binding version records one
acceptance per obligated party. Once on a real ledger (every refusal writes nothing), once on
the pure state machine with longer histories (amendments included).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.entries import Entry
from contracts.errors import ContractError
from contracts.lifecycle import Contract, VersionStatus, apply_contract_statement
from contracts.scenario import accept_body, propose_body
from contracts.terms import ContractTerms, parse_terms, terms_hash
from ledger.errors import LedgerError
from ledger.state import Kind
from tests.contracts.samples import terms_document
from tests.contracts.test_lifecycle import AURORA, BRISA, BUYER, contract_chain, contract_doc
from tests.factory import Chain

SUPPLIERS = (AURORA, BRISA, "stranger")
_ids = count(1)


@pytest.fixture(scope="module")
def shared_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    chain = contract_chain(Path(tmp_path_factory.mktemp("props")) / "ledger.db")
    yield chain
    chain.ledger.close()


def make_terms(
    contract_id: str, suppliers: list[str], auditor: bool, net_days: int
) -> ContractTerms:
    document: dict[str, Any] = terms_document()
    document["contract_id"] = contract_id
    document["parties"] = [{"id": BUYER, "roles": ["buyer"]}] + [
        {"id": s, "roles": ["supplier"]} for s in suppliers
    ]
    if auditor:
        document["parties"].append({"id": "inspector", "roles": ["auditor"]})
    del document["revenue_share"]
    document["payment"]["net_days"] = net_days
    return parse_terms(document)


attempts = st.lists(
    st.tuples(st.sampled_from([BUYER, *SUPPLIERS, "inspector"]), st.booleans()), max_size=8
)


@settings(max_examples=25, deadline=None)
@given(
    suppliers=st.lists(st.sampled_from(SUPPLIERS), min_size=1, max_size=3, unique=True),
    auditor=st.booleans(),
    tries=attempts,
)
def test_binding_iff_every_obligated_party_accepted_on_a_ledger(
    shared_chain: Chain, suppliers: list[str], auditor: bool, tries: list[tuple[str, bool]]
) -> None:
    chain = shared_chain
    terms = make_terms(f"prop-{next(_ids)}", suppliers, auditor, 30)
    wrong = make_terms(terms.contract_id, suppliers, auditor, 31)
    obligated = {BUYER, *suppliers}
    chain.ledger.submit(
        chain.statement(BUYER, Kind.CONTRACT_PROPOSE, propose_body(terms)), now=chain.tick()
    )
    accepted: set[str] = set()
    for party, right_hash in tries:
        size = chain.ledger.size
        body = accept_body(terms if right_hash else wrong)
        should = right_hash and party in obligated and party not in accepted
        try:
            chain.ledger.submit(
                chain.statement(party, Kind.CONTRACT_ACCEPT, body), now=chain.tick()
            )
        except LedgerError:
            assert not should
            assert chain.ledger.size == size
            continue
        assert should
        accepted.add(party)
    contract = contract_doc(chain, terms.contract_id)
    version = contract.latest
    assert (version.status is VersionStatus.BINDING) == (accepted == obligated)
    assert {party for party, _ in version.accepted} == accepted
    if version.status is VersionStatus.BINDING:
        assert sorted(party for party, _ in version.accepted) == sorted(obligated)


# -- the pure state machine, longer histories ----------------------------------------------

statement_steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("accept"),
            st.sampled_from([BUYER, *SUPPLIERS]),
            st.integers(1, 3),
            st.booleans(),
        ),
        st.tuples(
            st.just("amend"),
            st.sampled_from([BUYER, *SUPPLIERS]),
            st.integers(20, 59),
            st.booleans(),
        ),
    ),
    max_size=20,
)


@settings(max_examples=200, deadline=None)
@given(
    suppliers=st.lists(st.sampled_from(SUPPLIERS), min_size=1, max_size=3, unique=True),
    steps=statement_steps,
)
def test_no_version_binds_anyone_who_did_not_accept_it(
    suppliers: list[str], steps: list[tuple[str, str, int, bool]]
) -> None:
    terms_by_version = {1: make_terms("pure", suppliers, False, 30)}
    seq = count(10)
    entries: dict[int, Entry] = {}
    accepts: list[tuple[int, str, int, str]] = []  # seq, party, version, hash

    def run(contract: Contract | None, kind: str, author: str, body: Any) -> Contract | None:
        entry = Entry(next(seq), kind, author, "", "2026-11-22T10:00:00Z", body)
        entries[entry.seq] = entry
        try:
            after = apply_contract_statement(contract, entry, entries.get)
        except ContractError:
            return contract
        if kind == Kind.CONTRACT_ACCEPT:
            accepts.append((entry.seq, author, body["version"], body["terms_hash"]))
        return after

    contract = run(None, Kind.CONTRACT_PROPOSE, BUYER, propose_body(terms_by_version[1]))
    for action, party, number, flag in steps:
        assert contract is not None
        if action == "amend":
            next_version = contract.latest.version + 1
            terms_by_version[next_version] = make_terms("pure", suppliers, False, number)
            contract = run(
                contract,
                Kind.CONTRACT_PROPOSE,
                party,
                propose_body(terms_by_version[next_version], next_version),
            )
        else:
            terms = terms_by_version.get(number, terms_by_version[1])
            body = accept_body(terms, number)
            if not flag:
                body["terms_hash"] = "0" * 64
            contract = run(contract, Kind.CONTRACT_ACCEPT, party, body)
    assert contract is not None
    for version in contract.versions:
        if not version.ever_binding:
            continue
        assert version.binding_seq is not None
        signed = {
            party
            for accept_seq, party, number, digest in accepts
            if number == version.version
            and digest == terms_hash(version.terms)
            and accept_seq <= version.binding_seq
        }
        assert signed == set(version.obligated) == {BUYER, *suppliers}

"""The contract projection: documents kept in the append transaction, rebuilt from records."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from contracts.engine import open_contract_ledger, settle_ledger
from contracts.errors import TermsMismatchError
from contracts.lifecycle import ContractStatus
from contracts.projection import COLLECTIONS, ContractProjection
from contracts.provenance import ProvenanceGraph
from contracts.scenario import (
    accept_body,
    lot_id,
    payment_confirm_body,
    payment_sent_body,
    propose_body,
    receiving_event,
    sale_body,
    shipping_event,
    terminate_body,
    waive_body,
)
from ledger.canonical import JSONValue
from ledger.log import Ledger
from ledger.state import Kind
from tests.contracts.samples import GTIN_BERRIES
from tests.contracts.test_lifecycle import (
    AURORA,
    BRISA,
    BUYER,
    CONTRACT,
    OBLIGATED,
    TERMS,
    amended,
    chain,
    contract_doc,
    submit,
)
from tests.contracts.test_settlement_ledger import settled_july
from tests.factory import Chain, key_for, new_chain

__all__ = ["chain"]


def documents(ledger: Ledger) -> dict[str, list[tuple[str, int, JSONValue]]]:
    with ledger.store.read() as tx:
        return {name: tx.documents(name, limit=100_000) for name in COLLECTIONS}


def rich_history(chain: Chain) -> None:
    """Statements of every kind: a settled month, payments, a dispute, a waiver, sales, an
    amendment, a second contract terminated by mutual agreement."""
    settled_july(chain)
    to_aurora = f"{CONTRACT}/2026-07/{BUYER}/{AURORA}"
    to_brisa = f"{CONTRACT}/2026-07/{BUYER}/{BRISA}"
    paid = submit(
        chain,
        BUYER,
        Kind.PAYMENT_SENT,
        payment_sent_body([(to_aurora, "411.60")], sent_on=date(2026, 8, 8)),
    )
    submit(
        chain,
        AURORA,
        Kind.PAYMENT_CONFIRM,
        payment_confirm_body(paid, received_on=date(2026, 8, 9)),
    )
    disputed = submit(
        chain,
        BUYER,
        Kind.PAYMENT_SENT,
        payment_sent_body([(to_brisa, "100.00")], sent_on=date(2026, 8, 8)),
    )
    submit(chain, BRISA, Kind.PAYMENT_CONFIRM, payment_confirm_body(disputed, disputed="no"))
    submit(chain, BRISA, Kind.PAYMENT_CONFIRM, waive_body(to_brisa, "goodwill"))
    lot = lot_id(GTIN_BERRIES, "S-1")
    submit(chain, BUYER, Kind.SALE_REPORT, sale_body(lot, "2026-07", "3", "30.00"))
    v2 = amended(payment__net_days=20)
    submit(chain, AURORA, Kind.CONTRACT_PROPOSE, propose_body(v2, version=2))
    for party in OBLIGATED:
        submit(chain, party, Kind.CONTRACT_ACCEPT, accept_body(v2, version=2))
    side = amended(contract_id="side-deal")
    submit(chain, BRISA, Kind.CONTRACT_PROPOSE, propose_body(side))
    for party in OBLIGATED:
        submit(chain, party, Kind.CONTRACT_ACCEPT, accept_body(side))
    for party in OBLIGATED:
        submit(
            chain,
            party,
            Kind.CONTRACT_TERMINATE,
            terminate_body("side-deal", ground="mutual", effective_on=date(2026, 12, 31)),
        )


def test_rebuild_reproduces_every_document(chain: Chain) -> None:
    rich_history(chain)
    before = documents(chain.ledger)
    assert all(before[name] for name in COLLECTIONS)
    dump = chain.ledger.projection_dump()
    replayed = chain.ledger.rebuild_projections()
    assert replayed == chain.ledger.size
    assert documents(chain.ledger) == before
    assert chain.ledger.projection_dump() == dump


def test_one_batch_proposes_accepts_and_binds(chain: Chain) -> None:
    """Each statement of a batch is checked against the ones staged before it."""
    subs = [chain.statement(BUYER, Kind.CONTRACT_PROPOSE, propose_body(TERMS))] + [
        chain.statement(party, Kind.CONTRACT_ACCEPT, accept_body(TERMS)) for party in OBLIGATED
    ]
    results = chain.ledger.append(subs, now=chain.tick())
    contract = contract_doc(chain)
    assert contract.status is ContractStatus.ACTIVE
    assert contract.binding is not None
    assert contract.binding.binding_seq == results[-1].receipt.seq


def test_a_refused_statement_fails_its_whole_atomic_batch(chain: Chain) -> None:
    size = chain.ledger.size
    subs = [
        chain.statement(BUYER, Kind.CONTRACT_PROPOSE, propose_body(TERMS)),
        chain.statement(AURORA, Kind.CONTRACT_ACCEPT, accept_body(amended(payment__net_days=19))),
    ]
    with pytest.raises(TermsMismatchError) as caught:
        chain.ledger.append(subs, now=chain.tick())
    assert caught.value.index == 1
    assert chain.ledger.size == size
    with chain.ledger.store.read() as tx:
        assert tx.document("contracts", CONTRACT) is None


def test_termination_citing_a_delivery_in_the_same_batch(chain: Chain) -> None:
    submit(chain, BUYER, Kind.CONTRACT_PROPOSE, propose_body(TERMS))
    for party in OBLIGATED:
        submit(chain, party, Kind.CONTRACT_ACCEPT, accept_body(TERMS))
    lot, po = lot_id(GTIN_BERRIES, "T-1"), "https://roastery-nord.example/po/t1"
    size = chain.ledger.size
    subs = [
        chain.statement(
            AURORA,
            Kind.TRACE_EVENT,
            {"event": shipping_event(lot, "5", on=date(2026, 8, 20), po=po, due=date(2026, 7, 1))},
        ),
        chain.statement(
            BUYER,
            Kind.TRACE_EVENT,
            {"event": receiving_event(lot, "5", on=date(2026, 8, 20), po=po)},
        ),
        chain.statement(
            BUYER,
            Kind.CONTRACT_TERMINATE,
            terminate_body(
                CONTRACT,
                ground="late_delivery",
                effective_on=date(2026, 12, 1),
                delivery=(size, size + 1, lot),
            ),
        ),
    ]
    chain.ledger.append(subs, now=chain.tick())
    assert contract_doc(chain).status is ContractStatus.TERMINATED


def test_records_written_without_the_projection_are_judged_on_rebuild(tmp_path: Path) -> None:
    """A ledger that ran without the contract rules may hold statements they refuse (an
    acceptance of unproposed terms, a payment of an unknown obligation). Rebuilding with the
    projection skips exactly those, as settlement does."""
    chain = new_chain(
        tmp_path / "plain.db", (BUYER, ("buyer",)), (AURORA, ("supplier",)), (BRISA, ("supplier",))
    )
    submit(chain, AURORA, Kind.CONTRACT_ACCEPT, accept_body(TERMS))  # nothing proposed yet
    submit(chain, BUYER, Kind.CONTRACT_PROPOSE, propose_body(TERMS))
    for party in OBLIGATED:
        submit(chain, party, Kind.CONTRACT_ACCEPT, accept_body(TERMS))
    submit(
        chain,
        BUYER,
        Kind.PAYMENT_SENT,
        payment_sent_body(
            [(f"{CONTRACT}/2026-01/{BUYER}/{AURORA}", "1.00")], sent_on=date(2026, 2, 1)
        ),
    )
    submit(chain, BUYER, Kind.SALE_REPORT, {"lot": "not a lot"})
    chain.ledger.close()
    ledger = open_contract_ledger(chain.url, operator_key=key_for("operator"))
    try:
        ledger.rebuild_projections()
        chain.ledger = ledger
        contract = contract_doc(chain)
        binding = contract.binding
        assert binding is not None
        assert [party for party, _ in binding.accepted] == list(OBLIGATED)
        docs = documents(ledger)
        assert docs["payments"] == []
        assert docs["obligations"] == []
        assert docs["sales"] == []
        statement = settle_ledger(ledger, CONTRACT, "2026-07", ProvenanceGraph())
        assert statement.terms[0].binding_seq == binding.binding_seq
    finally:
        ledger.close()


def test_projection_owns_no_tables() -> None:
    assert ContractProjection.tables == ()

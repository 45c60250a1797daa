"""The contract projection: contracts, parties, obligations, sales and payments as documents.

``ContractProjection`` implements ``ledger.log.Projection`` with the generic projection
documents only (``tables = ()``: the shared ``projection_documents`` table is emptied by
``Ledger.rebuild_projections``), so ``contracts/`` never touches SQL. Inside each append it
``check``s a statement against the history (``contracts.lifecycle``,
``contracts.obligations``), raising a ``ContractRejectedError`` so that nothing is written,
then ``stage``s the accepted record and ``flush``es the documents it changed. A rebuild replays
``stage`` over every record and produces the same documents byte for byte.

=====================  ===========================  =========================================
collection             key                          document
=====================  ===========================  =========================================
``contracts``          ``<contract>``               ``Contract.to_json()``: status, versions
                                                    (terms, hash, acceptances, binding seq),
                                                    termination
``contract-parties``   ``by-party/<pid>/<contract>``  the party's roles, contract status
``obligations``        ``<obligation id>``          ``Obligation.to_json()``: amount, dates,
                                                    payments, ``settled`` (open, paid,
                                                    disputed, waived, cancelled)
``obligation-parties`` ``by-party/<pid>/<oblig.>``  ``role`` payer or payee
``settlements``        ``<contract>/<YYYY-MM>``     the statement in force: seq, as_of_seq,
                                                    obligations, charges billed, history
``payments``           ``<seq, 12 digits>``         ``SentPayment.to_json()``
``sales``              ``by-lot/<lot>/<YYYY-MM>/<seq>``,  the sale report: seller, quantity,
                       ``by-period/<YYYY-MM>/<seq>``  revenue
``fairness``           ``layout``                   ``{"summaries": 1, "complete": true}``,
                                                    written with the first contract record:
                                                    the summaries below cover every record
``fairness``           ``statement/<contract>/       ``contracts.audit.StatementSummary`` of the
                       <YYYY-MM>``                  statement in force (money flows per party,
                                                    producer goods and shares, realised floor
                                                    findings), made when it is recorded
``fairness``           ``sales/<YYYY-MM>/<seller>/   the seller's sales of the period recorded
                       <seq // 4096>``              in that seq range: revenue and seqs per
                                                    currency
=====================  ===========================  =========================================

The fairness report (``contracts.reports.ledger_fairness_report``) reads the ``fairness``
summaries and never decodes a statement, except one whose summary is missing or was made under
a contract version no longer in force for its period (after an amendment). A ledger whose
projection predates the summaries (no ``layout`` document, or one written when documents of
the earlier projection were already there: ``complete`` false) is reported from the statements
and sale documents until ``fairledger rebuild``.

Obligation states that depend on the date (pending, due, late) are not stored: the projection
has no clock. ``contracts.obligations.obligation_state(Obligation.from_json(doc), on)`` gives
them for any day.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.audit import summarise_statement
from contracts.bodies import SaleReportBody, parse_body
from contracts.entries import Entry
from contracts.errors import ContractError
from contracts.lifecycle import (
    CONTRACT_KINDS,
    Contract,
    apply_contract_statement,
    contract_id_of,
)
from contracts.obligations import (
    OBLIGATION_KINDS,
    Changes,
    Obligation,
    SentPayment,
    SettlementRef,
    judge_obligation_statement,
)
from ledger.canonical import JSONObject, JSONValue
from ledger.log import ProjectionBatch
from ledger.state import Kind, LedgerState
from ledger.statement import Record, Statement

if TYPE_CHECKING:  # the storage layer is SQLAlchemy's; contracts/ only names its type
    from ledger.storage.store import WriteTx

__all__ = ["COLLECTIONS", "ContractProjection"]

CONTRACTS = "contracts"
CONTRACT_PARTIES = "contract-parties"
OBLIGATIONS = "obligations"
OBLIGATION_PARTIES = "obligation-parties"
SETTLEMENTS = "settlements"
PAYMENTS = "payments"
SALES = "sales"
FAIRNESS = "fairness"
#: The ``fairness`` document that says this projection keeps the fairness summaries.
FAIRNESS_LAYOUT = "layout"
#: Sales of one seller and period are summed in documents of this many seqs each, so a
#: document stays small however many sales a period has.
SALES_BUCKET = 4096
#: Every document collection this projection writes.
COLLECTIONS = (
    CONTRACTS,
    CONTRACT_PARTIES,
    OBLIGATIONS,
    OBLIGATION_PARTIES,
    SETTLEMENTS,
    PAYMENTS,
    SALES,
    FAIRNESS,
)
_MINE = frozenset({*CONTRACT_KINDS, *OBLIGATION_KINDS, Kind.SALE_REPORT})


def payment_key(seq: int) -> str:
    return f"{seq:012d}"


def statement_summary_key(contract_id: str, period: str) -> str:
    return f"statement/{contract_id}/{period}"


def sales_total_key(period: str, seller: str, seq: int) -> str:
    return f"sales/{period}/{seller}/{seq // SALES_BUCKET:09d}"


def _entry(seq: int, statement: Statement, recorded_at: str) -> Entry:
    return Entry(
        seq,
        statement.kind,
        statement.author,
        recorded_at,
        str(statement.document["issued_at"]),
        statement.body,
    )


class ContractProjection:
    """Contracts, obligations, sales and payments kept as projection documents."""

    tables: tuple[str, ...] = ()

    def start(self, tx: WriteTx) -> ProjectionBatch:
        return _Batch(tx)


class _Batch:
    """One transaction: documents read through an overlay of this batch's staged changes."""

    def __init__(self, tx: WriteTx) -> None:
        self.tx = tx
        self.overlay: dict[tuple[str, str], tuple[int, JSONValue] | None] = {}
        self.staged: dict[int, Entry] = {}
        self.statements: dict[int, Entry] = {}  # this batch's settlement statements
        self.layout_known = False

    # -- documents -----------------------------------------------------------------------

    def _get(self, collection: str, key: str) -> JSONValue | None:
        where = (collection, key)
        if where in self.overlay:
            found = self.overlay[where]
            return None if found is None else found[1]
        stored = self.tx.document(collection, key)
        return None if stored is None else stored[1]

    def _put(self, collection: str, key: str, seq: int, body: JSONValue) -> None:
        self.overlay[(collection, key)] = (seq, body)

    def _delete(self, collection: str, key: str) -> None:
        self.overlay[(collection, key)] = None

    def _lookup(self, seq: int) -> Entry | None:
        if seq in self.staged:
            return self.staged[seq]
        stored = self.tx.record(seq)
        return None if stored is None else Entry.from_leaf(stored.leaf)

    # -- the obligation store ------------------------------------------------------------

    def contract(self, contract_id: str) -> Contract | None:
        found = self._get(CONTRACTS, contract_id)
        return Contract.from_json(found) if isinstance(found, dict) else None

    def obligation(self, obligation_id: str) -> Obligation | None:
        found = self._get(OBLIGATIONS, obligation_id)
        return Obligation.from_json(found) if isinstance(found, dict) else None

    def payment(self, seq: int) -> SentPayment | None:
        found = self._get(PAYMENTS, payment_key(seq))
        return SentPayment.from_json(found) if isinstance(found, dict) else None

    def settlement(self, contract_id: str, period: str) -> SettlementRef | None:
        found = self._get(SETTLEMENTS, f"{contract_id}/{period}")
        return SettlementRef.from_json(found) if isinstance(found, dict) else None

    def contract_parties(self, contract_id: str) -> frozenset[str] | None:
        found = self._get(CONTRACTS, contract_id)
        if not isinstance(found, dict) or not isinstance(found.get("versions"), list):
            return None
        parties: set[str] = set()
        for version in found["versions"]:  # type: ignore[union-attr]
            terms = version.get("terms") if isinstance(version, dict) else None
            listed = terms.get("parties") if isinstance(terms, dict) else None
            for party in listed if isinstance(listed, list) else ():
                if isinstance(party, dict) and isinstance(party.get("id"), str):
                    parties.add(str(party["id"]))
        return frozenset(parties)

    # -- judging -------------------------------------------------------------------------

    def _judge(self, entry: Entry) -> Contract | Changes | None:
        if entry.kind in CONTRACT_KINDS:
            cid = contract_id_of(entry)
            return apply_contract_statement(
                self.contract(cid) if cid is not None else None, entry, self._lookup
            )
        if entry.kind in OBLIGATION_KINDS:
            return judge_obligation_statement(self, entry)
        return None

    def check(self, seq: int, statement: Statement, state: LedgerState) -> None:
        if statement.kind in _MINE:
            self._judge(_entry(seq, statement, ""))

    def stage(self, record: Record, state: LedgerState) -> None:
        statement = record.statement
        entry = _entry(record.seq, statement, record.recorded_at)
        if statement.kind == Kind.TRACE_EVENT:
            self.staged[record.seq] = entry  # evidence a termination in this batch may cite
            return
        if statement.kind not in _MINE:
            return
        if not self.layout_known:
            self._mark_layout(record.seq)
        if statement.kind == Kind.SALE_REPORT:
            self._sale(entry)
            return
        if statement.kind == Kind.SETTLEMENT:
            self.statements[record.seq] = entry
        try:
            outcome = self._judge(entry)
        except ContractError:
            return  # refused by the contract rules (appended without this projection)
        if isinstance(outcome, Contract):
            self._write_contract(outcome, entry.seq)
        elif isinstance(outcome, Changes):
            self._write_changes(outcome, entry.seq)
            self._summarise(outcome, entry)

    def flush(self) -> None:
        for (collection, key), value in self.overlay.items():
            if value is None:
                self.tx.delete_document(collection, key)
            else:
                self.tx.put_document(collection, key, value[0], value[1])
        self.overlay.clear()
        self.staged.clear()
        self.statements.clear()

    # -- writing -------------------------------------------------------------------------

    def _write_contract(self, contract: Contract, seq: int) -> None:
        doc = contract.to_json()
        self._put(CONTRACTS, contract.contract_id, seq, doc)
        for party, roles in sorted(contract.parties().items()):
            index: JSONObject = {
                "contract_id": contract.contract_id,
                "party": party,
                "roles": list(roles),
                "status": doc["status"],
                "binding_version": doc["binding_version"],
                "latest_version": doc["latest_version"],
            }
            self._put(CONTRACT_PARTIES, f"by-party/{party}/{contract.contract_id}", seq, index)

    def _write_changes(self, changes: Changes, seq: int) -> None:
        for obligation in changes.obligations:
            self._put(OBLIGATIONS, obligation.id, seq, obligation.to_json())
            for role, party in (("payer", obligation.payer), ("payee", obligation.payee)):
                index: JSONObject = {
                    "obligation": obligation.id,
                    "role": role,
                    "contract_id": obligation.contract_id,
                    "period": obligation.period,
                    "settled": obligation.settled(),
                }
                self._put(OBLIGATION_PARTIES, f"by-party/{party}/{obligation.id}", seq, index)
        for payment in changes.payments:
            self._put(PAYMENTS, payment_key(payment.seq), seq, payment.to_json())
        for ref in changes.settlements:
            self._put(SETTLEMENTS, f"{ref.contract_id}/{ref.period}", seq, ref.to_json())

    def _sale(self, entry: Entry) -> None:
        try:
            body = parse_body(SaleReportBody, Kind.SALE_REPORT, entry.body)
        except ContractError:
            return
        doc: JSONObject = {
            "seq": entry.seq,
            "seller": entry.author,
            "lot": body.lot,
            "period": body.period,
            "quantity": str(entry.body["quantity"]),
            "uom": body.uom,
            "revenue": {"amount": body.revenue.amount, "currency": body.revenue.currency},
        }
        key = payment_key(entry.seq)
        self._put(SALES, f"by-lot/{body.lot}/{body.period}/{key}", entry.seq, doc)
        self._put(SALES, f"by-period/{body.period}/{key}", entry.seq, doc)
        self._add_sale(
            entry.seq, entry.author, body.period, body.revenue.currency, body.revenue.money().minor
        )

    # -- fairness summaries --------------------------------------------------------------

    def _add_sale(self, seq: int, seller: str, period: str, currency: str, minor: int) -> None:
        key = sales_total_key(period, seller, seq)
        found = self._get(FAIRNESS, key)
        currencies: dict[str, JSONValue] = {}
        if isinstance(found, dict) and isinstance(found.get("currencies"), dict):
            currencies = dict(found["currencies"])  # type: ignore[arg-type]
        before = currencies.get(currency)
        revenue, seqs = 0, []
        if isinstance(before, dict):
            revenue = int(str(before["revenue"]))
            seqs = list(before["seqs"])  # type: ignore[arg-type]
        currencies[currency] = {"revenue": revenue + minor, "seqs": [*seqs, seq]}
        doc: JSONObject = {"seller": seller, "period": period, "currencies": currencies}
        self._put(FAIRNESS, key, seq, doc)

    def _mark_layout(self, seq: int) -> None:
        """Before the first contract record this projection stages: the ``layout`` marker,
        ``complete`` unless documents of an earlier projection (without summaries) exist.
        A rebuild starts from empty collections, so it always marks the layout complete."""
        self.layout_known = True
        if self._get(FAIRNESS, FAIRNESS_LAYOUT) is not None:
            return
        earlier = any(
            self.tx.documents(collection, limit=1) for collection in (CONTRACTS, SETTLEMENTS, SALES)
        )
        self._put(FAIRNESS, FAIRNESS_LAYOUT, seq, {"summaries": 1, "complete": not earlier})

    def _summarise(self, changes: Changes, entry: Entry) -> None:
        """Keep the summary of the statement in force of every (contract, period) whose
        statement changed; none when fairness would skip the statement."""
        for ref in changes.settlements:
            key = statement_summary_key(ref.contract_id, ref.period)
            found = self._get(FAIRNESS, key)
            if isinstance(found, dict) and found.get("seq") == ref.seq:
                continue
            recorded = self.statements.get(ref.seq) or self._lookup(ref.seq)
            contract = self.contract(ref.contract_id)
            summary = None
            if recorded is not None and contract is not None:
                try:
                    summary = summarise_statement(contract, ref.period, ref.seq, recorded.body)
                except (ValueError, ContractError):
                    summary = None
            if summary is None:
                self._delete(FAIRNESS, key)
            else:
                self._put(FAIRNESS, key, entry.seq, summary.to_json())

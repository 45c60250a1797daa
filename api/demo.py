"""``fairledger demo``: a small, realistic grain-to-bread ecosystem on the embedded default.

A grain cooperative with three farms, a mill, two bakeries, a café chain and a regional
grocer, plus an auditor. Every participant has its own key in ``$FAIRLEDGER_HOME/keys`` and
signs its own statements, which go through the normal append path (``api.wiring``: every
validator and projection), so the auditor's ``fairledger verify`` passes on the result.

What happens, January to March 2026 (fixed dates: the ledger is the same on every run apart
from the keys, signatures and hashes that depend on them):

* the operator registers everyone; the mill rotates a key it suspects was copied;
* the farms record their stored wheat (Oak Meadow mistypes its quantity, declares that event
  erroneous with an EPCIS ``errorDeclaration`` and records the corrective event);
* the cooperative, the farms and the grocer sign the *Valley Bread Pact*: wheat at
  ``max(market, floor) + premium``, 6 % of the grocer's bread revenue flowing back upstream to
  each farm pro rata by provenance, net 14 days with late-payment interest (ECB rate + 8
  points) and EUR 40 compensation per late invoice; the proposal is accepted by every party
  that takes on an obligation; the auditor reads;
* deliveries: each is a shipping event by the shipper and a receiving event by the receiver
  under a purchase order; the cooperative consolidates wheat onto pallets (SSCCs) for the
  mill, which unpacks and mills it into flour; the bakeries bake bread; Corner Loaf refuses
  part of a flour delivery (torn, wet bags) and the refused part goes back to the mill;
* the grocer and the café chain report their bread sales; the operator settles January and
  February (``settlement.statement``); the buyers pay and the farms confirm, except that the
  cooperative pays Riverbend's January invoice twelve days late, so February's statement bills
  interest and the fixed compensation, visible in ``fairledger audit payments``.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from api import wiring
from api.client import Author
from api.settings import Settings
from contracts.engine import record_settlement, settle_ledger
from contracts.scenario import (
    accept_body,
    payment_confirm_body,
    payment_sent_body,
    propose_body,
    sale_body,
)
from contracts.settlement import ObligationEntry, SettlementStatement
from contracts.terms import ContractTerms, parse_terms
from ledger.canonical import JSONObject
from ledger.errors import ConflictError
from ledger.keys import PrivateKey, save_private_key
from ledger.log import Ledger
from ledger.state import Kind
from ledger.statement import registration_body
from ledger.trace import builders
from ledger.trace.builders import Amount, BizTransaction, lot_id, trace_body
from ledger.verify import verify_database

__all__ = [
    "CAST",
    "CONTRACT_ID",
    "MARKER",
    "ORIGIN",
    "DemoResult",
    "Member",
    "build_demo",
    "run_demo",
    "try_lines",
]

ORIGIN = "demo.fairledger.example/grain-coop"
CONTRACT_ID = "valley-bread-pact-2026"
#: Local time of the valley (CET, winter): event times keep their offset.
CET = timezone(timedelta(hours=1))

GTIN_WHEAT = "09506000134109"
GTIN_FLOUR = "09506000134208"
GTIN_BREAD = "09506000134307"
#: What the demo's GTINs are, for people reading its output.
PRODUCTS = {
    GTIN_WHEAT: "milling wheat (kg)",
    GTIN_FLOUR: "stone-ground wheat flour (kg)",
    GTIN_BREAD: "country loaf, 800 g (each)",
}


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    roles: tuple[str, ...]
    gln: str


CAST = (
    Member("grain-coop", "Valley Grain Cooperative", ("supplier", "buyer"), "9506000134352"),
    Member("farm-hillside", "Hillside Farm", ("supplier",), "9506000134369"),
    Member("farm-riverbend", "Riverbend Farm", ("supplier",), "9506000134376"),
    Member("farm-oakmeadow", "Oak Meadow Farm", ("supplier",), "9506000134383"),
    Member("mill-valley", "Valley Stone Mill", ("supplier", "buyer"), "9506000134390"),
    Member("bakery-sunrise", "Sunrise Bakery", ("supplier", "buyer"), "9506000134406"),
    Member("bakery-corner", "Corner Loaf Bakery", ("supplier", "buyer"), "9506000134413"),
    Member("cafe-bean", "Bean & Crumb Cafés", ("supplier", "buyer"), "9506000134420"),
    Member("grocer-regional", "Regional Fresh Grocer", ("supplier", "buyer"), "9506000134437"),
    Member("auditor-fair", "Fair Trade Audits Ltd", ("auditor",), "9506000134444"),
)
GLN = {member.id: member.gln for member in CAST}
FARMS = ("farm-hillside", "farm-riverbend", "farm-oakmeadow")
_FARM_CODE = {"farm-hillside": "HS", "farm-riverbend": "RB", "farm-oakmeadow": "OM"}

#: Wheat market prices (EUR/kg, the Euronext milling wheat front month converted) on the days
#: the cooperative took delivery: below the pact's floor in January, above it in February.
MARKET_PRICES: Mapping[tuple[str, date], Decimal] = {
    (GTIN_WHEAT, date(2026, 1, 12)): Decimal("0.205"),
    (GTIN_WHEAT, date(2026, 1, 13)): Decimal("0.205"),
    (GTIN_WHEAT, date(2026, 1, 14)): Decimal("0.21"),
    (GTIN_WHEAT, date(2026, 2, 9)): Decimal("0.235"),
    (GTIN_WHEAT, date(2026, 2, 10)): Decimal("0.235"),
    (GTIN_WHEAT, date(2026, 2, 11)): Decimal("0.24"),
}
#: The farm whose January invoice the cooperative pays late, and when the money arrives.
LATE_PAYER, LATE_PAYEE = "grain-coop", "farm-riverbend"
LATE_SENT_ON = date(2026, 2, 25)

_IDS = uuid.UUID("0f3b6a52-4c1d-4e8a-9b7e-1d2c3b4a5f60")


def wheat_lot(farm: str) -> str:
    return lot_id(GTIN_WHEAT, f"W-{_FARM_CODE[farm]}-2501")


def flour_lot(month: int) -> str:
    return lot_id(GTIN_FLOUR, f"F-26{month:02d}")


BREAD_SUNRISE_JAN = lot_id(GTIN_BREAD, "B-SR-260122")
BREAD_CORNER_JAN = lot_id(GTIN_BREAD, "B-CL-260122")
BREAD_SUNRISE_FEB = lot_id(GTIN_BREAD, "B-SR-260218")


def pallet(number: int) -> str:
    """SSCC number ``number`` of the cooperative (18 digits with its check digit)."""
    return builders.with_check_digit(f"0950600013{number:07d}")


def contract_terms() -> ContractTerms:
    """The Valley Bread Pact (terms schema version 1)."""
    return parse_terms(
        {
            "version": 1,
            "contract_id": CONTRACT_ID,
            "parties": [
                {"id": "grain-coop", "roles": ["buyer"]},
                {"id": "farm-hillside", "roles": ["supplier"]},
                {"id": "farm-riverbend", "roles": ["supplier"]},
                {"id": "farm-oakmeadow", "roles": ["supplier"]},
                {"id": "grocer-regional", "roles": ["buyer"]},
                {"id": "auditor-fair", "roles": ["auditor"]},
            ],
            "currency": "EUR",
            "rounding": {"mode": "ROUND_HALF_EVEN", "point": "per_line"},
            "valid_from": "2026-01-01",
            "valid_until": "2026-12-31",
            "products": [
                {
                    "gtin": GTIN_WHEAT,
                    "unit": "KGM",
                    "pricing": {
                        "basis": "market",
                        "market": {
                            "source": "Euronext milling wheat front month, EUR/kg",
                            "observed_on": "delivery_date",
                        },
                        "floor": "0.22",
                        "premium": "0.03",
                    },
                }
            ],
            "revenue_share": {
                "payer": "grocer-regional",
                "shares": [{"supplier": farm, "percent": "6"} for farm in FARMS],
            },
            "payment": {
                "net_days": 14,
                "statutory_max_days": 60,
                "late_interest": {
                    "reference": "ECB main refinancing operations rate",
                    "margin_percent": "8",
                    "day_count": "ACT/365",
                    "reference_rates": [{"effective_from": "2025-06-11", "percent": "2.15"}],
                },
                "fixed_compensation": "40.00",
            },
        }
    )


@dataclass
class DemoResult:
    """What the demo built: enough to tell a visitor what to try, and for tests to check."""

    origin: str
    vkey: str
    size: int
    contract_id: str
    bread_lot: str
    flour_lot: str
    rejection_seq: int
    declaration_seq: int
    corrective_seq: int
    settlements: dict[str, int] = field(default_factory=dict)
    late_payment_seq: int = 0
    payments: list[int] = field(default_factory=list)
    market_prices: Mapping[tuple[str, date], Decimal] = field(default_factory=dict)


class _World:
    """Builds the demo ledger step by step; each step signs as the party that acts.

    ``clock`` is the ledger's time: every statement is issued and recorded a little after the
    moment its event happened, and never before the previous one."""

    def __init__(self, url: str, save_key: Callable[[str, PrivateKey], None]) -> None:
        self.save_key = save_key
        self.clock = datetime(2026, 1, 2, 8, 0, tzinfo=CET)
        self.authors: dict[str, Author] = {}
        self.nonce = 0
        operator = self._key("operator")
        self.operator_key = operator
        self.ledger: Ledger = wiring.create_ledger(
            url, origin=ORIGIN, operator_id="operator", operator_key=operator, now=self.clock
        )

    # -- plumbing ----------------------------------------------------------------------------

    def _key(self, participant: str) -> PrivateKey:
        key = PrivateKey.generate()
        self.save_key(participant, key)
        self.authors[participant] = Author(participant, key, ORIGIN, clock=lambda: self.clock)
        return key

    def at(self, day: date, hour: int = 9, minute: int = 0) -> datetime:
        """``day`` at local ``hour:minute``."""
        return datetime.combine(day, time(hour, minute), tzinfo=CET)

    def submit(self, author: str, kind: str, body: JSONObject, *, when: datetime) -> int:
        """Sign ``body`` as ``author`` and append it, recorded a minute after ``when``."""
        self.clock = max(self.clock + timedelta(seconds=1), when + timedelta(minutes=1))
        self.nonce += 1
        submission = self.authors[author].statement(
            kind, body, nonce=f"demo-{self.nonce:05d}", issued_at=self.clock
        )
        return self.ledger.submit(submission, now=self.clock).receipt.seq

    def event(self, author: str, event: JSONObject) -> int:
        """A ``trace.event`` recorded by ``author`` a minute after the event happened."""
        when = datetime.fromisoformat(str(event["eventTime"]))
        return self.submit(author, Kind.TRACE_EVENT, trace_body(event), when=when)

    @staticmethod
    def event_id(name: str) -> str:
        return f"urn:uuid:{uuid.uuid5(_IDS, name)}"

    @staticmethod
    def po(buyer: str, number: str) -> BizTransaction:
        return BizTransaction("po", f"https://{buyer}.example/po/{number}")

    def deliver(
        self,
        shipper: str,
        receiver: str,
        lot: str,
        quantity: str,
        *,
        day: date,
        po: str,
        uom: str | None = "KGM",
        rejected: str | None = None,
        reason: str | None = None,
    ) -> tuple[int, int]:
        """A delivery: the shipper's shipping event, then the receiver's receiving event
        (refusing ``rejected`` of it for ``reason``); their seqs."""
        order = [self.po(receiver, po)]
        ship = self.event(
            shipper,
            builders.ship(
                event_id=self.event_id(f"ship/{po}/{lot}"),
                when=self.at(day, 7),
                shipper_gln=GLN[shipper],
                receiver_gln=GLN[receiver],
                lots=[Amount(lot, quantity, uom)],
                biz_transactions=order,
            ),
        )
        refused = [] if rejected is None else [Amount(lot, rejected, uom)]
        receive = self.event(
            receiver,
            builders.receive(
                event_id=self.event_id(f"receive/{po}/{lot}"),
                when=self.at(day, 15),
                receiver_gln=GLN[receiver],
                shipper_gln=GLN[shipper],
                lots=[Amount(lot, quantity, uom)],
                rejected=refused,
                reason=reason,
                biz_transactions=order,
            ),
        )
        return ship, receive

    # -- the story ---------------------------------------------------------------------------

    def register_everyone(self) -> None:
        for member in CAST:
            key = self._key(member.id)
            self.submit(
                "operator",
                Kind.REGISTER,
                registration_body(
                    ORIGIN,
                    member.id,
                    key,
                    display_name=member.name,
                    roles=member.roles,
                    gln=member.gln,
                ),
                when=self.clock,
            )

    def rotate_mill_key(self) -> None:
        """The mill replaces a key it suspects was copied: the old key signs nothing after."""
        new = PrivateKey.generate()
        mill = self.authors["mill-valley"]
        submission = mill.rotate_key(new, nonce="demo-mill-rotate")
        self.clock += timedelta(hours=2)
        self.ledger.submit(submission, now=self.clock)
        self.save_key("mill-valley", new)
        self.authors["mill-valley"] = mill.with_key(new)

    def stored_wheat(self) -> tuple[int, int]:
        """Each farm records its stored 2025 wheat; Oak Meadow corrects a typo. Returns the
        seqs of the error declaration and of the corrective event."""
        stock = {"farm-hillside": "12000", "farm-riverbend": "10000"}
        for farm, quantity in stock.items():
            self.event(
                farm,
                builders.harvest(
                    event_id=self.event_id(f"harvest/{farm}"),
                    when=self.at(date(2026, 1, 5), 10),
                    gln=GLN[farm],
                    lots=[Amount(wheat_lot(farm), quantity)],
                ),
            )
        farm = "farm-oakmeadow"
        typo = builders.harvest(
            event_id=self.event_id(f"harvest/{farm}/typo"),
            when=self.at(date(2026, 1, 5), 11),
            gln=GLN[farm],
            lots=[Amount(wheat_lot(farm), "80000")],
        )
        self.event(farm, typo)
        corrective_id = self.event_id(f"harvest/{farm}")
        declaration = self.event(
            farm,
            builders.declare_error(
                typo,
                when=self.at(date(2026, 1, 5), 17),
                reason="incorrect_data",
                corrective_event_ids=[corrective_id],
            ),
        )
        corrective = self.event(
            farm,
            builders.harvest(
                event_id=corrective_id,
                when=self.at(date(2026, 1, 5), 17, 5),
                gln=GLN[farm],
                lots=[Amount(wheat_lot(farm), "8000")],
            ),
        )
        return declaration, corrective

    def sign_the_pact(self, terms: ContractTerms) -> None:
        """The cooperative proposes; every party that takes on an obligation accepts."""
        self.submit(
            "grain-coop",
            Kind.CONTRACT_PROPOSE,
            propose_body(terms),
            when=self.at(date(2026, 1, 7), 10),
        )
        obligated = [p.id for p in terms.parties if {"buyer", "supplier"} & set(p.roles)]
        for hour, party in enumerate(obligated, start=11):
            self.submit(
                party,
                Kind.CONTRACT_ACCEPT,
                accept_body(terms),
                when=self.at(date(2026, 1, 8), hour),
            )

    def wheat_to_coop(self, month: int, shipments: Sequence[tuple[str, str, int]]) -> None:
        """Farms deliver wheat to the cooperative under the pact: (farm, kg, day)."""
        for farm, quantity, day in shipments:
            self.deliver(
                farm,
                "grain-coop",
                wheat_lot(farm),
                quantity,
                day=date(2026, month, day),
                po=f"2026-{month:02d}-{_FARM_CODE[farm]}",
            )

    def mill_run(self, month: int, pallet_number: int, day: int) -> None:
        """The cooperative packs 2,000 kg of each farm's wheat onto a pallet and ships it to
        the mill, which receives it, unpacks it and mills 6,000 kg of wheat into 4,500 kg of
        flour (75 % extraction)."""
        sscc = pallet(pallet_number)
        coop, mill = GLN["grain-coop"], GLN["mill-valley"]
        wheat = [Amount(wheat_lot(farm), "2000") for farm in FARMS]
        self.event(
            "grain-coop",
            builders.pack(
                event_id=self.event_id(f"pack/{sscc}"),
                when=self.at(date(2026, month, day), 8),
                gln=coop,
                sscc=sscc,
                lots=wheat,
            ),
        )
        order = [self.po("mill-valley", f"2026-{month:02d}-W")]
        self.event(
            "grain-coop",
            builders.ship(
                event_id=self.event_id(f"ship/{sscc}"),
                when=self.at(date(2026, month, day), 10),
                shipper_gln=coop,
                receiver_gln=mill,
                ssccs=[sscc],
                biz_transactions=order,
            ),
        )
        self.event(
            "mill-valley",
            builders.receive(
                event_id=self.event_id(f"receive/{sscc}"),
                when=self.at(date(2026, month, day), 14),
                receiver_gln=mill,
                shipper_gln=coop,
                ssccs=[sscc],
                biz_transactions=order,
            ),
        )
        self.event(
            "mill-valley",
            builders.unpack(
                event_id=self.event_id(f"unpack/{sscc}"),
                when=self.at(date(2026, month, day), 15),
                gln=mill,
                sscc=sscc,
            ),
        )
        self.event(
            "mill-valley",
            builders.transform(
                event_id=self.event_id(f"mill/{month}"),
                when=self.at(date(2026, month, day + 1), 6),
                gln=mill,
                inputs=wheat,
                outputs=[Amount(flour_lot(month), "4500")],
            ),
        )

    def bake(self, bakery: str, flour: str, kg: str, bread: str, loaves: str, day: date) -> None:
        self.event(
            bakery,
            builders.transform(
                event_id=self.event_id(f"bake/{bread}"),
                when=self.at(day, 4),
                gln=GLN[bakery],
                inputs=[Amount(flour, kg)],
                outputs=[Amount(bread, loaves, "EA")],
            ),
        )

    def sale(self, seller: str, lot: str, period: str, loaves: str, revenue: str, day: date) -> int:
        return self.submit(
            seller,
            Kind.SALE_REPORT,
            sale_body(lot, period, loaves, revenue, uom="EA"),
            when=self.at(day, 20),
        )

    def settle(self, period: str, on: date) -> tuple[int, SettlementStatement]:
        """The operator settles ``period`` over every record so far and records it."""
        statement = settle_ledger(
            self.ledger,
            CONTRACT_ID,
            period,
            wiring.TraceProvenance(self.ledger),
            market_prices=MARKET_PRICES,
        )
        self.clock = max(self.clock + timedelta(seconds=1), self.at(on, 6))
        result = record_settlement(self.ledger, statement, self.operator_key, now=self.clock)
        return result.receipt.seq, statement

    def pay(
        self, statement: SettlementStatement, sent: Callable[[ObligationEntry], date]
    ) -> dict[str, int]:
        """Every payer pays each obligation of ``statement`` on ``sent(obligation)``; the money
        arrives the next day and the payee confirms it. The payment seqs by obligation id."""
        seqs: dict[str, int] = {}
        for obligation in sorted(statement.obligations, key=lambda o: o.id):
            day = sent(obligation)
            body = payment_sent_body([(obligation.id, obligation.amount.amount)], sent_on=day)
            body["reference"] = f"transfer {obligation.id}"
            payment = self.submit(obligation.payer, Kind.PAYMENT_SENT, body, when=self.at(day, 11))
            arrived = day + timedelta(days=1)
            self.submit(
                obligation.payee,
                Kind.PAYMENT_CONFIRM,
                payment_confirm_body(payment, received_on=arrived),
                when=self.at(arrived, 10),
            )
            seqs[obligation.id] = payment
        return seqs


def build_demo(
    url: str, save_key: Callable[[str, PrivateKey], None], say: Callable[[str], None]
) -> DemoResult:
    """Build the demo ledger at ``url`` (which must hold no ledger yet), saving each new
    key with ``save_key(participant, key)``. Raises ``LedgerError`` if any statement is
    refused (a bug: every statement here is valid)."""
    world = _World(url, save_key)
    try:
        world.register_everyone()
        world.rotate_mill_key()
        say(f"registered {len(CAST)} participants, each with its own key; the mill rotated one")
        declaration, corrective = world.stored_wheat()
        terms = contract_terms()
        world.sign_the_pact(terms)
        say(f"{CONTRACT_ID}: proposed by grain-coop, accepted by every obligated party")

        # January: wheat in at the floor price, a pallet to the mill, flour, bread.
        world.wheat_to_coop(
            1,
            [
                ("farm-hillside", "6000", 12),
                ("farm-riverbend", "5000", 13),
                ("farm-oakmeadow", "4000", 14),
            ],
        )
        world.mill_run(1, 1, 16)
        world.deliver(
            "mill-valley",
            "bakery-sunrise",
            flour_lot(1),
            "2000",
            day=date(2026, 1, 19),
            po="2026-0107",
        )
        _, rejection = world.deliver(
            "mill-valley",
            "bakery-corner",
            flour_lot(1),
            "1500",
            day=date(2026, 1, 19),
            po="CL-2026-003",
            rejected="300",
            reason="damaged: 12 bags torn and wet on arrival",
        )
        world.bake(
            "bakery-sunrise", flour_lot(1), "400", BREAD_SUNRISE_JAN, "1000", date(2026, 1, 22)
        )
        world.bake("bakery-corner", flour_lot(1), "300", BREAD_CORNER_JAN, "700", date(2026, 1, 22))
        for shipper, receiver, lot, loaves, po in (
            ("bakery-sunrise", "grocer-regional", BREAD_SUNRISE_JAN, "600", "G-2026-0122"),
            ("bakery-sunrise", "cafe-bean", BREAD_SUNRISE_JAN, "300", "BC-0122-1"),
            ("bakery-corner", "cafe-bean", BREAD_CORNER_JAN, "500", "BC-0122-2"),
        ):
            world.deliver(shipper, receiver, lot, loaves, day=date(2026, 1, 22), po=po, uom="EA")
        world.sale(
            "grocer-regional", BREAD_SUNRISE_JAN, "2026-01", "580", "2030.00", date(2026, 1, 31)
        )
        world.sale("cafe-bean", BREAD_SUNRISE_JAN, "2026-01", "280", "1120.00", date(2026, 1, 31))
        world.sale("cafe-bean", BREAD_CORNER_JAN, "2026-01", "480", "1920.00", date(2026, 1, 31))
        say(
            "January: wheat delivered, a pallet milled, flour refused in part, bread baked and sold"
        )

        january_seq, january = world.settle("2026-01", date(2026, 2, 1))
        late_id = f"{CONTRACT_ID}/2026-01/{LATE_PAYER}/{LATE_PAYEE}"
        january_payments = world.pay(
            january, lambda o: LATE_SENT_ON if o.id == late_id else date(2026, 2, 10)
        )
        say(f"January settled (seq {january_seq}); {LATE_PAYER} paid {LATE_PAYEE} twelve days late")

        # February: wheat above the floor, the next pallet, bread for the grocer.
        world.wheat_to_coop(
            2,
            [
                ("farm-hillside", "5000", 9),
                ("farm-riverbend", "4000", 10),
                ("farm-oakmeadow", "3000", 11),
            ],
        )
        world.mill_run(2, 2, 16)
        world.deliver(
            "mill-valley",
            "bakery-sunrise",
            flour_lot(2),
            "2000",
            day=date(2026, 2, 18),
            po="2026-0214",
        )
        world.bake(
            "bakery-sunrise", flour_lot(2), "400", BREAD_SUNRISE_FEB, "1000", date(2026, 2, 19)
        )
        world.deliver(
            "bakery-sunrise",
            "grocer-regional",
            BREAD_SUNRISE_FEB,
            "700",
            day=date(2026, 2, 19),
            po="G-2026-0219",
            uom="EA",
        )
        world.sale(
            "grocer-regional", BREAD_SUNRISE_FEB, "2026-02", "650", "2275.00", date(2026, 2, 28)
        )
        february_seq, february = world.settle("2026-02", date(2026, 3, 1))
        february_payments = world.pay(february, lambda o: date(2026, 3, 10))
        say(f"February settled (seq {february_seq}) with late-payment charges; all paid on time")

        return DemoResult(
            origin=ORIGIN,
            vkey=world.ledger.verifier.vkey,
            size=world.ledger.size,
            contract_id=CONTRACT_ID,
            bread_lot=BREAD_SUNRISE_JAN,
            flour_lot=flour_lot(1),
            rejection_seq=rejection,
            declaration_seq=declaration,
            corrective_seq=corrective,
            settlements={"2026-01": january_seq, "2026-02": february_seq},
            late_payment_seq=january_payments[late_id],
            payments=sorted([*january_payments.values(), *february_payments.values()]),
            market_prices=MARKET_PRICES,
        )
    finally:
        world.ledger.close()


MARKER = "FAIRLEDGER-DEMO"


def run_demo(settings: Settings, say: Callable[[str], None]) -> DemoResult:
    """Build the demo ledger in ``settings.home`` and verify it as an auditor would.

    A home that an earlier demo made (it holds the marker file) is replaced, so the demo can
    be run again and again; any other non-empty directory is refused with ``ConflictError``,
    so a real ledger is never overwritten.
    """
    home = settings.home
    if home.exists() and any(home.iterdir()):
        if not (home / MARKER).exists():
            raise ConflictError(f"{home} is not empty and not a demo home; refusing to touch it")
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    (home / MARKER).write_text("made by `fairledger demo`; safe to delete\n")

    def save_key(participant: str, key: PrivateKey) -> None:
        path = settings.key_path(participant)
        path.unlink(missing_ok=True)
        save_private_key(path, key, settings.passphrase_bytes)

    result = build_demo(settings.url, save_key, say)
    report = verify_database(
        settings.url, operator_vkey=result.vkey, validators=wiring.validators(), parallel=False
    )
    say(
        f"auditor check: {report.records_checked} records, {report.checkpoints_checked} "
        "checkpoints, every signature, key, link and root verified"
    )
    return result


def _market_flags(prices: Mapping[tuple[str, date], Decimal], period: str) -> str:
    return " ".join(
        f"--market-price {gtin}@{day.isoformat()}={price}"
        for (gtin, day), price in sorted(prices.items())
        if day.isoformat().startswith(period)
    )


def try_lines(
    result: DemoResult, home: str, base: str | None, program: str = "fairledger"
) -> list[str]:
    """What a visitor can try next: commands (run as ``program``, e.g. the path the demo was
    started with) for ``home``, and curl lines if serving at ``base``."""
    cli = f"{program} --home {home}"
    bread = result.bread_lot
    gtin_lot = bread.removeprefix("https://id.gs1.org")
    lines = [
        f"A lot to trace: {bread}  ({PRODUCTS[GTIN_BREAD]}, Sunrise Bakery, 22 Jan 2026)",
        "",
        "Try:",
        f"  {cli} trace {bread}",
        f"  {cli} audit payments --as-of 2026-03-31",
        f"  {cli} audit fairness",
        f"  {cli} settle {result.contract_id} --period 2026-02 "
        + _market_flags(result.market_prices, "2026-02"),
        f"  {cli} export --out demo.jsonl && {cli} verify --export demo.jsonl "
        f"--vkey '{result.vkey}'",
        "",
        "The auditor's check (the operator's vkey is all it trusts):",
        f"  {cli} verify --vkey '{result.vkey}'",
    ]
    if base is not None:
        lines += [
            f"  {cli} verify {base} --vkey '{result.vkey}' --state auditor-state.json",
            "",
            "Over HTTP:",
            f"  curl {base}/v1/ledger",
            f"  curl {base}/v1/checkpoint",
            f"  curl '{base}/v1/records?start=0&limit=5'",
            f"  curl {base}/v1/participants/mill-valley",
            f"  curl -G {base}/v1/lots/provenance --data-urlencode 'lot={bread}'",
            f"  curl -G {base}/v1/lots/bundle --data-urlencode 'lot={bread}' -o bundle.json",
            f"  open {base}{gtin_lot}   (the buyer's provenance page)",
            f"  open {base}/docs   (the OpenAPI documentation)",
        ]
    return lines

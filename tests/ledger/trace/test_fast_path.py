"""The fast reading of ``trace.event`` bodies (``ledger.trace._fast``) against the reference.

``parse_trace_body(body)`` first tries the fast path and leaves everything it cannot vouch for
to the pydantic models (``fast=False``, the reference path). These tests check that the two
agree on what is accepted and refused, on every error (code, field, message, the list of
field errors) and on the parsed result, for events made by the builders and then damaged.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import LedgerError
from ledger.trace import builders as b
from ledger.trace._fast import FALLBACK_FIELDS, FAST_FIELDS, fast_facts
from ledger.trace.epcis import _MODELS, STANDARD_CONTEXT, parse_ledger_event, to_ledger_form
from ledger.trace.errors import MalformedEventError, MalformedTraceEventError
from ledger.trace.facts import event_facts
from ledger.trace.rules import FAIRLEDGER_CONTEXT, parse_trace_body

GLNS = [b.with_check_digit(f"95060000{n:04d}") for n in range(4)]
GTINS = [b.with_check_digit(f"095060001343{n}") for n in range(3)]
LOTS = [b.lot_id(gtin, lot) for gtin in GTINS for lot in ("L1", "A%2F2", "x-9")]
SSCCS = [b.with_check_digit(f"3506000100000000{n}") for n in range(3)]
STEPS = ["commission", "pack", "unpack", "ship", "receive", "void", "transform", "destroy",
         "sell", "observe", "declare", "transaction", "association", "custom"]  # fmt: skip
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)

#: Values put in place of a field: wrong types, non-normal spellings, other identifiers...
ODD_VALUES: list[object] = [
    None,
    "",
    " ",
    0,
    1,
    -1,
    2**60,
    True,
    1.5,
    Decimal("2.5"),
    [],
    {},
    [None],
    {"id": None},
    "0",
    "-5",
    "1.50",
    "12.5",
    "1e3",
    "KGM",
    "kg",
    "EA",
    "ADD",
    "DELETE",
    "shipping",
    "receiving",
    "urn:epcglobal:cbv:bizstep:shipping",
    "https://ref.gs1.org/cbv/Disp-in_transit",
    "cbv:BizStep-receiving",
    "in_transit",
    "owning_party",
    "possessing_party",
    "location",
    "po",
    "+01:00",
    "+15:00",
    "2026-11-22T10:00:00Z",
    "2026-02-30T10:00:00Z",
    "urn:uuid:1b0c4a52-4b8e-4c0b-9d59-1a2b3c4d5e6f",
    "not a uri",
    "urn:epc:class:lgtin:4012345.012345.998877",
    "https://id.gs1.org/01/04012345123456/10/998877",
    "https://example.com/01/04012345123456/10/998877",
    "https://id.gs1.org/01/04012345123457/10/998877",
    "(01)04012345123456(10)998877",
    b.location_id(GLNS[0]),
    b.location_id(GLNS[0], "dock 1"),
    b.location_id(GLNS[0], "dock-1"),
    f"https://id.gs1.org/417/{GLNS[1]}",
    f"https://id.gs1.org/00/{SSCCS[0]}",
    f"https://id.gs1.org/01/{GTINS[0]}",
    f"https://id.gs1.org/01/{GTINS[0]}/21/S1",
    "fairledger:note",
    "ex:thing",
    "\ud800",
    "caf\u00e9",
    [[[[[[[[[[[[[[[[[[[[[[[[[["deep"]]]]]]]]]]]]]]]]]]]]]]]]]],
    [LOTS[0], LOTS[0]],
    [f"https://id.gs1.org/00/{SSCCS[0]}", f"https://id.gs1.org/00/{SSCCS[0]}"],
    [{"epcClass": LOTS[0], "quantity": "5", "uom": "KGM"}],
    [{"epcClass": LOTS[0], "quantity": "5", "uom": "KGM", "ex:x": 1}],
    [{"type": "owning_party", "source": f"https://id.gs1.org/417/{GLNS[0]}"}],
    [{"type": "location", "destination": b.location_id(GLNS[1])}],
    [{"bizTransaction": "https://farm.example/po/1"}],
    [{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:PO-1"}],
    {"id": b.location_id(GLNS[2])},
    {"id": b.location_id(GLNS[2]), "ex:extra": "x"},
    [FAIRLEDGER_CONTEXT],
    [FAIRLEDGER_CONTEXT, FAIRLEDGER_CONTEXT],
    ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
    [{"ex": "https://id.gs1.org/"}],
    [{"urn": "https://example.com/"}],
    [{"loc": "https://id.gs1.org/414/"}],
    {"declarationTime": "2026-11-23T10:00:00Z", "reason": "incorrect_data"},
    {"set": ["completeness_verified"]},
    {"ex:lotDate": "2026-11-01"},
    [{"sensorReport": [{"type": "Temperature", "value": "4.5", "uom": "CEL"}]}],
    "https://cert.example/1",
]
#: Keys added to an event: standard fields of other types, extensions, non-namespaced keys.
ODD_KEYS = [
    "epcList",
    "quantityList",
    "childEPCs",
    "parentID",
    "inputEPCList",
    "outputQuantityList",
    "transformationID",
    "action",
    "recordTime",
    "ilmd",
    "sensorElementList",
    "persistentDisposition",
    "certificationInfo",
    "errorDeclaration",
    "@context",
    "fairledger:extensions",
    "fairledger:rejectedQuantityList",
    "fairledger:rejectionReason",
    "https://fairledger.dev/ns/epcis/rejectionReason",
    "example:note",
    "ex:note",
    "note",
    "event_id",
]

amounts = st.builds(
    b.Amount,
    lot=st.sampled_from(LOTS),
    quantity=st.decimals(min_value=Decimal("0.001"), max_value=Decimal(10**6), places=3),
    uom=st.sampled_from(["KGM", "EA", None]),
)
glns = st.sampled_from(GLNS)
transactions = st.lists(
    st.builds(
        b.BizTransaction,
        type=st.sampled_from(["po", "desadv", "inv", None]),
        id=st.sampled_from(
            ["https://farm.example/po/1", "urn:uuid:7c6b4a52-0000-4c0b-9d59-000000000001"]
        ),
    ),
    max_size=2,
    unique_by=lambda t: (t.type, t.id),
)


@st.composite
def built_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid ledger-form event from one of the builders."""
    event_id = f"urn:uuid:00000000-0000-4000-8000-{draw(st.integers(0, 10**12)):012d}"
    when = T0 + timedelta(minutes=draw(st.integers(0, 10**6)))
    when = when.astimezone(
        draw(st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5))]))
    )
    step = draw(st.sampled_from(STEPS))
    gln, other = draw(glns), draw(glns)
    lots = draw(st.lists(amounts, min_size=1, max_size=3, unique_by=lambda a: (a.lot, a.uom)))
    ssccs = draw(st.lists(st.sampled_from(SSCCS), max_size=2, unique=True))
    if step == "commission":
        return b.commission(
            event_id=event_id, when=when, gln=gln, lots=lots,
            site=draw(st.sampled_from([None, "dock-1"])), biz_transactions=draw(transactions),
        )  # fmt: skip
    if step == "pack":
        return b.pack(event_id=event_id, when=when, gln=gln, sscc=SSCCS[0], lots=lots)
    if step == "unpack":
        chosen = lots if draw(st.booleans()) else []
        return b.unpack(event_id=event_id, when=when, gln=gln, sscc=SSCCS[0], lots=chosen)
    if step in ("ship", "void"):
        builder = b.ship if step == "ship" else b.void_shipping
        extra = {"biz_transactions": draw(transactions)} if step == "ship" else {}
        return builder(
            event_id=event_id, when=when, shipper_gln=gln,
            receiver_gln=draw(st.sampled_from([other, None])), lots=lots, ssccs=ssccs, **extra,
        )  # fmt: skip
    if step == "receive":
        rejected = draw(st.lists(amounts, max_size=2, unique_by=lambda a: (a.lot, a.uom)))
        return b.receive(
            event_id=event_id, when=when, receiver_gln=gln,
            shipper_gln=draw(st.sampled_from([other, None])), lots=lots, ssccs=ssccs,
            rejected=rejected, reason="damaged" if rejected else None,
            biz_transactions=draw(transactions),
        )  # fmt: skip
    if step == "transform":
        outputs = draw(st.lists(amounts, min_size=1, max_size=2, unique_by=lambda a: a.lot))
        return b.transform(
            event_id=event_id, when=when, gln=gln, inputs=lots, outputs=outputs,
            input_ssccs=ssccs, transformation_id=draw(st.sampled_from([None, "urn:uuid:t-1"])),
            biz_transactions=draw(transactions),
        )  # fmt: skip
    if step == "destroy":
        return b.destroy(event_id=event_id, when=when, gln=gln, lots=lots)
    if step == "sell":
        return b.sell(event_id=event_id, when=when, gln=gln, lots=lots)
    if step == "observe":
        return b.observe(event_id=event_id, when=when, gln=gln, lots=lots)
    if step == "declare":
        original = b.commission(event_id=event_id, when=when, gln=gln, lots=lots)
        return b.declare_error(original, when=when + timedelta(days=1))
    # Shapes no builder makes, written in the EPCIS form and normalised.
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": event_id,
        "eventTime": when.isoformat(),
        "eventTimeZoneOffset": when.isoformat()[-6:],
        "action": draw(st.sampled_from(["ADD", "OBSERVE", "DELETE"])),
        "quantityList": [a.element() for a in lots],
    }
    if step == "transaction":
        event["type"] = "TransactionEvent"
        event["bizTransactionList"] = [
            t.element() for t in draw(transactions) or [b.BizTransaction("po", "urn:uuid:po-1")]
        ]
        if draw(st.booleans()):
            event["parentID"] = f"urn:epc:id:sscc:9506000.1{draw(st.integers(0, 10**9 - 1)):09d}"
    elif step == "association":
        event["type"] = "AssociationEvent"
        event["parentID"] = "urn:epc:id:grai:9506000.12345.1"
        event["childQuantityList"] = event.pop("quantityList")
    if step in ("custom", "transaction") and draw(st.booleans()):
        event["bizStep"] = draw(
            st.sampled_from(["https://example.com/bizstep/milling", "urn:example:bs:mill",
                             "urn:epcglobal:cbv:bizstep:receiving", "storing"])
        )  # fmt: skip
        event["disposition"] = draw(st.sampled_from(["active", "urn:example:disp:held"]))
    side = draw(st.sampled_from(["owning_party", "possessing_party", "location",
                                 "https://example.com/sdt/carrier"]))  # fmt: skip
    where = f"urn:epc:id:sgln:9506000.{GLNS[0][7:12]}.0"
    event["sourceList"] = [{"type": side, "source": where}]
    event["destinationList"] = [{"type": side, "destination": b.location_id(other)}]
    event["readPoint"] = {"id": where}
    event["example:note"] = draw(st.sampled_from(["x", 3, [1, {"a": None}], {"b": True}]))
    return to_ledger_form(event, context=[STANDARD_CONTEXT, {"example": "https://x.example/"}])


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a member of ``value`` (keys and indices), depth first."""
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            out.append((*prefix, key))
            out.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.append((*prefix, index))
            out.extend(_paths(item, (*prefix, index)))
    return out


@st.composite
def damaged_events(draw: st.DrawFn) -> dict[str, Any]:
    """A built event, then up to three changes: a value replaced, a member removed, a key
    added (in the event or in one of its objects)."""
    event = copy.deepcopy(draw(built_events()))
    for _ in range(draw(st.integers(0, 3))):
        paths = _paths(event)
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "add":
            containers = [()] + [p for p in paths if isinstance(_at(event, p), dict)]
            where = _at(event, draw(st.sampled_from(containers)))
            where[draw(st.sampled_from([*ODD_KEYS, "id", "uom", "quantity", "type"]))] = (
                copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
            )
            continue
        path = draw(st.sampled_from(paths))
        parent = _at(event, path[:-1])
        if action == "remove":
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
    return event


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def _outcome(body: dict[str, Any], *, fast: bool) -> tuple[Any, ...]:
    """What ``parse_trace_body`` answers, as comparable data."""
    try:
        trace = parse_trace_body(copy.deepcopy(body), fast=fast)
    except MalformedTraceEventError as exc:
        return ("refused", type(exc), exc.code, exc.field, exc.message, tuple(exc.errors))
    except LedgerError as exc:
        return ("refused", type(exc), exc.code, exc.field, exc.message)
    except Exception as exc:  # noqa: BLE001 - compared, not swallowed: both must raise alike
        return ("raised", type(exc), str(exc))
    return ("accepted", trace.facts, trace.rejections, trace.rejection_reason, trace.event)


def _assert_same(event: dict[str, Any]) -> None:
    body = b.trace_body(event)
    reference = _outcome(body, fast=False)
    assert _outcome(body, fast=True) == reference
    facts = fast_facts(copy.deepcopy(event))
    if facts is not None:  # where the fast path answers, the reference accepts, alike
        assert facts == event_facts(parse_ledger_event(copy.deepcopy(event)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(built_events())
def test_fast_path_reads_built_events_as_the_reference_does(event: dict[str, Any]) -> None:
    _assert_same(event)
    # The fast path reads every built event but error declarations and association events.
    if "errorDeclaration" not in event and event["type"] != "AssociationEvent":
        assert fast_facts(event) is not None


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged_events())
def test_fast_path_accepts_and_refuses_as_the_reference_does(event: dict[str, Any]) -> None:
    _assert_same(event)


def _shipping() -> dict[str, Any]:
    return b.ship(
        event_id="urn:uuid:00000000-0000-4000-8000-000000000001", when=T0,
        shipper_gln=GLNS[0], receiver_gln=GLNS[1], lots=[b.Amount(LOTS[0], "5")],
        ssccs=[SSCCS[0]],
    )  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [
        # A JSON-LD prefix declared by the event's own @context changes how a value reads.
        {"@context": [{"ex": "https://id.gs1.org/414/"}], "bizLocation": {"id": "ex:x"}},
        {"@context": [{"po": "https://example.com/po/"}]},
        {"@context": [{"urn": "https://example.com/"}]},
        {"@context": [{"https": "https://example.com/"}]},
        {"@context": [{"shipping": "https://example.com/steps/"}]},
        {"@context": [{"k\ud800": "https://example.com/"}]},
        {"@context": [{"ex": "https://example.com/"}, {"ex": "https://example.com/"}]},
        {"@context": []},
        {"example:note": "\ud800"},
        {"example:big": 2**53},
        {"example:small": -(2**53) + 1},
        {"example:float": 0.5},
        {"example:tuple": ("a",)},
        {"fairledger:extensions": {"a": 1}},
        {"eventTime": "2026-11-22t10:00:00.5z"},
        {"eventTime": "2026-11-22T10:00:00.1234567+01:00"},
        {"recordTime": "2026-11-22T10:00:00Z"},
        {"eventID": ("urn:uuid:x",)},
    ],
)
def test_fast_path_agrees_on_edge_cases(change: dict[str, Any]) -> None:
    event = _shipping()
    event.update(change)
    _assert_same(event)


@pytest.mark.parametrize("kind", sorted(FAST_FIELDS))
def test_fast_path_knows_every_standard_field(kind: str) -> None:
    """Each standard field of a type the fast path reads is read by it or left to the
    reference path: a field added to a model cannot slip through unchecked."""
    aliases = {field.alias or name for name, field in _MODELS[kind].model_fields.items()}
    assert set(FAST_FIELDS[kind]) <= aliases
    assert aliases - set(FAST_FIELDS[kind]) - {"@context"} <= FALLBACK_FIELDS


def test_malformed_event_errors_are_the_reference_ones() -> None:
    event = _shipping()
    event["quantityList"][0]["quantity"] = "5.0"
    with pytest.raises(MalformedTraceEventError) as fast:
        parse_trace_body(b.trace_body(event))
    with pytest.raises(MalformedTraceEventError) as reference:
        parse_trace_body(b.trace_body(event), fast=False)
    assert fast.value.errors == reference.value.errors
    assert fast.value.errors[0].path == "statement.body.event.quantityList[0].quantity"
    with pytest.raises(MalformedEventError):
        parse_ledger_event(event)

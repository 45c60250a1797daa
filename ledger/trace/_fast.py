"""The facts of a ledger-form event that is already valid and in normal form, read cheaply.

Every ``trace.event`` body on a ledger is a ledger-form event that equals its own normal form
(``parse_ledger_event`` refuses anything else). Proving that with the pydantic models costs a
model validation, a re-serialisation (``ledger_form``) and two canonical encodings per event.
For an event already in normal form a cheaper proof suffices: each field is checked to be
valid *and* unchanged by normalisation, and then the ledger form is the input itself.

``fast_facts(form)`` returns the ``EventFacts`` that ``event_facts(parse_ledger_event(form))``
would return, or None when it cannot prove cheaply that ``parse_ledger_event`` accepts
``form``: any fault, any doubt, and any rarely used part of EPCIS (sensor data, error
declarations, ILMD, persistent dispositions, certification info, association events,
extension fields inside standard structures, JSON-LD prefixes that a value might use) gives
None, and the caller runs the reference path, which finds and words every error. The fast path
is therefore only ever stricter than the reference one; ``tests/ledger/trace/
test_fast_path.py`` checks with Hypothesis that where it answers, it answers the same.

The checks of single values are pure functions of the value's string and memoised in bounded
LRU caches (identifiers repeat across events: the same lots, sites and parties).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final

from pydantic_core import PydanticCustomError

from ledger.canonical import MAX_SAFE_INTEGER
from ledger.trace import cbv
from ledger.trace._fields import _MAX_EXTENSION_DEPTH, EXTENSIONS_KEY, check_uri
from ledger.trace._syntax import (
    canonical_decimal,
    is_absolute_uri,
    parse_canonical_decimal,
    parse_date_time,
)
from ledger.trace.epcis import _prefixes, _structure_errors, context_entries
from ledger.trace.errors import FieldError, MalformedIdentifierError, MalformedVocabularyError
from ledger.trace.facts import (
    BizTransactionFact,
    CustodyEffect,
    EventFacts,
    QuantityFact,
    SourceDestinationFact,
    custody_of,
    quantity_fact,
    ssccs_named,
)
from ledger.trace.identifiers import (
    IDENTIFIER_CACHE_SIZE,
    normalize_epc,
    normalize_epc_class,
    normalize_identifier,
    normalize_location,
    normalize_party,
)

__all__ = ["FALLBACK_FIELDS", "FAST_FIELDS", "fast_facts"]

_VALUE_CACHE_SIZE: Final = 4096
_TZ_OFFSET: Final = re.compile(r"[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00)", re.ASCII)
_UOM: Final = re.compile(r"[A-Z0-9]{2,3}", re.ASCII)
_ACTIONS: Final = frozenset({"ADD", "OBSERVE", "DELETE"})
_PARTY_TYPES: Final = frozenset({"owning_party", "possessing_party"})

_NORMALIZERS: Final[dict[str, Callable[[str], str]]] = {
    "epc": normalize_epc,
    "class": normalize_epc_class,
    "location": normalize_location,
    "party": normalize_party,
    "any": normalize_identifier,
}
_VOCABULARIES: Final[dict[str, cbv.Vocabulary]] = {
    "bizStep": cbv.BIZ_STEP,
    "disposition": cbv.DISPOSITION,
    "bizTransactionType": cbv.BIZ_TRANSACTION_TYPE,
    "sourceDestinationType": cbv.SOURCE_DESTINATION_TYPE,
}


class _CannotVouchError(Exception):
    """The fast path cannot vouch for the event; the reference path decides."""


#: Raised as a class, so every refusal is a fresh instance: one shared instance would keep
#: every traceback it was ever raised with (raising an instance appends the current
#: frames to its ``__traceback__``), and with them each refused event's frames and
#: locals: unbounded memory over a rebuild of events the fast path cannot vouch for.
_REFUSE: Final = _CannotVouchError


# --- single values (memoised) -------------------------------------------------------------


@lru_cache(maxsize=IDENTIFIER_CACHE_SIZE)
def _normal_identifier(kind: str, text: str) -> bool:
    """True if ``text`` is a valid identifier of ``kind`` already in normal form, as the
    reference validator sees it when no user JSON-LD prefix applies to it."""
    try:
        check_uri(text)
        return _NORMALIZERS[kind](cbv.expand_compact_iri(text, None)) == text
    except (PydanticCustomError, MalformedIdentifierError, ValueError):
        return False  # the reference path words the fault


@lru_cache(maxsize=_VALUE_CACHE_SIZE)
def _normal_term(vocabulary: str, value: str) -> bool:
    """True if ``value`` is a valid value of ``vocabulary`` already in normal form."""
    try:
        return _VOCABULARIES[vocabulary].normalize(value, None) == value
    except (MalformedVocabularyError, ValueError):
        return False


@lru_cache(maxsize=_VALUE_CACHE_SIZE)
def _positive_decimal(text: str) -> Decimal | None:
    """The quantity ``text`` stands for if it is a positive canonical decimal string."""
    try:
        number = parse_canonical_decimal(text)
        if number <= 0 or canonical_decimal(number) != text:
            return None
    except ValueError:
        return None
    return number


@lru_cache(maxsize=_VALUE_CACHE_SIZE)
def _quantity(epc_class: str, quantity: str | None, uom: str | None) -> QuantityFact | None:
    """The fact of a quantity element whose values are valid and normal, else None."""
    if not _normal_identifier("class", epc_class):
        return None
    number = None
    if quantity is not None:
        number = _positive_decimal(quantity)
        if number is None:
            return None
    if uom is not None and not _UOM.fullmatch(uom):
        return None
    return quantity_fact(epc_class, number, uom)


@lru_cache(maxsize=_VALUE_CACHE_SIZE)
def _side(kind: str, identifier: str) -> SourceDestinationFact | None:
    """The fact of a source or destination whose type and id are valid and normal."""
    if not _normal_term("sourceDestinationType", kind):
        return None
    normalizer = "party" if kind in _PARTY_TYPES else "location" if kind == "location" else "any"
    if not _normal_identifier(normalizer, identifier):
        return None
    return SourceDestinationFact(kind, identifier)


def _uses_prefix(text: str, prefixes: dict[str, str]) -> bool:
    # A compact IRI whose prefix the event's @context declares expands differently.
    return bool(prefixes) and text.partition(":")[0] in prefixes


# --- checkers of one field: return the parsed value or raise _REFUSE ----------------------

_Checker = Callable[[Any, dict[str, str]], Any]


def _str(value: object) -> str:
    if type(value) is not str:
        raise _REFUSE
    return value


def _type(value: object, prefixes: dict[str, str]) -> str:
    return _str(value)  # the event type, already looked up


def _identifier(kind: str) -> _Checker:
    def check(value: object, prefixes: dict[str, str]) -> str:
        text = _str(value)
        if _uses_prefix(text, prefixes) or not _normal_identifier(kind, text):
            raise _REFUSE
        return text

    return check


def _identifiers(kind: str, unique: bool) -> _Checker:
    one = _identifier(kind)

    def check(value: object, prefixes: dict[str, str]) -> tuple[str, ...]:
        if type(value) is not list or not value:
            raise _REFUSE
        out = tuple(one(item, prefixes) for item in value)
        if unique and len(set(out)) != len(out):
            raise _REFUSE
        return out

    return check


def _term(vocabulary: str) -> _Checker:
    def check(value: object, prefixes: dict[str, str]) -> str:
        text = _str(value)
        if _uses_prefix(text, prefixes) or not _normal_term(vocabulary, text):
            raise _REFUSE
        return text

    return check


def _uri(value: object, prefixes: dict[str, str]) -> str:
    text = _str(value)
    if not is_absolute_uri(text):
        raise _REFUSE
    return text


def _time(value: object, prefixes: dict[str, str]) -> datetime:
    try:
        return parse_date_time(_str(value))
    except ValueError:
        raise _REFUSE from None


def _offset(value: object, prefixes: dict[str, str]) -> str:
    text = _str(value)
    if not _TZ_OFFSET.fullmatch(text):
        raise _REFUSE
    return text


def _action(value: object, prefixes: dict[str, str]) -> str:
    if type(value) is not str or value not in _ACTIONS:
        raise _REFUSE
    return value


def _place(value: object, prefixes: dict[str, str]) -> str:
    if type(value) is not dict or len(value) != 1 or "id" not in value:
        raise _REFUSE
    return _LOCATION(value["id"], prefixes)  # type: ignore[no-any-return]


_QUANTITY_KEYS: Final = frozenset({"epcClass", "quantity", "uom"})


def _quantities(value: object, prefixes: dict[str, str]) -> tuple[QuantityFact, ...]:
    if type(value) is not list or not value:
        raise _REFUSE
    out = []
    for item in value:
        if type(item) is not dict or not item.keys() <= _QUANTITY_KEYS:
            raise _REFUSE
        epc_class = item.get("epcClass")
        quantity = item.get("quantity")
        uom = item.get("uom")
        if (
            type(epc_class) is not str
            or ("quantity" in item and type(quantity) is not str)
            or ("uom" in item and type(uom) is not str)
            or _uses_prefix(epc_class, prefixes)
        ):
            raise _REFUSE
        fact = _quantity(epc_class, quantity, uom)
        if fact is None:
            raise _REFUSE
        out.append(fact)
    return tuple(out)


_TRANSACTION_KEYS: Final = frozenset({"type", "bizTransaction"})
_BT_TYPE = _term("bizTransactionType")
_ANY_ID = _identifier("any")


def _transactions(value: object, prefixes: dict[str, str]) -> tuple[BizTransactionFact, ...]:
    if type(value) is not list or not value:
        raise _REFUSE
    out = []
    for item in value:
        if type(item) is not dict or "bizTransaction" not in item:
            raise _REFUSE
        if not item.keys() <= _TRANSACTION_KEYS:
            raise _REFUSE
        kind = _BT_TYPE(item["type"], prefixes) if "type" in item else None
        out.append(BizTransactionFact(kind, _ANY_ID(item["bizTransaction"], prefixes)))
    return tuple(out)


def _sides(key: str) -> _Checker:
    keys = frozenset({"type", key})

    def check(value: object, prefixes: dict[str, str]) -> tuple[SourceDestinationFact, ...]:
        if type(value) is not list or not value:
            raise _REFUSE
        out = []
        for item in value:
            if type(item) is not dict or item.keys() != keys:
                raise _REFUSE
            kind, identifier = item["type"], item[key]
            if (
                type(kind) is not str
                or type(identifier) is not str
                or _uses_prefix(kind, prefixes)
                or _uses_prefix(identifier, prefixes)
            ):
                raise _REFUSE
            fact = _side(kind, identifier)
            if fact is None:
                raise _REFUSE
            out.append(fact)
        return tuple(out)

    return check


_LOCATION = _identifier("location")
_EPC = _identifier("epc")

_COMMON: Final[dict[str, _Checker]] = {
    "type": _type,
    "eventID": _uri,
    "eventTime": _time,
    "recordTime": _time,
    "eventTimeZoneOffset": _offset,
    "bizStep": _term("bizStep"),
    "disposition": _term("disposition"),
    "readPoint": _place,
    "bizLocation": _place,
    "bizTransactionList": _transactions,
    "sourceList": _sides("source"),
    "destinationList": _sides("destination"),
}
#: The standard fields the fast path reads, by event type.
FAST_FIELDS: Final[dict[str, dict[str, _Checker]]] = {
    "ObjectEvent": {
        **_COMMON,
        "action": _action,
        "epcList": _identifiers("epc", unique=True),
        "quantityList": _quantities,
    },
    "AggregationEvent": {
        **_COMMON,
        "action": _action,
        "parentID": _EPC,
        "childEPCs": _identifiers("epc", unique=False),
        "childQuantityList": _quantities,
    },
    "TransactionEvent": {
        **_COMMON,
        "action": _action,
        "parentID": _EPC,
        "epcList": _identifiers("epc", unique=False),
        "quantityList": _quantities,
    },
    "TransformationEvent": {
        **_COMMON,
        "inputEPCList": _identifiers("epc", unique=True),
        "inputQuantityList": _quantities,
        "outputEPCList": _identifiers("epc", unique=True),
        "outputQuantityList": _quantities,
        "transformationID": _ANY_ID,
    },
}
#: Standard fields the fast path leaves to the reference path (any event holding one).
FALLBACK_FIELDS: Final = frozenset(
    {
        "certificationInfo",
        "errorDeclaration",
        "persistentDisposition",
        "sensorElementList",
        "ilmd",
        EXTENSIONS_KEY,
    }
)
_REQUIRED: Final[dict[str, frozenset[str]]] = {
    "ObjectEvent": frozenset({"type", "eventID", "eventTime", "eventTimeZoneOffset", "action"}),
    "AggregationEvent": frozenset(
        {"type", "eventID", "eventTime", "eventTimeZoneOffset", "action"}
    ),
    "TransactionEvent": frozenset(
        {"type", "eventID", "eventTime", "eventTimeZoneOffset", "action", "bizTransactionList"}
    ),
    "TransformationEvent": frozenset({"type", "eventID", "eventTime", "eventTimeZoneOffset"}),
}


# --- extension fields and @context --------------------------------------------------------


def _encodable(text: str) -> bool:
    """False for a string holding a lone surrogate (no canonical encoding exists)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _plain_json(value: object, depth: int) -> bool:
    """True if ``value`` is an extension value the ledger form keeps exactly as it is."""
    if depth > _MAX_EXTENSION_DEPTH:
        return False
    kind = type(value)
    if kind is str:
        return _encodable(value)  # type: ignore[arg-type]
    if value is None or kind is bool:
        return True
    if kind is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER  # type: ignore[operator]
    if kind is list:
        return all(_plain_json(item, depth + 1) for item in value)  # type: ignore[attr-defined]
    if kind is dict:
        return all(
            type(key) is str and _encodable(key) and _plain_json(item, depth + 1)
            for key, item in value.items()  # type: ignore[attr-defined]
        )
    return False


def _context_prefixes(context: object) -> dict[str, str]:
    """The JSON-LD prefixes of an ``@context`` the ledger form keeps as it is."""
    if type(context) is not list or not context:
        raise _REFUSE
    key = []
    for entry in context:
        if type(entry) is not dict or not all(
            type(term) is str and type(value) is str for term, value in entry.items()
        ):
            raise _REFUSE
        key.append(tuple(entry.items()))
    prefixes = _context_entries_prefixes(tuple(key))
    if prefixes is None:
        raise _REFUSE
    return prefixes


@lru_cache(maxsize=256)
def _context_entries_prefixes(
    entries: tuple[tuple[tuple[str, str], ...], ...],
) -> dict[str, str] | None:
    """``_context_prefixes`` of the context whose entries hold ``entries`` (term, value
    pairs): None if the reference path would refuse or rewrite it. Callers must not change
    the dictionary returned."""
    if not all(_encodable(text) for entry in entries for pair in entry for text in pair):
        return None
    context = [dict(entry) for entry in entries]
    errors: list[FieldError] = []
    kept = context_entries(context, "ledger", ("@context",), errors)
    if errors or kept != context:
        return None
    return _prefixes(kept)


# --- the event ----------------------------------------------------------------------------


def fast_facts(form: object) -> EventFacts | None:
    """``event_facts(parse_ledger_event(form))`` for an event the fast path can vouch for,
    else None (see the module docstring). Never raises."""
    try:
        return _facts(form)
    except Exception:  # noqa: BLE001 - the reference path decides, and raises if it must
        return None


def _facts(form: object) -> EventFacts:
    if type(form) is not dict:
        raise _REFUSE
    kind = form.get("type")
    fields = FAST_FIELDS.get(kind) if type(kind) is str else None
    if fields is None or not _REQUIRED[kind].issubset(form.keys()):  # type: ignore[index]
        raise _REFUSE
    prefixes = _context_prefixes(form["@context"]) if "@context" in form else {}
    values: dict[str, Any] = {}
    for key, value in form.items():
        checker = fields.get(key)
        if checker is not None:
            values[key] = checker(value, prefixes)
        elif key == "@context":
            continue
        elif key in FALLBACK_FIELDS or not is_absolute_uri(key) or not _plain_json(value, 0):
            raise _REFUSE
    if _structure_errors(kind, form):  # type: ignore[arg-type]
        raise _REFUSE
    get = values.get
    action = get("action")
    biz_step = get("bizStep")
    if kind == "AggregationEvent":
        epcs, quantities = get("childEPCs", ()), get("childQuantityList", ())
    else:
        epcs, quantities = get("epcList", ()), get("quantityList", ())
    input_epcs: tuple[str, ...] = get("inputEPCList", ())
    output_epcs: tuple[str, ...] = get("outputEPCList", ())
    inputs: tuple[QuantityFact, ...] = get("inputQuantityList", ())
    outputs: tuple[QuantityFact, ...] = get("outputQuantityList", ())
    parent_id: str | None = get("parentID")
    custody = custody_of(kind, biz_step, action, False)  # type: ignore[arg-type]
    quantities_in: tuple[QuantityFact, ...] = ()
    quantities_out: tuple[QuantityFact, ...] = ()
    epcs_in: tuple[str, ...] = ()
    epcs_out: tuple[str, ...] = ()
    if custody is CustodyEffect.ARRIVE:
        quantities_in, epcs_in = quantities, epcs
    elif custody is CustodyEffect.LEAVE:
        quantities_out, epcs_out = quantities, epcs
    elif custody is CustodyEffect.TRANSFORM:
        quantities_in, epcs_in = outputs, output_epcs
        quantities_out, epcs_out = inputs, input_epcs
    named = (parent_id, *epcs, *input_epcs, *output_epcs)
    parent_sscc = ssccs_named((parent_id,))
    return EventFacts(
        event_id=values["eventID"],
        event_type=kind,  # type: ignore[arg-type]
        action=action,
        event_time=values["eventTime"],
        event_time_zone_offset=values["eventTimeZoneOffset"],
        record_time=get("recordTime"),
        biz_step=biz_step,
        disposition=get("disposition"),
        custody=custody,
        quantities_in=quantities_in,
        quantities_out=quantities_out,
        epcs_in=epcs_in,
        epcs_out=epcs_out,
        epcs=epcs,
        quantities=quantities,
        input_epcs=input_epcs,
        input_quantities=inputs,
        output_epcs=output_epcs,
        output_quantities=outputs,
        parent_id=parent_id,
        parent_sscc=parent_sscc[0] if parent_sscc else None,
        ssccs=ssccs_named(named),
        transformation_id=get("transformationID"),
        read_point=get("readPoint"),
        biz_location=get("bizLocation"),
        sources=get("sourceList", ()),
        destinations=get("destinationList", ()),
        biz_transactions=get("bizTransactionList", ()),
        error_declaration=None,
        sensor_readings=(),
        certification_info=(),
        persistent_disposition_set=(),
        persistent_disposition_unset=(),
    )

"""EPCIS 2.0 events: the validated model, the ledger form and the EPCIS form.

A ``trace.event`` statement carries one EPCIS 2.0 event (DESIGN §3).  The same event exists
in two JSON forms:

* the **EPCIS form**: EPCIS 2.0 JSON/JSON-LD as GS1's JSON binding defines it, numeric
  ``quantity`` and sensor values, any identifier syntax, an ``@context`` naming the standard
  context;
* the **ledger form**: what is signed and hashed.  Identifiers are in the one normal form
  (``ledger.trace.identifiers``), vocabulary values are bare CBV 2.0 names or expanded user
  URIs (``ledger.trace.cbv``), quantities and sensor values are canonical decimal strings
  (DESIGN §2: no floats), ``@context`` holds only the non-standard entries (and is left out
  when there are none), and a non-integer number inside an extension is written as the
  JSON-LD value object ``{"@value": "12.5", "@type": "http://www.w3.org/2001/XMLSchema#decimal"}``.

``to_ledger_form`` and ``to_epcis_form`` convert between them through frozen pydantic models
that are valid by construction.  Validation mirrors the official EPCIS 2.0 JSON schema and
adds the ledger's own rules: ``eventID`` is required; GS1 identifiers must be valid (check
digits, lengths, characters); non-standard bizStep and disposition values must be URIs with
an authority (or URNs); quantities are positive; units are UN/ECE Rec 20 shaped codes;
extended (non-standard) event types are refused.  The one deliberate leniency: CBV URNs
such as ``urn:epcglobal:cbv:bizstep:shipping``, which the JSON schema refuses, are accepted
and normalised, so what the ledger emits is always schema-valid.

Extension fields (namespaced keys such as ``"example:myField"``) are kept as given, apart
from the number rule above; identifiers inside them are not normalised.

Every problem is collected with the JSON path of its field
(``epcisBody.eventList[2].quantityList[0].quantity``) and raised together as
:class:`~ledger.trace.errors.MalformedEventError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Final, Literal, TypeAlias

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ledger.canonical import JSONValue, canonical_bytes
from ledger.errors import CanonicalizationError
from ledger.trace import cbv
from ledger.trace._fields import (
    EXTENSIONS_KEY,
    NULL,
    AnyId,
    BizStep,
    BizTransactionType,
    CertificationInfo,
    Component,
    ContextEntries,
    Disposition,
    Epc,
    EpcClass,
    ErrorReason,
    ExtensibleModel,
    Form,
    HexBinary,
    Ilmd,
    LocationId,
    Measure,
    MeasurementType,
    Quantity,
    SensorAlertType,
    SourceDestinationType,
    StrictBool,
    StrictModel,
    String,
    Time,
    TzOffset,
    UniqueEpcs,
    Uom,
    Uri,
    check_uri,
    convert_extension,
    describe,
    form_and_prefixes,
    problem,
    restore_extension,
    unique,
)
from ledger.trace._syntax import PathPart, is_absolute_uri, json_path, parse_date_time
from ledger.trace.errors import FieldError, MalformedEventError, MalformedIdentifierError
from ledger.trace.identifiers import (
    normalize_identifier,
    normalize_location,
    normalize_party,
)

__all__ = [
    "EVENT_TYPES",
    "STANDARD_CONTEXT",
    "STANDARD_CONTEXT_URLS",
    "AggregationEvent",
    "AssociationEvent",
    "BizTransaction",
    "Destination",
    "EpcisEvent",
    "ErrorDeclaration",
    "ObjectEvent",
    "PersistentDisposition",
    "Place",
    "QuantityElement",
    "SensorElement",
    "SensorMetadata",
    "SensorReport",
    "Source",
    "TransactionEvent",
    "TransformationEvent",
    "error_declaration_mismatches",
    "parse_event",
    "parse_ledger_event",
    "to_epcis_form",
    "to_ledger_form",
]

#: The EPCIS 2.0 JSON-LD context every exported document and event names (JSON binding).
STANDARD_CONTEXT: Final = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
#: URLs of the same standard context, dropped from the ledger form's ``@context``.
STANDARD_CONTEXT_URLS: Final = frozenset(
    {
        STANDARD_CONTEXT,
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        "https://gs1.github.io/EPCIS/epcis-context.jsonld",
    }
)
#: The event types this ledger records (EPCIS 2.0 §7.4); AssociationEvent is import-only.
EVENT_TYPES: Final = (
    "ObjectEvent",
    "AggregationEvent",
    "TransformationEvent",
    "TransactionEvent",
    "AssociationEvent",
)

Action: TypeAlias = Literal["ADD", "OBSERVE", "DELETE"]

#: Stands for a missing ``@context`` (an explicit JSON null is refused, as by the schema).
ABSENT: Final = object()
#: JSON-LD 1.1 §4.1.5: a term whose IRI ends in one of these can serve as a prefix.
_GEN_DELIMS: Final = (":", "/", "?", "#", "[", "]", "@")


class QuantityElement(StrictModel):
    """EPCIS 2.0 §7.3 QuantityElement: a quantity of a class (lot or GTIN), optional unit."""

    epc_class: EpcClass = Field(alias="epcClass")
    quantity: Quantity | None = None
    uom: Uom | None = None


class BizTransaction(StrictModel):
    """EPCIS 2.0 §7.3 BusinessTransaction: a purchase order, despatch advice, invoice..."""

    type: BizTransactionType | None = None
    biz_transaction: AnyId = Field(alias="bizTransaction")


def _source_destination_id(value: object, info: ValidationInfo) -> str:
    """CBV 2.0 §7.4: parties become PGLN Digital Links, locations SGLN ones."""
    text = check_uri(value)
    _, prefixes = form_and_prefixes(info)
    kind = info.data.get("type")
    if kind in ("owning_party", "possessing_party"):
        normalize = normalize_party
    elif kind == "location":
        normalize = normalize_location
    else:  # a user-defined type, or a type that failed validation
        normalize = normalize_identifier
    try:
        return normalize(cbv.expand_compact_iri(text, prefixes))
    except MalformedIdentifierError as exc:
        raise problem(exc.message) from exc


class Source(StrictModel):
    """EPCIS 2.0 §7.3 (source and destination): where the objects come from (party or location)."""

    type: SourceDestinationType
    source: str

    @field_validator("source", mode="plain")
    @classmethod
    def _normalize(cls, value: object, info: ValidationInfo) -> str:
        return _source_destination_id(value, info)


class Destination(StrictModel):
    """EPCIS 2.0 §7.3 (source and destination): where the objects go (party or location)."""

    type: SourceDestinationType
    destination: str

    @field_validator("destination", mode="plain")
    @classmethod
    def _normalize(cls, value: object, info: ValidationInfo) -> str:
        return _source_destination_id(value, info)


class Place(ExtensibleModel):
    """EPCIS 2.0 §7.3: a ``readPoint`` or ``bizLocation`` (normally an SGLN)."""

    id: LocationId


class PersistentDisposition(StrictModel):
    """EPCIS 2.0 §7.3 (persistentDisposition): dispositions set or unset until changed."""

    set_: tuple[Disposition, ...] | None = Field(None, alias="set")
    unset: tuple[Disposition, ...] | None = None

    @field_validator("set_", "unset", mode="after")
    @classmethod
    def _non_empty_unique(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise problem("must list at least one disposition")
        return unique(value)

    @model_validator(mode="after")
    def _one_of(self) -> PersistentDisposition:
        if self.set_ is None and self.unset is None:
            raise problem("persistentDisposition needs 'set' or 'unset'")
        return self


class ErrorDeclaration(ExtensibleModel):
    """EPCIS 2.0 §7.4 (ErrorDeclaration): declares the event carrying it (same eventID) erroneous.

    An error declaration repeats the erroneous event with this element added; its
    ``correctiveEventIDs`` name the events that replace it.
    """

    declaration_time: Time = Field(alias="declarationTime")
    reason: ErrorReason | None = None
    corrective_event_ids: tuple[Uri, ...] | None = Field(None, alias="correctiveEventIDs")


class SensorMetadata(ExtensibleModel):
    """EPCIS 2.0 §7.3 sensorMetadata: the device and period of a group of sensor reports."""

    time: Time | None = None
    device_id: Uri | None = Field(None, alias="deviceID")
    device_metadata: Uri | None = Field(None, alias="deviceMetadata")
    raw_data: Uri | None = Field(None, alias="rawData")
    start_time: Time | None = Field(None, alias="startTime")
    end_time: Time | None = Field(None, alias="endTime")
    data_processing_method: Uri | None = Field(None, alias="dataProcessingMethod")
    biz_rules: Uri | None = Field(None, alias="bizRules")


class SensorReport(ExtensibleModel):
    """EPCIS 2.0 §7.3 (sensorReport): one measurement (e.g. a temperature) or alert."""

    type: MeasurementType
    exception: SensorAlertType | None = None
    device_id: Uri | None = Field(None, alias="deviceID")
    device_metadata: Uri | None = Field(None, alias="deviceMetadata")
    raw_data: Uri | None = Field(None, alias="rawData")
    data_processing_method: Uri | None = Field(None, alias="dataProcessingMethod")
    biz_rules: Uri | None = Field(None, alias="bizRules")
    time: Time | None = None
    microorganism: Uri | None = None
    chemical_substance: Uri | None = Field(None, alias="chemicalSubstance")
    coordinate_reference_system: Uri | None = Field(None, alias="coordinateReferenceSystem")
    value: Measure | None = None
    component: Component | None = None
    string_value: String | None = Field(None, alias="stringValue")
    boolean_value: StrictBool | None = Field(None, alias="booleanValue")
    hex_binary_value: HexBinary | None = Field(None, alias="hexBinaryValue")
    uri_value: Uri | None = Field(None, alias="uriValue")
    min_value: Measure | None = Field(None, alias="minValue")
    max_value: Measure | None = Field(None, alias="maxValue")
    mean_value: Measure | None = Field(None, alias="meanValue")
    s_dev: Measure | None = Field(None, alias="sDev")
    perc_rank: Measure | None = Field(None, alias="percRank")
    perc_value: Measure | None = Field(None, alias="percValue")
    uom: Uom | None = None


class SensorElement(ExtensibleModel):
    """EPCIS 2.0 §7.3 (sensor data): sensor reports (at least one) with their metadata."""

    sensor_metadata: SensorMetadata | None = Field(None, alias="sensorMetadata")
    sensor_report: tuple[SensorReport, ...] = Field(alias="sensorReport")

    @field_validator("sensor_report", mode="after")
    @classmethod
    def _non_empty(cls, value: tuple[SensorReport, ...]) -> tuple[SensorReport, ...]:
        if not value:
            raise problem("sensorReport must hold at least one report")
        return value


class EpcisEvent(ExtensibleModel):
    """Fields common to every EPCIS 2.0 event (EPCIS 2.0 §7.4, EPCISEvent), plus the two forms.

    Instances are frozen and valid by construction; build them with ``parse_event``,
    ``parse_ledger_event`` or ``parse_epcis_document``.
    """

    event_type: ClassVar[str] = ""

    context: ContextEntries | None = Field(None, alias="@context")
    type: str
    event_id: Uri = Field(alias="eventID")
    event_time: Time = Field(alias="eventTime")
    record_time: Time | None = Field(None, alias="recordTime")
    event_time_zone_offset: TzOffset = Field(alias="eventTimeZoneOffset")
    certification_info: CertificationInfo | None = Field(None, alias="certificationInfo")
    error_declaration: ErrorDeclaration | None = Field(None, alias="errorDeclaration")

    @property
    def event_time_utc(self) -> datetime:
        """``eventTime`` as an aware UTC datetime."""
        return parse_date_time(self.event_time)

    def ledger_form(self) -> dict[str, JSONValue]:
        """The form that is signed and hashed (see the module docstring)."""
        data = self.model_dump(by_alias=True, context={"form": "ledger"})
        result: dict[str, JSONValue] = _plain(data)
        return result

    def epcis_form(self) -> dict[str, Any]:
        """Standalone EPCIS 2.0 JSON-LD event: numeric quantities (``int`` or ``Decimal``),
        ``@context`` naming the standard context. Valid against the official schema."""
        data = _plain(self.model_dump(by_alias=True, context={"form": "epcis"}))
        assert isinstance(data, dict)
        entries = [restore_extension(entry) for entry in self.context or ()]
        data.pop("@context", None)
        return {"@context": [STANDARD_CONTEXT, *entries], **data}


def _plain(value: Any) -> Any:
    """Tuples (from frozen models) become lists, so the result is plain JSON data."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


class ObjectEvent(EpcisEvent):
    """EPCIS 2.0 §7.4: objects observed, created (ADD) or ceasing to exist (DELETE)."""

    event_type: ClassVar[str] = "ObjectEvent"

    type: Literal["ObjectEvent"]
    epc_list: UniqueEpcs | None = Field(None, alias="epcList")
    quantity_list: tuple[QuantityElement, ...] | None = Field(None, alias="quantityList")
    action: Action
    biz_step: BizStep | None = Field(None, alias="bizStep")
    disposition: Disposition | None = None
    persistent_disposition: PersistentDisposition | None = Field(
        None, alias="persistentDisposition"
    )
    read_point: Place | None = Field(None, alias="readPoint")
    biz_location: Place | None = Field(None, alias="bizLocation")
    biz_transaction_list: tuple[BizTransaction, ...] | None = Field(
        None, alias="bizTransactionList"
    )
    source_list: tuple[Source, ...] | None = Field(None, alias="sourceList")
    destination_list: tuple[Destination, ...] | None = Field(None, alias="destinationList")
    sensor_element_list: tuple[SensorElement, ...] | None = Field(None, alias="sensorElementList")
    ilmd: Ilmd | None = None


class AggregationEvent(EpcisEvent):
    """EPCIS 2.0 §7.4: children packed into (ADD) or unpacked from (DELETE) a parent,
    typically trade items or lots on an SSCC pallet."""

    event_type: ClassVar[str] = "AggregationEvent"

    type: Literal["AggregationEvent"]
    parent_id: Epc | None = Field(None, alias="parentID")
    child_epcs: tuple[Epc, ...] | None = Field(None, alias="childEPCs")
    child_quantity_list: tuple[QuantityElement, ...] | None = Field(None, alias="childQuantityList")
    action: Action
    biz_step: BizStep | None = Field(None, alias="bizStep")
    disposition: Disposition | None = None
    read_point: Place | None = Field(None, alias="readPoint")
    biz_location: Place | None = Field(None, alias="bizLocation")
    biz_transaction_list: tuple[BizTransaction, ...] | None = Field(
        None, alias="bizTransactionList"
    )
    source_list: tuple[Source, ...] | None = Field(None, alias="sourceList")
    destination_list: tuple[Destination, ...] | None = Field(None, alias="destinationList")
    sensor_element_list: tuple[SensorElement, ...] | None = Field(None, alias="sensorElementList")


class TransactionEvent(EpcisEvent):
    """EPCIS 2.0 §7.4: objects linked to (ADD) or unlinked from (DELETE) business
    transactions such as a purchase order or an invoice."""

    event_type: ClassVar[str] = "TransactionEvent"

    type: Literal["TransactionEvent"]
    biz_transaction_list: tuple[BizTransaction, ...] = Field(alias="bizTransactionList")
    parent_id: Epc | None = Field(None, alias="parentID")
    epc_list: tuple[Epc, ...] | None = Field(None, alias="epcList")
    quantity_list: tuple[QuantityElement, ...] | None = Field(None, alias="quantityList")
    action: Action
    biz_step: BizStep | None = Field(None, alias="bizStep")
    disposition: Disposition | None = None
    read_point: Place | None = Field(None, alias="readPoint")
    biz_location: Place | None = Field(None, alias="bizLocation")
    source_list: tuple[Source, ...] | None = Field(None, alias="sourceList")
    destination_list: tuple[Destination, ...] | None = Field(None, alias="destinationList")
    sensor_element_list: tuple[SensorElement, ...] | None = Field(None, alias="sensorElementList")

    @field_validator("biz_transaction_list", mode="after")
    @classmethod
    def _non_empty(cls, value: tuple[BizTransaction, ...]) -> tuple[BizTransaction, ...]:
        if not value:
            raise problem("a TransactionEvent names at least one business transaction")
        return value


class TransformationEvent(EpcisEvent):
    """EPCIS 2.0 §7.4: inputs consumed and outputs produced (wheat → flour)."""

    event_type: ClassVar[str] = "TransformationEvent"

    type: Literal["TransformationEvent"]
    input_epc_list: UniqueEpcs | None = Field(None, alias="inputEPCList")
    input_quantity_list: tuple[QuantityElement, ...] | None = Field(None, alias="inputQuantityList")
    output_epc_list: UniqueEpcs | None = Field(None, alias="outputEPCList")
    output_quantity_list: tuple[QuantityElement, ...] | None = Field(
        None, alias="outputQuantityList"
    )
    transformation_id: AnyId | None = Field(None, alias="transformationID")
    biz_step: BizStep | None = Field(None, alias="bizStep")
    disposition: Disposition | None = None
    persistent_disposition: PersistentDisposition | None = Field(
        None, alias="persistentDisposition"
    )
    read_point: Place | None = Field(None, alias="readPoint")
    biz_location: Place | None = Field(None, alias="bizLocation")
    biz_transaction_list: tuple[BizTransaction, ...] | None = Field(
        None, alias="bizTransactionList"
    )
    source_list: tuple[Source, ...] | None = Field(None, alias="sourceList")
    destination_list: tuple[Destination, ...] | None = Field(None, alias="destinationList")
    sensor_element_list: tuple[SensorElement, ...] | None = Field(None, alias="sensorElementList")
    ilmd: Ilmd | None = None


class AssociationEvent(EpcisEvent):
    """EPCIS 2.0 §7.4: children associated with a parent (e.g. a sensor with an asset).

    Accepted for import; it never affects custody or mass balance.
    """

    event_type: ClassVar[str] = "AssociationEvent"

    type: Literal["AssociationEvent"]
    parent_id: Epc = Field(alias="parentID")
    child_epcs: tuple[Epc, ...] | None = Field(None, alias="childEPCs")
    child_quantity_list: tuple[QuantityElement, ...] | None = Field(None, alias="childQuantityList")
    action: Action
    biz_step: BizStep | None = Field(None, alias="bizStep")
    disposition: Disposition | None = None
    read_point: Place | None = Field(None, alias="readPoint")
    biz_location: Place | None = Field(None, alias="bizLocation")
    biz_transaction_list: tuple[BizTransaction, ...] | None = Field(
        None, alias="bizTransactionList"
    )
    source_list: tuple[Source, ...] | None = Field(None, alias="sourceList")
    destination_list: tuple[Destination, ...] | None = Field(None, alias="destinationList")
    sensor_element_list: tuple[SensorElement, ...] | None = Field(None, alias="sensorElementList")


_MODELS: Final[dict[str, type[EpcisEvent]]] = {
    model.event_type: model
    for model in (
        ObjectEvent,
        AggregationEvent,
        TransformationEvent,
        TransactionEvent,
        AssociationEvent,
    )
}


# --- errors -------------------------------------------------------------------------------


def _field_errors(exc: ValidationError, base: tuple[PathPart, ...]) -> list[FieldError]:
    """Turn pydantic's errors into (JSON path, message) pairs using the EPCIS field names."""
    out = []
    for error in exc.errors(include_url=False):
        location: list[PathPart] = [part for part in error["loc"] if part != EXTENSIONS_KEY]
        context = error.get("ctx") or {}
        location.extend(context.get("subpath", ()))
        kind = error["type"]
        if error.get("input") is NULL:
            message = "null is not allowed here; leave the field out instead"
        elif kind == "ledger":
            message = str(context["message"])
        elif kind == "missing":
            field = location[-1] if location else ""
            message = (
                "required: this ledger records only events with an eventID (a URI such as "
                "'urn:uuid:...'), although EPCIS makes it optional"
                if field == "eventID"
                else "required field is missing"
            )
        elif kind == "extra_forbidden":
            field = location[-1] if location else ""
            message = (
                f"{field!r} is not a standard field here; extension fields must be "
                f"namespaced, e.g. 'example:{field}'"
            )
        elif kind in ("model_type", "dict_type", "model_attributes_type"):
            message = f"must be a JSON object, got {describe(error.get('input'))}"
        elif kind in ("tuple_type", "list_type"):
            message = f"must be a JSON array, got {describe(error.get('input'))}"
        elif kind == "literal_error":
            message = f"must be one of {context.get('expected', '')}"
        else:
            message = error["msg"]
        out.append(FieldError(json_path((*base, *location)), message))
    return out


# --- events -------------------------------------------------------------------------------


def context_entries(
    raw: object, form: Form, path: tuple[PathPart, ...], errors: list[FieldError]
) -> list[JSONValue]:
    """The non-standard entries of an ``@context`` (a URL, an object or an array of them);
    ``ABSENT`` when there is none (an explicit null is an error)."""
    if raw is ABSENT:
        return []
    items = raw if isinstance(raw, list) else [raw]
    entries: list[JSONValue] = []
    for index, item in enumerate(items):
        where = (*path, index) if isinstance(raw, list) else path
        if isinstance(item, str):
            if not is_absolute_uri(item):
                errors.append(FieldError(json_path(where), f"{item!r} is not a context URL"))
            elif item not in STANDARD_CONTEXT_URLS:
                entries.append(item)
        elif isinstance(item, dict):
            try:
                entries.append(convert_extension(item, form))
            except PydanticCustomError as exc:
                context = exc.context or {}
                sub = tuple(context.get("subpath", ()))
                errors.append(FieldError(json_path((*where, *sub)), str(context.get("message"))))
        else:
            errors.append(
                FieldError(json_path(where), f"must be a URL or an object, got {describe(item)}")
            )
    if isinstance(raw, list) and len({canonical_bytes(e) for e in entries}) != len(entries):
        errors.append(FieldError(json_path(path), "@context lists the same entry twice"))
    return entries


def merge_context_entries(*groups: list[JSONValue]) -> list[JSONValue]:
    seen: set[bytes] = set()
    merged: list[JSONValue] = []
    for group in groups:
        for entry in group:
            key = canonical_bytes(entry)
            if key not in seen:
                seen.add(key)
                merged.append(entry)
    return merged


def _prefixes(entries: Iterable[JSONValue]) -> dict[str, str]:
    """JSON-LD 1.1 §4.1.5: terms usable as prefixes (IRI ending in a gen-delim, or
    ``"@prefix": true``), later definitions overriding earlier ones."""
    prefixes: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        for term, definition in entry.items():
            if term.startswith("@") or ":" in term:
                continue
            if isinstance(definition, str) and definition.endswith(_GEN_DELIMS):
                prefixes[term] = definition
            elif (
                isinstance(definition, dict)
                and isinstance(definition.get("@id"), str)
                and definition.get("@prefix") is True
            ):
                prefixes[term] = str(definition["@id"])
    return prefixes


def _structure_errors(
    kind: str, raw: Mapping[str, object]
) -> list[tuple[tuple[PathPart, ...], str]]:
    """The EPCIS 2.0 rules that tie fields together (the schema's ``anyOf`` clauses)."""

    def present(key: str) -> bool:
        return raw.get(key) is not None

    def non_empty(key: str) -> bool:
        value = raw.get(key)
        return isinstance(value, list) and len(value) > 0

    action = raw.get("action")
    problems: list[tuple[tuple[PathPart, ...], str]] = []
    if kind == "ObjectEvent":
        if not (
            present("epcList")
            or non_empty("quantityList")
            or (non_empty("sensorElementList") and present("readPoint"))
        ):
            problems.append(
                (
                    (),
                    "an ObjectEvent needs epcList, a non-empty quantityList, or "
                    "sensorElementList with readPoint",
                )
            )
        if present("ilmd") and action != "ADD":
            problems.append(
                (("ilmd",), "ilmd (instance/lot master data) is only allowed when action is ADD")
            )
    elif kind in ("AggregationEvent", "AssociationEvent"):
        if not (non_empty("childEPCs") or non_empty("childQuantityList") or action == "DELETE"):
            problems.append(
                (
                    (),
                    f"an {kind} needs a non-empty childEPCs or childQuantityList "
                    "unless action is DELETE",
                )
            )
        if kind == "AggregationEvent" and action in ("ADD", "DELETE") and not present("parentID"):
            problems.append((("parentID",), "parentID is required when action is ADD or DELETE"))
    elif kind == "TransactionEvent":
        if not (present("epcList") or non_empty("quantityList") or action == "DELETE"):
            problems.append(
                (
                    (),
                    "a TransactionEvent needs epcList or a non-empty quantityList "
                    "unless action is DELETE",
                )
            )
    elif kind == "TransformationEvent":
        inputs = non_empty("inputEPCList") or non_empty("inputQuantityList")
        outputs = non_empty("outputEPCList") or non_empty("outputQuantityList")
        if not ((inputs and outputs) or ((inputs or outputs) and present("transformationID"))):
            problems.append(
                (
                    (),
                    "a TransformationEvent needs inputs and outputs, or one of them and a "
                    "transformationID",
                )
            )
    return problems


def validate_event(
    data: object,
    *,
    form: Form,
    document_context: list[JSONValue],
    path: tuple[PathPart, ...],
    errors: list[FieldError],
    placeholder_event_id: str | None = None,
) -> EpcisEvent | None:
    """Validate one event, appending every problem to ``errors``; None if there were any."""
    start = len(errors)
    if not isinstance(data, dict):
        errors.append(
            FieldError(json_path(path), f"an event is a JSON object, got {describe(data)}")
        )
        return None
    kind = data.get("type")
    model = _MODELS.get(kind) if isinstance(kind, str) else None
    if model is None or not isinstance(kind, str):
        shown = "missing" if kind is None else repr(kind)
        errors.append(
            FieldError(
                json_path((*path, "type")),
                f"event type {shown} is not one of {', '.join(EVENT_TYPES)}",
            )
        )
        return None
    raw = dict(data)
    own = context_entries(raw.get("@context", ABSENT), form, (*path, "@context"), errors)
    entries = merge_context_entries(document_context, own)
    if entries:
        raw["@context"] = entries
    else:
        raw.pop("@context", None)
    if placeholder_event_id is not None and "eventID" not in raw:
        raw["eventID"] = placeholder_event_id
    for where, message in _structure_errors(kind, raw):
        errors.append(FieldError(json_path((*path, *where)), message))
    try:
        event = model.model_validate(raw, context={"form": form, "prefixes": _prefixes(entries)})
    except ValidationError as exc:
        errors.extend(_field_errors(exc, path))
        return None
    return event if len(errors) == start else None


def _as_dict(data: object) -> object:
    return dict(data) if isinstance(data, Mapping) else data


def parse_event(data: Mapping[str, object], *, context: object = None) -> EpcisEvent:
    """Validate one event in the EPCIS form and return its model (normalised).

    ``context`` is the enclosing document's ``@context``, if any; the event's own ``@context``
    is optional here.  Raises ``MalformedEventError`` listing every problem by JSON path.
    """
    errors: list[FieldError] = []
    document_context = context_entries(
        ABSENT if context is None else context, "epcis", ("@context",), errors
    )
    event = validate_event(
        _as_dict(data), form="epcis", document_context=document_context, path=(), errors=errors
    )
    if errors or event is None:
        raise MalformedEventError(errors or [FieldError("", "invalid event")])
    return event


def _differences(
    expected: object,
    observed: object,
    path: tuple[PathPart, ...],
    label: str = "not in ledger normal form; expected",
) -> list[FieldError]:
    if isinstance(expected, dict) and isinstance(observed, dict):
        found = []
        for key in expected.keys() | observed.keys():
            if key not in observed:
                found.append(FieldError(json_path((*path, key)), "missing from the ledger form"))
            elif key not in expected:
                found.append(FieldError(json_path((*path, key)), "not part of the ledger form"))
            else:
                found.extend(_differences(expected[key], observed[key], (*path, key), label))
        return sorted(found)
    if isinstance(expected, list) and isinstance(observed, list) and len(expected) == len(observed):
        found = []
        for index, (left, right) in enumerate(zip(expected, observed, strict=True)):
            found.extend(_differences(left, right, (*path, index), label))
        return found
    if expected == observed and type(expected) is type(observed):
        return []
    shown = json.dumps(expected, ensure_ascii=False)
    if len(shown) > 120:
        shown = shown[:117] + "..."
    return [FieldError(json_path(path), f"{label} {shown}")]


def _jcs_or_none(value: object) -> bytes | None:
    try:
        return canonical_bytes(value)
    except CanonicalizationError:
        return None


def parse_ledger_event(
    data: Mapping[str, object], *, require_normal_form: bool = True
) -> EpcisEvent:
    """Validate an event in the ledger form (the body of a ``trace.event`` statement).

    Numbers must be canonical decimal strings.  With ``require_normal_form`` (the default,
    for anything about to be signed or stored) the input must equal its own ledger form —
    identifiers, vocabulary and ``@context`` already normalised — and each deviation is
    reported with the expected value.  Raises ``MalformedEventError``.
    """
    errors: list[FieldError] = []
    raw = _as_dict(data)
    event = validate_event(raw, form="ledger", document_context=[], path=(), errors=errors)
    if event is not None and require_normal_form:
        expected = event.ledger_form()
        # JCS bytes tell true from 1 and 1 from 1.0, which == does not; walk only on mismatch.
        if not isinstance(raw, dict) or _jcs_or_none(raw) != canonical_bytes(expected):
            errors.extend(_differences(expected, raw, ()))
    if errors or event is None:
        raise MalformedEventError(errors or [FieldError("", "invalid event")])
    return event


def to_ledger_form(
    event_json: Mapping[str, object], *, context: object = None
) -> dict[str, JSONValue]:
    """EPCIS form → ledger form (normalised identifiers, decimal strings, bare CBV names).

    Raises ``MalformedEventError`` listing every problem.
    """
    return parse_event(event_json, context=context).ledger_form()


def to_epcis_form(ledger_event: Mapping[str, object]) -> dict[str, Any]:
    """Ledger form → standalone EPCIS 2.0 event, valid against the official schema, with
    numeric quantities (``int``, or ``Decimal`` when fractional: serialise it with
    ``dumps_epcis``). Raises ``MalformedEventError``."""
    return parse_ledger_event(ledger_event, require_normal_form=False).epcis_form()


def error_declaration_mismatches(declaration: EpcisEvent, original: EpcisEvent) -> list[FieldError]:
    """How an error declaration differs from the event it declares erroneous.

    EPCIS 2.0 §7.4 (ErrorDeclaration): the declaration repeats the erroneous event (same
    ``eventID``) with an ``errorDeclaration`` added.  Compares the ledger forms without
    ``errorDeclaration`` and ``recordTime``; an empty list means the declaration matches.
    """
    if declaration.error_declaration is None:
        return [FieldError("errorDeclaration", "the event declares no error")]
    left = declaration.ledger_form()
    right = original.ledger_form()
    for form in (left, right):
        form.pop("errorDeclaration", None)
        form.pop("recordTime", None)
    return _differences(right, left, (), "differs from the declared event, which has")

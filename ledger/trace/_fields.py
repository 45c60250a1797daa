"""Field types and base models shared by the EPCIS models (private to ``ledger.trace``).

Each EPCIS field type is an ``Annotated`` type with a plain validator that mirrors the
EPCIS 2.0 JSON schema and adds the ledger's rules, and, for numbers and extensions, a
serializer that writes either form.  The validation *context* passed to pydantic selects the
form (``"epcis"`` or ``"ledger"``) and carries the JSON-LD prefixes in scope.

Validators raise ``problem(...)``: a pydantic error whose message is used verbatim and whose
``subpath`` extends the JSON path, so that every error names its field exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Final, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ledger.canonical import MAX_SAFE_INTEGER, JSONValue
from ledger.trace import cbv
from ledger.trace._syntax import (
    PathPart,
    canonical_decimal,
    is_absolute_uri,
    parse_canonical_decimal,
    parse_date_time,
    uri_problem,
)
from ledger.trace.errors import MalformedIdentifierError, MalformedVocabularyError
from ledger.trace.identifiers import (
    normalize_epc,
    normalize_epc_class,
    normalize_identifier,
    normalize_location,
)

#: ``@type`` of the value object holding a non-integer number of an extension field.
XSD_DECIMAL: Final = "http://www.w3.org/2001/XMLSchema#decimal"
#: Key under which a model keeps namespaced extension fields.  It is itself namespaced, so a
#: user field of the same name is an extension like any other and can never collide.
EXTENSIONS_KEY: Final = "fairledger:extensions"

Form: TypeAlias = Literal["epcis", "ledger"]

_MAX_EXTENSION_DEPTH: Final = 24
_UOM = re.compile(r"[A-Z0-9]{2,3}", re.ASCII)
_TZ_OFFSET = re.compile(r"[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00)", re.ASCII)
_HEX = re.compile(r"[A-Fa-f0-9]+", re.ASCII)
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", re.ASCII)


class _Null:
    """Stands for an explicit JSON ``null`` in a standard field (the schema allows none)."""

    def __repr__(self) -> str:
        return "null"


NULL: Final = _Null()


# --- validation helpers -------------------------------------------------------------------


def problem(message: str, *subpath: PathPart) -> PydanticCustomError:
    """A validation error whose message is used verbatim; ``subpath`` extends the location."""
    return PydanticCustomError("ledger", "{message}", {"message": message, "subpath": subpath})


def form_and_prefixes(info: ValidationInfo | SerializationInfo) -> tuple[Form, Mapping[str, str]]:
    ctx = info.context if isinstance(info.context, dict) else {}
    form: Form = "ledger" if ctx.get("form") == "ledger" else "epcis"
    prefixes = ctx.get("prefixes")
    return form, prefixes if isinstance(prefixes, Mapping) else {}


def describe(value: object) -> str:
    if value is NULL or value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _require_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise problem(f"{what} must be a string, got {describe(value)}")
    return value


def check_uri(value: object) -> str:
    text = _require_str(value, "a URI")
    if not is_absolute_uri(text):
        raise problem(f"{text!r} is not an absolute URI: {uri_problem(text)}")
    return text


def check_date_time(value: object) -> str:
    text = _require_str(value, "a date-time")
    try:
        parse_date_time(text)
    except ValueError as exc:
        raise problem(str(exc)) from exc
    return text


def _v_tz_offset(value: object) -> str:
    text = _require_str(value, "eventTimeZoneOffset")
    if not _TZ_OFFSET.fullmatch(text):
        raise problem(f"{text!r} is not a time-zone offset from -14:00 to +14:00 such as '+01:00'")
    return text


def _identifier(normalize: Any) -> Any:
    def validate(value: object, info: ValidationInfo) -> str:
        text = check_uri(value)
        _, prefixes = form_and_prefixes(info)
        try:
            result: str = normalize(cbv.expand_compact_iri(text, prefixes))
        except MalformedIdentifierError as exc:
            raise problem(exc.message) from exc
        return result

    return validate


def _vocabulary(vocabulary: cbv.Vocabulary) -> Any:
    def validate(value: object, info: ValidationInfo) -> str:
        _, prefixes = form_and_prefixes(info)
        try:
            return vocabulary.normalize(value, prefixes)
        except MalformedVocabularyError as exc:
            raise problem(exc.message) from exc

    return validate


def _decimal(value: object, info: ValidationInfo, *, positive: bool) -> Decimal:
    """EPCIS form: a JSON number; ledger form: a canonical decimal string (DESIGN §2)."""
    form, _ = form_and_prefixes(info)
    if form == "ledger":
        if not isinstance(value, str):
            raise problem(
                f"the ledger form writes numbers as decimal strings such as '12.5', "
                f"got {describe(value)}"
            )
        try:
            number = parse_canonical_decimal(value)
        except ValueError as exc:
            raise problem(str(exc)) from exc
    else:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise problem(f"must be a JSON number, got {describe(value)}")
        # A float only arrives from a JSON parser without parse_float=Decimal; its shortest
        # repr is the literal it was parsed from. load_epcis_json never produces floats.
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite():
            raise problem("must be a finite number")
        try:
            canonical_decimal(number)
        except ValueError as exc:
            raise problem(str(exc)) from exc
    if positive and number <= 0:
        raise problem(f"a quantity must be greater than zero, got {canonical_decimal(number)}")
    return number


def _v_quantity(value: object, info: ValidationInfo) -> Decimal:
    return _decimal(value, info, positive=True)


def _v_measure(value: object, info: ValidationInfo) -> Decimal:
    return _decimal(value, info, positive=False)


def _s_decimal(value: Decimal, info: SerializationInfo) -> object:
    form, _ = form_and_prefixes(info)
    if form == "ledger":
        return canonical_decimal(value)
    return int(value) if value == value.to_integral_value() else value


def _v_uom(value: object) -> str:
    # EPCIS 2.0 §7.3 (QuantityElement): a UN/ECE Recommendation 20 unit code such as KGM, EA, LTR.
    text = _require_str(value, "uom")
    if not _UOM.fullmatch(text):
        raise problem(f"{text!r} is not a UN/ECE Rec 20 unit code (2-3 of A-Z, 0-9, e.g. 'KGM')")
    return text


def _v_hex(value: object) -> str:
    text = _require_str(value, "hexBinaryValue")
    if not _HEX.fullmatch(text):
        raise problem(f"{text!r} is not hexadecimal")
    return text


def _v_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise problem(f"must be true or false, got {describe(value)}")
    return value


def _v_string(value: object) -> str:
    return _require_str(value, "this field")


def _v_certification(value: object) -> str | tuple[str, ...]:
    # EPCIS 2.0 §7.4 (ErrorDeclaration): certificationInfo is one URI or a list of URIs.
    if isinstance(value, list | tuple):
        out = []
        for index, item in enumerate(value):
            try:
                out.append(check_uri(item))
            except PydanticCustomError as exc:
                raise problem(str(exc.context["message"] if exc.context else exc), index) from exc
        return tuple(out)
    return check_uri(value)


def _s_certification(value: str | tuple[str, ...]) -> object:
    return list(value) if isinstance(value, tuple) else value


def convert_extension(value: object, form: Form, depth: int = 0) -> JSONValue:
    """Validate an extension value; in the EPCIS form turn non-integer numbers into
    ``{"@value": "<number>", "@type": XSD_DECIMAL}`` so the ledger form holds no floats."""
    if depth > _MAX_EXTENSION_DEPTH:
        raise problem(f"extension content nests deeper than {_MAX_EXTENSION_DEPTH} levels")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if abs(value) <= MAX_SAFE_INTEGER:
            return value
        if form == "ledger":
            raise problem("integers beyond ±(2^53-1) are written as decimal value objects")
        return {"@value": str(value), "@type": XSD_DECIMAL}
    if isinstance(value, float | Decimal):
        if form == "ledger":
            raise problem(
                "the ledger form holds no floating-point numbers; write "
                f'{{"@value": "<number>", "@type": "{XSD_DECIMAL}"}}'
            )
        text = repr(value) if isinstance(value, float) else str(value)
        if not _JSON_NUMBER.fullmatch(text):
            raise problem(f"{text} is not a finite JSON number")
        return {"@value": text, "@type": XSD_DECIMAL}
    if isinstance(value, list | tuple):
        out: list[JSONValue] = []
        for index, item in enumerate(value):
            try:
                out.append(convert_extension(item, form, depth + 1))
            except PydanticCustomError as exc:
                raise nested_problem(exc, index) from exc
        return out
    if isinstance(value, dict):
        result: dict[str, JSONValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise problem("object keys must be strings")
            try:
                result[key] = convert_extension(item, form, depth + 1)
            except PydanticCustomError as exc:
                raise nested_problem(exc, key) from exc
        return result
    raise problem(f"{type(value).__name__} is not a JSON value")


def nested_problem(exc: PydanticCustomError, part: PathPart) -> PydanticCustomError:
    context = exc.context or {}
    return problem(str(context.get("message", exc)), part, *context.get("subpath", ()))


def restore_extension(value: JSONValue) -> object:
    """Inverse of ``convert_extension`` for the EPCIS form: value objects become numbers."""
    if isinstance(value, dict):
        if (
            set(value) == {"@value", "@type"}
            and value["@type"] == XSD_DECIMAL
            and isinstance(value["@value"], str)
            and _JSON_NUMBER.fullmatch(value["@value"])
        ):
            text = value["@value"]
            return int(text) if re.fullmatch(r"-?[0-9]+", text) else Decimal(text)
        return {key: restore_extension(item) for key, item in value.items()}
    if isinstance(value, list):
        return [restore_extension(item) for item in value]
    return value


def _v_extension(value: object, info: ValidationInfo) -> JSONValue:
    form, _ = form_and_prefixes(info)
    return convert_extension(value, form)


def _s_extension(value: JSONValue, info: SerializationInfo) -> object:
    form, _ = form_and_prefixes(info)
    return value if form == "ledger" else restore_extension(value)


def _v_ilmd(value: object, info: ValidationInfo) -> dict[str, JSONValue]:
    # EPCIS 2.0 §7.3 (ILMD): ILMD holds only namespaced (URI-named) fields.
    if not isinstance(value, dict):
        raise problem(f"ilmd must be an object, got {describe(value)}")
    form, _ = form_and_prefixes(info)
    out: dict[str, JSONValue] = {}
    for key, item in value.items():
        if not is_absolute_uri(key):
            raise problem(f"ilmd field {key!r} must be namespaced, e.g. 'example:{key}'", key)
        try:
            out[key] = convert_extension(item, form)
        except PydanticCustomError as exc:
            raise nested_problem(exc, key) from exc
    return out


def _s_ilmd(value: dict[str, JSONValue], info: SerializationInfo) -> object:
    form, _ = form_and_prefixes(info)
    return value if form == "ledger" else restore_extension(value)


def _v_context_entries(value: object) -> tuple[JSONValue, ...]:
    # Pre-computed by _event_context(); this only guards direct model construction.
    if not isinstance(value, list | tuple) or not all(
        isinstance(item, str | dict) for item in value
    ):
        raise problem("@context must be a list of context URLs and objects")
    return tuple(value)


def unique(values: tuple[str, ...]) -> tuple[str, ...]:
    """EPCIS 2.0 schema ``uniqueItems``, applied after normalisation so that two spellings of
    one identifier count as the same item."""
    seen: dict[str, int] = {}
    for index, item in enumerate(values):
        if item in seen:
            raise problem(f"{item!r} is listed twice (items {seen[item]} and {index})", index)
        seen[item] = index
    return values


if TYPE_CHECKING:
    _Json: TypeAlias = JSONValue
else:  # pydantic cannot build a schema for the recursive alias; the plain validators check it
    _Json = Any

Uri = Annotated[str, PlainValidator(check_uri)]
Time = Annotated[str, PlainValidator(check_date_time)]
TzOffset = Annotated[str, PlainValidator(_v_tz_offset)]
Epc = Annotated[str, PlainValidator(_identifier(normalize_epc))]
EpcClass = Annotated[str, PlainValidator(_identifier(normalize_epc_class))]
LocationId = Annotated[str, PlainValidator(_identifier(normalize_location))]
AnyId = Annotated[str, PlainValidator(_identifier(normalize_identifier))]
Quantity = Annotated[Decimal, PlainValidator(_v_quantity), PlainSerializer(_s_decimal)]
Measure = Annotated[Decimal, PlainValidator(_v_measure), PlainSerializer(_s_decimal)]
Uom = Annotated[str, PlainValidator(_v_uom)]
HexBinary = Annotated[str, PlainValidator(_v_hex)]
StrictBool = Annotated[bool, PlainValidator(_v_bool)]
String = Annotated[str, PlainValidator(_v_string)]
BizStep = Annotated[str, PlainValidator(_vocabulary(cbv.BIZ_STEP))]
Disposition = Annotated[str, PlainValidator(_vocabulary(cbv.DISPOSITION))]
BizTransactionType = Annotated[str, PlainValidator(_vocabulary(cbv.BIZ_TRANSACTION_TYPE))]
SourceDestinationType = Annotated[str, PlainValidator(_vocabulary(cbv.SOURCE_DESTINATION_TYPE))]
ErrorReason = Annotated[str, PlainValidator(_vocabulary(cbv.ERROR_REASON))]
Component = Annotated[str, PlainValidator(_vocabulary(cbv.COMPONENT))]
MeasurementType = Annotated[str, PlainValidator(_vocabulary(cbv.MEASUREMENT_TYPE))]
SensorAlertType = Annotated[str, PlainValidator(_vocabulary(cbv.SENSOR_ALERT_TYPE))]
Extension = Annotated[_Json, PlainValidator(_v_extension), PlainSerializer(_s_extension)]
Ilmd = Annotated[dict[str, _Json], PlainValidator(_v_ilmd), PlainSerializer(_s_ilmd)]
CertificationInfo = Annotated[
    str | tuple[str, ...], PlainValidator(_v_certification), PlainSerializer(_s_certification)
]
ContextEntries = Annotated[tuple[_Json, ...], PlainValidator(_v_context_entries)]
UniqueEpcs = Annotated[tuple[Epc, ...], AfterValidator(unique)]


# --- base models --------------------------------------------------------------------------


class StrictModel(BaseModel):
    """A frozen EPCIS structure whose fields are exactly the standard ones
    (``additionalProperties: false`` in the EPCIS 2.0 schema)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=False)

    _extensible: ClassVar[bool] = False

    @model_validator(mode="before")
    @classmethod
    def _prepare(cls, data: Any) -> Any:
        """Mark explicit nulls and move namespaced fields into the extension map."""
        if not isinstance(data, dict):
            return data
        standard = {field.alias or name for name, field in cls.model_fields.items()} - {
            EXTENSIONS_KEY
        }
        out: dict[str, Any] = {}
        extensions: dict[str, Any] = {}
        for key, value in data.items():
            if key in standard:
                out[key] = NULL if value is None else value
            elif cls._extensible and isinstance(key, str) and is_absolute_uri(key):
                extensions[key] = value
            else:
                out[key] = value  # reported as "not a field here" by extra="forbid"
        if cls._extensible:
            out[EXTENSIONS_KEY] = extensions
        return out

    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        extensions = data.pop(EXTENSIONS_KEY, None) or {}
        result = {key: value for key, value in data.items() if value is not None}
        result.update(extensions)
        return result


class ExtensibleModel(StrictModel):
    """A frozen EPCIS structure that also carries namespaced extension fields
    (EPCIS 2.0 §7.3, user extensions such as ``"example:myField"``)."""

    _extensible: ClassVar[bool] = True

    extensions: dict[str, Extension] = Field(default_factory=dict, alias=EXTENSIONS_KEY)

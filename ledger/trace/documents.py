"""EPCIS 2.0 documents: import (``parse_epcis_document``) and export (``build_epcis_document``).

An import validates the whole ``EPCISDocument`` or ``EPCISQueryDocument`` (EPCIS 2.0, EPCISDocument,
§10; the official JSON schema's ``epcisDocument`` and ``epcisQueryDocument``) and refuses it
whole, listing every bad field by JSON path.  An export is valid against that schema.

``load_epcis_json`` and ``dumps_epcis`` read and write EPCIS JSON text keeping numbers exact
(``Decimal``, never ``float``).  Nothing here is hashed or signed: the ledger form of each
event (``EpcisEvent.ledger_form``) is what goes into a statement.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from pydantic_core import PydanticCustomError

from ledger.canonical import canonical_bytes
from ledger.errors import CanonicalizationError
from ledger.trace._fields import check_date_time, check_uri, describe, restore_extension
from ledger.trace._syntax import PathPart, format_utc, is_absolute_uri, json_path
from ledger.trace.epcis import (
    ABSENT,
    STANDARD_CONTEXT,
    EpcisEvent,
    context_entries,
    parse_ledger_event,
    validate_event,
)
from ledger.trace.errors import FieldError, MalformedEventError

__all__ = [
    "build_epcis_document",
    "dumps_epcis",
    "load_epcis_json",
    "parse_epcis_document",
]

_VERSION = re.compile(r"[0-9]+(?:\.[0-9]+)*", re.ASCII)
#: Placeholder while an event without eventID is validated; replaced by its content hash.
_PENDING_EVENT_ID: Final = "urn:fairledger:pending-event-id"

_DOCUMENT_FIELDS: Final = {
    "EPCISDocument": frozenset(
        {
            "@context",
            "id",
            "type",
            "schemaVersion",
            "creationDate",
            "instanceIdentifier",
            "sender",
            "receiver",
            "epcisHeader",
            "epcisBody",
        }
    ),
    "EPCISQueryDocument": frozenset(
        {"@context", "id", "type", "schemaVersion", "creationDate", "epcisBody"}
    ),
}
_REQUIRED_DOCUMENT_FIELDS: Final = {
    "EPCISDocument": ("@context", "type", "schemaVersion", "creationDate", "epcisBody"),
    "EPCISQueryDocument": ("@context", "type", "epcisBody"),
}


class _DocumentChecker:
    """Checks the document envelope (EPCIS 2.0, EPCISDocument, schema ``epcisDocument`` /
    ``epcisQueryDocument``), collecting errors."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def error(self, path: tuple[PathPart, ...], message: str) -> None:
        self.errors.append(FieldError(json_path(path), message))

    def as_object(self, value: object, path: tuple[PathPart, ...]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(path, f"must be a JSON object, got {describe(value)}")
            return None
        return value

    def keys(
        self,
        value: dict[str, Any],
        path: tuple[PathPart, ...],
        allowed: frozenset[str],
        required: Iterable[str] = (),
    ) -> None:
        for key in required:
            if key not in value:
                self.error((*path, key), "required field is missing")
        for key in value:
            if key not in allowed and not is_absolute_uri(key):
                self.error(
                    (*path, key),
                    f"{key!r} is not a standard field here; extension fields must be "
                    f"namespaced, e.g. 'example:{key}'",
                )

    def check(self, validator: Any, value: object, path: tuple[PathPart, ...]) -> None:
        try:
            validator(value)
        except PydanticCustomError as exc:
            context = exc.context or {}
            self.error((*path, *context.get("subpath", ())), str(context.get("message")))

    def string(self, value: object, path: tuple[PathPart, ...]) -> None:
        if not isinstance(value, str):
            self.error(path, f"must be a string, got {describe(value)}")

    def header(self, value: object, path: tuple[PathPart, ...]) -> None:
        header = self.as_object(value, path)
        if header is None:
            return
        self.keys(header, path, frozenset({"epcisMasterData"}))
        if "epcisMasterData" not in header:
            return
        master = self.as_object(header["epcisMasterData"], (*path, "epcisMasterData"))
        if master is None or "vocabularyList" not in master:
            return
        self.vocabularies(master["vocabularyList"], (*path, "epcisMasterData", "vocabularyList"))

    def vocabularies(self, value: object, path: tuple[PathPart, ...]) -> None:
        # EPCIS 2.0 master data: vocabulary{type, vocabularyElementList[{id, attributes,
        # children}]}; only the shape the schema checks.
        if not isinstance(value, list):
            self.error(path, f"must be a JSON array, got {describe(value)}")
            return
        for index, entry in enumerate(value):
            where = (*path, index)
            item = self.as_object(entry, where)
            if item is None:
                continue
            if "type" not in item:
                self.error((*where, "type"), "required field is missing")
            else:
                self.check(check_uri, item["type"], (*where, "type"))
            elements = item.get("vocabularyElementList")
            if elements is None:
                continue
            if not isinstance(elements, list):
                self.error((*where, "vocabularyElementList"), "must be a JSON array")
                continue
            for position, element in enumerate(elements):
                self.vocabulary_element(element, (*where, "vocabularyElementList", position))

    def vocabulary_element(self, value: object, path: tuple[PathPart, ...]) -> None:
        element = self.as_object(value, path)
        if element is None:
            return
        if "id" not in element:
            self.error((*path, "id"), "required field is missing")
        else:
            self.check(check_uri, element["id"], (*path, "id"))
        for name in ("attributes", "children"):
            items = element.get(name)
            if items is None:
                continue
            if not isinstance(items, list):
                self.error((*path, name), "must be a JSON array")
                continue
            for index, item in enumerate(items):
                where = (*path, name, index)
                if name == "children":
                    self.check(check_uri, item, where)
                    continue
                attribute = self.as_object(item, where)
                if attribute is None:
                    continue
                if "id" not in attribute:
                    self.error((*where, "id"), "required field is missing")
                else:
                    self.check(check_uri, attribute["id"], (*where, "id"))
                inner = attribute.get("attribute")
                if "attribute" in attribute and (
                    isinstance(inner, bool)
                    or not isinstance(inner, int | float | Decimal | str | dict)
                ):
                    self.error((*where, "attribute"), "must be a number, a string or an object")


def parse_epcis_document(
    data: Mapping[str, object], *, assign_missing_event_ids: bool = True
) -> list[EpcisEvent]:
    """Validate an ``EPCISDocument`` or ``EPCISQueryDocument`` and return its events.

    The document is refused whole: every problem in the envelope and in every event is
    collected and raised as one ``MalformedEventError``.  Events inherit the document's
    ``@context``.  EPCIS makes ``eventID`` optional but the ledger requires it: with
    ``assign_missing_event_ids`` (default) an event without one gets
    ``ni:///sha-256;<base64url>`` (RFC 6920) of its ledger form, so re-importing the same
    document yields the same ids; this is not the CBV 2.0 event hash.  An ``eventID`` may
    appear twice only as an event and its error declaration.  Master data in
    ``epcisHeader`` is checked but not returned.
    """
    checker = _DocumentChecker()
    document = checker.as_object(data, ())
    if document is None:
        raise MalformedEventError(checker.errors)
    kind = document.get("type")
    if not isinstance(kind, str) or kind not in _DOCUMENT_FIELDS:
        checker.error(("type",), f"must be 'EPCISDocument' or 'EPCISQueryDocument', got {kind!r}")
        raise MalformedEventError(checker.errors)
    checker.keys(document, (), _DOCUMENT_FIELDS[kind], _REQUIRED_DOCUMENT_FIELDS[kind])
    if "id" in document:
        checker.check(check_uri, document["id"], ("id",))
    if "schemaVersion" in document:
        version = document["schemaVersion"]
        if not isinstance(version, str) or not _VERSION.fullmatch(version):
            checker.error(
                ("schemaVersion",), f"must be a version string such as '2.0', got {version!r}"
            )
    if "creationDate" in document:
        checker.check(check_date_time, document["creationDate"], ("creationDate",))
    for name in ("instanceIdentifier", "sender", "receiver"):
        if name in document:
            checker.string(document[name], (name,))
    if "epcisHeader" in document:
        checker.header(document["epcisHeader"], ("epcisHeader",))
    errors = checker.errors
    context = context_entries(document.get("@context", ABSENT), "epcis", ("@context",), errors)

    events_path: tuple[PathPart, ...]
    event_list: object = ABSENT  # a present null is an error, an absent list is reported apart
    body = (
        checker.as_object(document.get("epcisBody"), ("epcisBody",))
        if "epcisBody" in document
        else None
    )
    if body is not None and kind == "EPCISDocument":
        events_path = ("epcisBody", "eventList")
        if "eventList" not in body:
            checker.error(events_path, "required field is missing")
        event_list = body.get("eventList", ABSENT)
    elif body is not None:
        checker.keys(body, ("epcisBody",), frozenset({"queryResults"}), ("queryResults",))
        results = (
            checker.as_object(body["queryResults"], ("epcisBody", "queryResults"))
            if "queryResults" in body
            else None
        )
        events_path = ("epcisBody", "queryResults", "resultsBody", "eventList")
        if results is not None:
            where: tuple[PathPart, ...] = ("epcisBody", "queryResults")
            checker.keys(
                results,
                where,
                frozenset({"queryName", "subscriptionID", "resultsBody"}),
                ("queryName", "resultsBody"),
            )
            for name in ("queryName", "subscriptionID"):
                if name in results:
                    checker.string(results[name], (*where, name))
            if "resultsBody" in results:
                results_body = checker.as_object(results["resultsBody"], (*where, "resultsBody"))
                if results_body is not None:
                    checker.keys(
                        results_body,
                        (*where, "resultsBody"),
                        frozenset({"eventList", "vocabularyList"}),
                        ("eventList",),
                    )
                    event_list = results_body.get("eventList", ABSENT)
                    if "vocabularyList" in results_body:
                        checker.vocabularies(
                            results_body["vocabularyList"],
                            (*where, "resultsBody", "vocabularyList"),
                        )
    else:
        events_path = ("epcisBody", "eventList")

    events: list[EpcisEvent] = []
    if event_list is not ABSENT and not isinstance(event_list, list):
        checker.error(events_path, f"must be a JSON array, got {describe(event_list)}")
    elif isinstance(event_list, list):
        for index, item in enumerate(event_list):
            path = (*events_path, index)
            missing_id = isinstance(item, dict) and "eventID" not in item
            placeholder = _PENDING_EVENT_ID if (
                missing_id and assign_missing_event_ids
            ) else None  # fmt: skip
            event = validate_event(
                item,
                form="epcis",
                document_context=context,
                path=path,
                errors=errors,
                placeholder_event_id=placeholder,
            )
            if event is not None and placeholder is not None:
                event = _with_content_event_id(event)
            if event is not None:
                events.append(event)
        _check_event_ids(events, event_list, events_path, errors)
    if errors:
        raise MalformedEventError(errors)
    return events


def _with_content_event_id(event: EpcisEvent) -> EpcisEvent:
    form = event.ledger_form()
    form.pop("eventID", None)
    digest = hashlib.sha256(canonical_bytes(form)).digest()
    event_id = "ni:///sha-256;" + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
    return event.model_copy(update={"event_id": event_id})


def _check_event_ids(
    events: list[EpcisEvent],
    raw_events: list[object],
    path: tuple[PathPart, ...],
    errors: list[FieldError],
) -> None:
    """Within one document an eventID names one event, plus at most one error declaration."""
    if len(events) != len(raw_events):
        return  # positions no longer line up; the invalid events are reported already
    seen: dict[tuple[str, bool], int] = {}
    for index, event in enumerate(events):
        key = (event.event_id, event.error_declaration is not None)
        if key in seen:
            what = "error declaration" if key[1] else "event"
            errors.append(
                FieldError(
                    json_path((*path, index, "eventID")),
                    f"eventID {event.event_id!r} names another {what} too (item {seen[key]})",
                )
            )
        else:
            seen[key] = index


def build_epcis_document(
    events: Iterable[EpcisEvent | Mapping[str, object]],
    created_at: datetime,
    *,
    document_id: str | None = None,
) -> dict[str, Any]:
    """An EPCIS 2.0 ``EPCISDocument`` holding ``events``, valid against the official
    schema: standard ``@context``, ``schemaVersion`` "2.0", ``creationDate`` from the aware
    ``created_at`` (UTC).

    Events may be models or ledger forms.  When every event carries the same extension
    context, it is written once on the document; otherwise each event keeps its own.  Either
    way ``parse_epcis_document`` of the result gives back exactly the same ledger forms.
    Quantities are ``int`` or ``Decimal``: serialise with ``dumps_epcis``.
    Raises ``MalformedEventError`` for an invalid ledger form, ``ValueError`` for a naive
    ``created_at`` or a ``document_id`` that is not a URI.
    """
    if document_id is not None and not is_absolute_uri(document_id):
        raise ValueError(f"document_id {document_id!r} is not an absolute URI")
    creation_date = format_utc(created_at)
    models = [
        item
        if isinstance(item, EpcisEvent)
        else parse_ledger_event(item, require_normal_form=False)
        for item in events
    ]
    contexts = {canonical_bytes(list(event.context or ())) for event in models}
    shared = list(models[0].context or ()) if len(contexts) == 1 else []
    event_list: list[dict[str, Any]] = []
    for event in models:
        data = event.epcis_form()
        if len(contexts) == 1:
            del data["@context"]  # JSON-LD: the event inherits the document's context
        event_list.append(data)
    document: dict[str, Any] = {
        "@context": [STANDARD_CONTEXT, *(restore_extension(e) for e in shared)],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": creation_date,
    }
    if document_id is not None:
        document["id"] = document_id
    document["epcisBody"] = {"eventList": event_list}
    return document


# --- JSON text ----------------------------------------------------------------------------


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise CanonicalizationError(f"duplicate object key {key!r}")
        result[key] = value
    return result


def _reject_constant(text: str) -> Any:
    raise CanonicalizationError(f"{text} is not valid JSON")


def load_epcis_json(data: bytes | str) -> Any:
    """Parse EPCIS JSON text keeping every number exact (``Decimal``, never ``float``).

    Refuses duplicate keys, NaN/Infinity and invalid UTF-8. Raises ``MalformedEventError``.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(
            text,
            parse_float=Decimal,
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
        )
    except UnicodeDecodeError as exc:
        raise MalformedEventError([FieldError("", f"invalid UTF-8 at byte {exc.start}")]) from exc
    except json.JSONDecodeError as exc:
        raise MalformedEventError(
            [FieldError("", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")]
        ) from exc
    except CanonicalizationError as exc:
        raise MalformedEventError([FieldError("", exc.message)]) from exc
    except ValueError as exc:  # e.g. an integer literal beyond Python's 4300-digit limit
        raise MalformedEventError([FieldError("", f"unusable number: {exc}")]) from exc
    except RecursionError as exc:
        raise MalformedEventError([FieldError("", "JSON nests too deeply")]) from exc


def dumps_epcis(document: object, *, indent: int | None = None) -> str:
    """Serialise an EPCIS form or document as JSON text, writing ``Decimal`` as a JSON number.

    For export only: nothing here is hashed or signed (those use ``canonical_bytes``).
    Raises ``ValueError`` for non-JSON values and non-finite numbers.
    """
    encode_string = json.JSONEncoder(ensure_ascii=False).encode
    parts: list[str] = []

    def write(value: object, level: int) -> None:
        newline = "" if indent is None else "\n" + " " * (indent * (level + 1))
        closing = "" if indent is None else "\n" + " " * (indent * level)
        separator = ", " if indent is None else ","
        if value is None:
            parts.append("null")
        elif value is True:
            parts.append("true")
        elif value is False:
            parts.append("false")
        elif isinstance(value, int):
            parts.append(str(value))
        elif isinstance(value, Decimal):
            if not value.is_finite():
                raise ValueError(f"{value} is not a finite number")
            parts.append(str(value))
        elif isinstance(value, str):
            parts.append(encode_string(value))
        elif isinstance(value, list | tuple):
            if not value:
                parts.append("[]")
                return
            parts.append("[")
            for index, item in enumerate(value):
                parts.append((separator if index else "") + newline)
                write(item, level + 1)
            parts.append(closing + "]")
        elif isinstance(value, dict):
            if not value:
                parts.append("{}")
                return
            parts.append("{")
            for index, (key, item) in enumerate(value.items()):
                if not isinstance(key, str):
                    raise ValueError(f"object key {key!r} is not a string")
                parts.append((separator if index else "") + newline + encode_string(key) + ": ")
                write(item, level + 1)
            parts.append(closing + "}")
        else:
            raise ValueError(f"{type(value).__name__} is not a JSON value")

    write(document, 0)
    return "".join(parts)

"""The traceability domain layer: GS1 identifiers, CBV 2.0 vocabularies and EPCIS 2.0 events.

Pure code, no database and no I/O, except ``service``, which sits on top: the trace
projection and its queries (``ledger.storage.trace``) build on the pure modules.

* ``identifiers``: GTIN, GLN, SSCC, EPC URIs, GS1 Digital Link; the one normal form.
* ``cbv``: CBV 2.0 bizSteps, dispositions and the other vocabularies.
* ``epcis``: validated EPCIS 2.0 events, the ledger form and the EPCIS form.
* ``facts``: ``EventFacts``, what the ledger needs from an event (custody, lots, parties...).
* ``documents``: import and export of EPCIS documents, exact JSON reading and writing.
* ``rules``: the ``trace.event`` body, who may record what, rejections (``TRACE_VALIDATORS``).
* ``_fast``: the facts of a body already in normal form, proven valid without the models
  (``rules`` tries it first and leaves every doubt and every error to ``epcis``).
* ``units``: exact quantity arithmetic and unit dimensions.
* ``provenance``: trace back / recall result types and contribution shares.
* ``builders``: ledger-form events for the common steps (harvest, ship, receive...).
* ``exports``, ``fsma``: EPCIS 2.0 documents and the FDA FSMA 204 spreadsheet.
* ``service``: ``open_trace_ledger`` and the questions a ledger answers (I/O).
"""

from __future__ import annotations

from ledger.trace.documents import (
    build_epcis_document,
    dumps_epcis,
    load_epcis_json,
    parse_epcis_document,
)
from ledger.trace.epcis import (
    STANDARD_CONTEXT,
    AggregationEvent,
    AssociationEvent,
    EpcisEvent,
    ObjectEvent,
    TransactionEvent,
    TransformationEvent,
    error_declaration_mismatches,
    parse_event,
    parse_ledger_event,
    to_epcis_form,
    to_ledger_form,
)
from ledger.trace.errors import (
    FieldError,
    MalformedEventError,
    MalformedIdentifierError,
    MalformedVocabularyError,
)
from ledger.trace.facts import CustodyEffect, EventFacts, QuantityFact, event_facts
from ledger.trace.identifiers import (
    DIGITAL_LINK_BASE,
    Gln,
    Gtin,
    Location,
    Lot,
    Party,
    Sgtin,
    Sscc,
    normalize_epc,
    normalize_epc_class,
    normalize_identifier,
    normalize_location,
    normalize_lot,
    normalize_party,
    normalize_sscc,
    parse_identifier,
    parse_lot,
)

__all__ = [
    "DIGITAL_LINK_BASE",
    "STANDARD_CONTEXT",
    "AggregationEvent",
    "AssociationEvent",
    "CustodyEffect",
    "EpcisEvent",
    "EventFacts",
    "FieldError",
    "Gln",
    "Gtin",
    "Location",
    "Lot",
    "MalformedEventError",
    "MalformedIdentifierError",
    "MalformedVocabularyError",
    "ObjectEvent",
    "Party",
    "QuantityFact",
    "Sgtin",
    "Sscc",
    "TransactionEvent",
    "TransformationEvent",
    "build_epcis_document",
    "dumps_epcis",
    "error_declaration_mismatches",
    "event_facts",
    "load_epcis_json",
    "normalize_epc",
    "normalize_epc_class",
    "normalize_identifier",
    "normalize_location",
    "normalize_lot",
    "normalize_party",
    "normalize_sscc",
    "parse_epcis_document",
    "parse_event",
    "parse_identifier",
    "parse_ledger_event",
    "parse_lot",
    "to_epcis_form",
    "to_ledger_form",
]

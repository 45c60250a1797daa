"""GS1 Core Business Vocabulary (CBV) 2.0 values used by EPCIS 2.0 events.

The standard lists are written out here, in code, as CBV 2.0 publishes them (and as the
EPCIS 2.0 JSON schema enumerates them); ``tests/ledger/trace/test_cbv.py`` checks them against
the official schema and JSON-LD contexts so that drift is caught.

Every vocabulary value may be written three ways, all normalised to the bare CBV 2.0 name
(the form the EPCIS 2.0 JSON/JSON-LD binding uses, EPCIS 2.0 JSON/JSON-LD binding):

* the bare name: ``shipping``;
* the CBV 2.0 Web URI: ``https://ref.gs1.org/cbv/BizStep-shipping`` (CBV 2.0 §6.4), also as the
  JSON-LD compact IRI ``cbv:BizStep-shipping``;
* the EPCIS 1.x / XML URN: ``urn:epcglobal:cbv:bizstep:shipping`` (CBV 2.0 §6.3).  The JSON
  schema would refuse this form; the ledger accepts and normalises it, so ``to_epcis_form``
  output is always schema-valid.

A value that is not a standard term is a user vocabulary, kept unchanged (CBV 2.0 §6.5,
EPCIS 2.0 §7.3).  For bizStep and disposition it must be an absolute URI with an authority
(``https://example.com/bizstep/milling``) or a URN (``urn:example:bizstep:milling``); the other
vocabularies accept any absolute URI, as the EPCIS 2.0 schema does.  A JSON-LD compact IRI
whose prefix the ``@context`` declares (``ext1:milling``) is expanded first.  An unknown bare
word, or an unknown term in a namespace GS1 reserves, raises
:class:`MalformedVocabularyError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ledger.trace._syntax import has_authority, is_absolute_uri, uri_scheme
from ledger.trace.errors import MalformedVocabularyError

__all__ = [
    "BIZ_STEPS",
    "BIZ_TRANSACTION_TYPES",
    "CBV_WEB_BASE",
    "COMPONENTS",
    "DISPOSITIONS",
    "ERROR_REASONS",
    "MEASUREMENT_TYPES",
    "SENSOR_ALERT_TYPES",
    "SOURCE_DESTINATION_TYPES",
    "STANDARD_PREFIXES",
    "Vocabulary",
    "expand_compact_iri",
    "normalize_biz_step",
    "normalize_biz_transaction_type",
    "normalize_component",
    "normalize_disposition",
    "normalize_error_reason",
    "normalize_measurement_type",
    "normalize_sensor_alert_type",
    "normalize_source_destination_type",
]

#: Namespace of CBV 2.0 Web URIs (CBV 2.0 §6.4).
CBV_WEB_BASE = "https://ref.gs1.org/cbv/"
#: Namespace of the GS1 Web Vocabulary (sensor measurement and alert types).
GS1_VOC_BASES = ("https://gs1.org/voc/", "http://gs1.org/voc/", "https://www.gs1.org/voc/",
                 "http://www.gs1.org/voc/")  # fmt: skip
_URN_BASE = "urn:epcglobal:cbv:"
#: Pre-2.0 namespace the EPCIS 2.0 schema reserves; never a valid user vocabulary.
_RESERVED_BASES = ("https://ns.gs1.org/cbv/", "http://ns.gs1.org/cbv/")

#: Prefixes declared by the EPCIS 2.0 JSON-LD context (epcis-context.jsonld).
STANDARD_PREFIXES: Mapping[str, str] = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": CBV_WEB_BASE,
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": "https://gs1.org/voc/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}

# CBV 2.0 §7.1 Business steps.
BIZ_STEPS: frozenset[str] = frozenset(
    {
        "accepting", "arriving", "assembling", "collecting", "commissioning", "consigning",
        "creating_class_instance", "cycle_counting", "decommissioning", "departing",
        "destroying", "disassembling", "dispensing", "encoding", "entering_exiting", "holding",
        "inspecting", "installing", "killing", "loading", "other", "packing", "picking",
        "receiving", "removing", "repackaging", "repairing", "replacing", "reserving",
        "retail_selling", "sampling", "sensor_reporting", "shipping", "staging_outbound",
        "stock_taking", "stocking", "storing", "transporting", "unloading", "unpacking",
        "void_shipping",
    }
)  # fmt: skip

# CBV 2.0 §7.2 Dispositions.
DISPOSITIONS: frozenset[str] = frozenset(
    {
        "active", "available", "completeness_inferred", "completeness_verified", "conformant",
        "container_closed", "container_open", "damaged", "destroyed", "dispensed", "disposed",
        "encoded", "expired", "in_progress", "in_transit", "inactive", "mismatch_class",
        "mismatch_instance", "mismatch_quantity", "needs_replacement", "no_pedigree_match",
        "non_conformant", "non_sellable_other", "partially_dispensed", "recalled", "reserved",
        "retail_sold", "returned", "sellable_accessible", "sellable_not_accessible", "stolen",
        "unavailable", "unknown",
    }
)  # fmt: skip

# CBV 2.0 §7.3 Business transaction types.
BIZ_TRANSACTION_TYPES: frozenset[str] = frozenset(
    {"bol", "cert", "desadv", "inv", "pedigree", "po", "poc", "prodorder", "recadv", "rma",
     "testprd", "testres", "upevt"}
)  # fmt: skip

# CBV 2.0 §7.4 Source/destination types.
SOURCE_DESTINATION_TYPES: frozenset[str] = frozenset(
    {"owning_party", "possessing_party", "location"}
)

# CBV 2.0 §7.5 Error reasons.
ERROR_REASONS: frozenset[str] = frozenset({"did_not_occur", "incorrect_data"})

# CBV 2.0 §7.6 Sensor measurement components.
COMPONENTS: frozenset[str] = frozenset(
    {"x", "y", "z", "axial_distance", "azimuth", "height", "spherical_radius", "polar_angle",
     "elevation_angle", "easting", "northing", "latitude", "longitude", "altitude"}
)  # fmt: skip

# EPCIS 2.0 §7.3 (sensorReport): measurement types are GS1 Web Vocabulary MeasurementType terms.
MEASUREMENT_TYPES: frozenset[str] = frozenset(
    {
        "AbsoluteHumidity", "AbsorbedDose", "AbsorbedDoseRate", "Acceleration", "Radioactivity",
        "Altitude", "AmountOfSubstance", "AmountOfSubstancePerUnitVolume", "Angle",
        "AngularAcceleration", "AngularMomentum", "AngularVelocity", "Area", "Capacitance",
        "Conductance", "Conductivity", "Count", "Density", "Dimensionless", "DoseEquivalent",
        "DoseEquivalentRate", "DynamicViscosity", "ElectricCharge", "ElectricCurrent",
        "ElectricCurrentDensity", "ElectricFieldStrength", "Energy", "Exposure", "Force",
        "Frequency", "Illuminance", "Inductance", "Irradiance", "KinematicViscosity", "Length",
        "LinearMomentum", "Luminance", "LuminousFlux", "LuminousIntensity", "MagneticFlux",
        "MagneticFluxDensity", "MagneticVectorPotential", "Mass", "MassConcentration",
        "MassFlowRate", "MassPerAreaTime", "MemoryCapacity", "MolalityOfSolute", "MolarEnergy",
        "MolarMass", "MolarVolume", "Power", "Pressure", "RadiantFlux", "RadiantIntensity",
        "RelativeHumidity", "Resistance", "Resistivity", "SolidAngle", "SpecificVolume",
        "Speed", "SurfaceDensity", "SurfaceTension", "Temperature", "Time", "Torque", "Voltage",
        "Volume", "VolumeFlowRate", "VolumeFraction", "VolumetricFlux", "Wavenumber",
    }
)  # fmt: skip

# EPCIS 2.0 §7.3 (sensorReport): sensor alert types (GS1 Web Vocabulary SensorAlertType).
SENSOR_ALERT_TYPES: frozenset[str] = frozenset({"ALARM_CONDITION", "ERROR_CONDITION"})


@dataclass(frozen=True)
class Vocabulary:
    """One controlled vocabulary: its terms and the URI forms that denote them."""

    name: str
    terms: frozenset[str]
    #: Prefixes that, followed by a term, denote that term: the CBV 2.0 §6.4 Web URI
    #: (``https://ref.gs1.org/cbv/BizStep-``) and §6.3 URN (``urn:epcglobal:cbv:bizstep:``).
    term_uri_prefixes: tuple[str, ...]
    #: Namespaces owned by GS1: a value there that is not a term is refused, as the EPCIS 2.0
    #: schema refuses it (``vocab-other-uri``, ``vocab-nonGS1WebVoc-uri``).
    reserved: tuple[str, ...]
    #: bizStep and disposition are strict: a user value needs an authority (or is a URN);
    #: the other vocabularies accept any absolute URI, as the schema does.
    strict: bool = False

    def normalize(self, value: object, prefixes: Mapping[str, str] | None = None) -> str:
        """Return the bare standard term, or the (expanded) user URI, for ``value``.

        ``prefixes`` are the JSON-LD prefixes in scope (the document's ``@context``), used to
        expand compact IRIs; the EPCIS standard context's prefixes always apply.
        Raises ``MalformedVocabularyError`` naming the vocabulary and the fault.
        """
        if not isinstance(value, str):
            raise MalformedVocabularyError(
                f"{self.name} must be a string, got {type(value).__name__}"
            )
        if value in self.terms:
            return value
        expanded = expand_compact_iri(value, prefixes)
        for prefix in self.term_uri_prefixes:
            if expanded.startswith(prefix) and expanded[len(prefix) :] in self.terms:
                return expanded[len(prefix) :]
        if expanded.startswith(self.reserved):
            raise MalformedVocabularyError(
                f"{value!r} is not a {self.name} of the GS1 standard vocabulary and lies in a "
                "namespace GS1 reserves; use a standard value or a URI of your own"
            )
        if self.strict:
            if has_authority(expanded) or (
                uri_scheme(expanded) == "urn" and expanded.count(":") >= 2
            ):
                return expanded
        elif is_absolute_uri(expanded):
            return expanded
        kind = "absolute URIs with an authority, or URNs" if self.strict else "absolute URIs"
        slug = self.name.lower().replace(" ", "-").replace("/", "-")
        hint = "" if ":" in value else f", such as 'https://example.com/{slug}/{value}'"
        raise MalformedVocabularyError(
            f"{value!r} is not a standard {self.name}; non-standard values must be {kind}{hint}"
        )


def expand_compact_iri(value: str, prefixes: Mapping[str, str] | None = None) -> str:
    """Expand a JSON-LD compact IRI ``prefix:suffix`` (JSON-LD 1.1 §4.1.5) whose prefix is
    declared by the EPCIS standard context or in ``prefixes``; anything else is returned as is.

    ``http``, ``https`` and ``urn`` are never treated as prefixes, and a suffix starting with
    ``//`` is an absolute IRI, as JSON-LD requires.
    """
    prefix, colon, suffix = value.partition(":")
    if not colon or suffix.startswith("//") or prefix in ("http", "https", "urn", "_"):
        return value
    # The EPCIS context is @protected: its prefixes cannot be redefined by a user context.
    base = STANDARD_PREFIXES.get(prefix) or (prefixes or {}).get(prefix)
    if base is None:
        return value
    expanded = base + suffix
    return expanded if is_absolute_uri(expanded) else value


_CBV_RESERVED = (CBV_WEB_BASE, "http://ref.gs1.org/cbv/", _URN_BASE, *_RESERVED_BASES)


def _cbv(name: str, terms: frozenset[str], web: str, urn: str | None, strict: bool) -> Vocabulary:
    forms = (CBV_WEB_BASE + web,) + ((_URN_BASE + urn,) if urn else ())
    return Vocabulary(name, terms, forms, _CBV_RESERVED, strict)


BIZ_STEP = _cbv("bizStep", BIZ_STEPS, "BizStep-", "bizstep:", strict=True)
DISPOSITION = _cbv("disposition", DISPOSITIONS, "Disp-", "disp:", strict=True)
BIZ_TRANSACTION_TYPE = _cbv("bizTransaction type", BIZ_TRANSACTION_TYPES, "BTT-", "btt:", False)
SOURCE_DESTINATION_TYPE = _cbv(
    "source/destination type", SOURCE_DESTINATION_TYPES, "SDT-", "sdt:", strict=False
)
ERROR_REASON = _cbv("errorDeclaration reason", ERROR_REASONS, "ER-", "er:", strict=False)
COMPONENT = _cbv("sensor component", COMPONENTS, "Comp-", None, strict=False)
MEASUREMENT_TYPE = Vocabulary(
    "sensor measurement type", MEASUREMENT_TYPES, GS1_VOC_BASES, GS1_VOC_BASES
)
SENSOR_ALERT_TYPE = Vocabulary(
    "sensor alert type", SENSOR_ALERT_TYPES, GS1_VOC_BASES, GS1_VOC_BASES
)


def normalize_biz_step(value: object, prefixes: Mapping[str, str] | None = None) -> str:
    """Normalise a bizStep (CBV 2.0 §7.1). Raises ``MalformedVocabularyError``."""
    return BIZ_STEP.normalize(value, prefixes)


def normalize_disposition(value: object, prefixes: Mapping[str, str] | None = None) -> str:
    """Normalise a disposition (CBV 2.0 §7.2). Raises ``MalformedVocabularyError``."""
    return DISPOSITION.normalize(value, prefixes)


def normalize_biz_transaction_type(value: object, prefixes: Mapping[str, str] | None = None) -> str:
    """Normalise a business transaction type (CBV 2.0 §7.3). Raises
    ``MalformedVocabularyError``."""
    return BIZ_TRANSACTION_TYPE.normalize(value, prefixes)


def normalize_source_destination_type(
    value: object, prefixes: Mapping[str, str] | None = None
) -> str:
    """Normalise a source/destination type (CBV 2.0 §7.4). Raises
    ``MalformedVocabularyError``."""
    return SOURCE_DESTINATION_TYPE.normalize(value, prefixes)


def normalize_error_reason(value: object, prefixes: Mapping[str, str] | None = None) -> str:
    """Normalise an error declaration reason (CBV 2.0 §7.5). Raises
    ``MalformedVocabularyError``."""
    return ERROR_REASON.normalize(value, prefixes)


def normalize_component(value: object, prefixes: Mapping[str, str] | None = None) -> str:
    """Normalise a sensor component (CBV 2.0 §7.6). Raises ``MalformedVocabularyError``."""
    return COMPONENT.normalize(value, prefixes)


def normalize_measurement_type(value: object, prefixes: Mapping[str, str] | None = None) -> str:
    """Normalise a sensor measurement type (EPCIS 2.0 §7.3 (sensorReport)). Raises
    ``MalformedVocabularyError``."""
    return MEASUREMENT_TYPE.normalize(value, prefixes)


def normalize_sensor_alert_type(value: object, prefixes: Mapping[str, str] | None = None) -> str:
    """Normalise a sensor alert type (EPCIS 2.0 §7.3 (sensorReport)). Raises
    ``MalformedVocabularyError``."""
    return SENSOR_ALERT_TYPE.normalize(value, prefixes)

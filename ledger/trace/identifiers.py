"""GS1 identifiers: parsing, check digits and the one normal form (DESIGN §4).

A lot, a logistic unit or a location can be written several ways: as an EPC URI
(``urn:epc:class:lgtin:0614141.107346.ABC``; EPC Tag Data Standard "TDS" §6, section numbers
as in TDS 1.13), as a GS1 Digital Link URI on any host
(``https://example.com/01/10614141073464/10/ABC``; GS1 Digital Link URI Syntax 1.2), or as a
GS1 element string (``(01)10614141073464(10)ABC``; GS1 General Specifications §3).  The
ledger hashes and queries exactly one form, the canonical Digital Link URI with host
``https://id.gs1.org`` and a 14-digit GTIN, because a Digital Link cannot
be turned back into an EPC URI without knowing the company prefix length:

===============================  ==================================================
what                             normal form
===============================  ==================================================
lot (LGTIN)                      ``https://id.gs1.org/01/<gtin14>/10/<lot>``
trade item instance (SGTIN)      ``https://id.gs1.org/01/<gtin14>/21/<serial>``
trade item class (GTIN only)     ``https://id.gs1.org/01/<gtin14>``
logistic unit (SSCC)             ``https://id.gs1.org/00/<sscc18>``
location (GLN / SGLN)            ``https://id.gs1.org/414/<gln>`` (+ ``/254/<ext>``)
party (PGLN)                     ``https://id.gs1.org/417/<gln>``
other GS1 keys (GRAI, GIAI...)   the canonical Digital Link of that key
any other URI                    unchanged
===============================  ==================================================

Lots and serials are percent-encoded exactly as GS1 Digital Link prescribes for path
segments (every character outside RFC 3986 *unreserved* is encoded, upper-case hex).

Check digits of GTINs, GLNs and SSCCs are always verified (GS1 General Specifications
§7.9.1).  Other keys (GRAI, GDTI...) are canonicalised, but their check digits are not
verified: biip does not verify them and GS1's own published examples carry wrong ones.
Digits, lots and serials are ASCII: fullwidth digits, NFD accents and other look-alikes are
refused, never normalised.

``biip`` does the GS1 work it covers (check digits, company prefix table, element strings,
Digital Link parsing and rendering); this module adds the EPC URI syntax and the policy.
Every failure raises :class:`MalformedIdentifierError` naming the identifier and the fault.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeAlias
from urllib.parse import unquote, urlsplit

from biip import ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gln import Gln as BiipGln
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString, GS1ElementStrings
from biip.gs1_messages import GS1Message
from biip.gs1_prefixes import GS1CompanyPrefix
from biip.gtin import Gtin as BiipGtin
from biip.sscc import Sscc as BiipSscc

from ledger.trace._syntax import is_absolute_uri, uri_problem
from ledger.trace.errors import MalformedIdentifierError

__all__ = [
    "DIGITAL_LINK_BASE",
    "Gln",
    "Gs1Key",
    "Gtin",
    "Location",
    "Lot",
    "MalformedIdentifierError",
    "OtherKey",
    "Party",
    "Sgtin",
    "Sscc",
    "normalize_epc",
    "normalize_epc_class",
    "normalize_identifier",
    "normalize_location",
    "normalize_lot",
    "normalize_party",
    "normalize_sscc",
    "parse_identifier",
    "parse_lot",
]

#: Scheme and host of every normal form (GS1 Digital Link URI Syntax 1.2, canonical URI).
DIGITAL_LINK_BASE = "https://id.gs1.org"
_CANONICAL_HOST = "id.gs1.org"

_ASCII_DIGITS = re.compile(r"[0-9]+", re.ASCII)

#: GS1 AI encodable character set 82 (GS1 General Specifications §7.11, Figure 7.11-1).
CSET_82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
#: Longest lot (AI 10) and serial (AI 21): X..20 (GS1 General Specifications, AI (10) and AI (21)).
MAX_LOT_LENGTH = 20

# EPC URI component characters (TDS §6.3, "GS3A3" grammar): these stand for themselves,
# and exactly the other CSET 82 characters are written as %-escapes.
_URN_LITERAL = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!'()*+,-.:;=_"
)
_URN_ESCAPED = {'"': "%22", "%": "%25", "&": "%26", "/": "%2F", "<": "%3C", ">": "%3E", "?": "%3F"}

#: Parsed identifiers kept in memory.  Parsing is a pure function of the string and returns
#: frozen values, while supply-chain events name the same lots, sites and parties again and
#: again; biip's element-string parsing costs ~0.1 ms, a cache hit well under 1 µs.
IDENTIFIER_CACHE_SIZE = 1 << 16

#: Primary keys a GS1 Digital Link path may start with (GS1 Digital Link URI Syntax 1.2).
_DL_PRIMARY_KEYS = frozenset(
    {"00", "01", "253", "255", "401", "402", "414", "415", "417", "8003", "8004", "8006",
     "8010", "8013", "8017", "8018"}
)  # fmt: skip


def _fail(text: object, problem: str) -> MalformedIdentifierError:
    shown = text if isinstance(text, str) and len(text) <= 120 else f"{str(text)[:117]}..."
    return MalformedIdentifierError(f"{shown!r}: {problem}")


def _require_digits(text: str, what: str, lengths: tuple[int, ...]) -> None:
    if not isinstance(text, str):
        raise _fail(text, f"a {what} must be a string of digits")
    if not _ASCII_DIGITS.fullmatch(text):
        bad = next((ch for ch in text if not ("0" <= ch <= "9")), "")
        raise _fail(text, f"a {what} holds only ASCII digits 0-9, found {bad!r}")
    if len(text) not in lengths:
        expected = " or ".join(str(n) for n in lengths)
        raise _fail(text, f"a {what} has {expected} digits, got {len(text)}")


def _check_digit_ok(text: str, what: str) -> None:
    expected = gs1_standard_check_digit(text[:-1])
    if int(text[-1]) != expected:
        raise _fail(text, f"invalid {what} check digit: expected {expected}, got {text[-1]}")


def _check_cset82(value: str, what: str, max_length: int = MAX_LOT_LENGTH) -> None:
    """GS1 General Specifications §7.11: AI 10/21/254 values are 1-20 CSET 82 characters."""
    if not isinstance(value, str) or not value:
        raise _fail(value, f"a {what} must be a non-empty string")
    if len(value) > max_length:
        raise _fail(value, f"a {what} has at most {max_length} characters, got {len(value)}")
    for position, ch in enumerate(value):
        if ch not in CSET_82:
            raise _fail(
                value,
                f"character {ch!r} (U+{ord(ch):04X}) at position {position} is not allowed in a "
                f"{what} (GS1 AI encodable character set 82)",
            )


def _element(ai: str, value: str) -> GS1ElementString:
    """Build a biip element string, which validates ``value`` against the AI's format."""
    try:
        return GS1ElementString.parse(f"{ai}{value}")
    except ParseError as exc:
        raise _fail(value, f"not a valid GS1 AI ({ai}) value: {exc}") from exc


@lru_cache(maxsize=IDENTIFIER_CACHE_SIZE)
def _digital_link(*elements: tuple[str, str]) -> str:
    """Canonical Digital Link of ``elements`` (primary key first), rendered by biip."""
    strings = GS1ElementStrings()
    for ai, value in elements:
        strings.append(_element(ai, value))
    return GS1DigitalLinkURI.from_element_strings(strings).as_canonical_uri()


def _company_prefix_length(digits: str, length: int | None, what: str) -> int:
    """TDS §6.3: the EPC URI splits a key after its GS1 Company Prefix (6-12 digits)."""
    if length is None:
        found = GS1CompanyPrefix.extract(digits)
        if found is None:
            raise _fail(
                digits,
                f"the GS1 Company Prefix length of this {what} is not in biip's GS1 table; "
                "pass company_prefix_length",
            )
        length = len(found.value)
    if not 6 <= length <= 12:
        raise _fail(digits, f"a GS1 Company Prefix has 6 to 12 digits, not {length}")
    return length


def _urn_escape(value: str) -> str:
    return "".join(_URN_ESCAPED.get(ch, ch) for ch in value)


_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")


def _urn_unescape(component: str, urn: str, what: str) -> str:
    """Decode an EPC URI component (TDS §6.3); refuse characters outside the grammar."""
    out: list[str] = []
    i = 0
    while i < len(component):
        ch = component[i]
        if ch == "%":
            match = _PERCENT.match(component, i)
            if match is None:
                raise _fail(urn, f"bad %-escape in the {what} at position {i}")
            out.append(chr(int(match.group(1), 16)))
            i += 3
            continue
        if ch not in _URN_LITERAL:
            raise _fail(
                urn,
                f"character {ch!r} (U+{ord(ch):04X}) is not allowed in an EPC URI {what}; "
                'CSET 82 characters " % & / < > ? are written %22 %25 %26 %2F %3C %3E %3F',
            )
        out.append(ch)
        i += 1
    return "".join(out)


# --- value types --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Gtin:
    """A Global Trade Item Number held as GTIN-14 (GS1 General Specifications, AI (01)).

    Construction guarantees 14 ASCII digits and a correct check digit; ``parse`` also takes
    GTIN-8/12/13 and pads them.  Also the GTIN-level class identifier of EPCIS quantity lists.
    """

    value: str

    def __post_init__(self) -> None:
        _require_digits(self.value, "GTIN-14", (14,))
        _check_digit_ok(self.value, "GTIN")

    @classmethod
    def parse(cls, text: str) -> Gtin:
        """Parse a GTIN-8, -12, -13 or -14. Raises ``MalformedIdentifierError``."""
        _require_digits(text, "GTIN", (8, 12, 13, 14))
        try:
            gtin = BiipGtin.parse(text)
        except ParseError as exc:
            raise _fail(text, str(exc)) from exc
        return cls(gtin.as_gtin_14())

    @property
    def digital_link(self) -> str:
        """``https://id.gs1.org/01/<gtin14>``."""
        return f"{DIGITAL_LINK_BASE}/01/{self.value}"

    def company_prefix(self, length: int | None = None) -> str:
        """The GS1 Company Prefix (from biip's table unless ``length`` is given)."""
        return self.value[1 : 1 + _company_prefix_length(self.value[1:13], length, "GTIN")]

    def _urn_parts(self, company_prefix_length: int | None) -> tuple[str, str]:
        # TDS §6.3.1: CompanyPrefix . (indicator digit + item reference), no check digit.
        length = _company_prefix_length(self.value[1:13], company_prefix_length, "GTIN")
        return self.value[1 : 1 + length], self.value[0] + self.value[1 + length : 13]

    def to_urn(self, company_prefix_length: int | None = None) -> str:
        """``urn:epc:idpat:sgtin:<prefix>.<indicator+item>.*``, the GTIN class (TDS §8)."""
        prefix, item = self._urn_parts(company_prefix_length)
        return f"urn:epc:idpat:sgtin:{prefix}.{item}.*"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Gln:
    """A Global Location Number (GS1 General Specifications, AI (414)): 13 ASCII digits with
    a correct check digit."""

    value: str

    def __post_init__(self) -> None:
        _require_digits(self.value, "GLN", (13,))
        _check_digit_ok(self.value, "GLN")

    @classmethod
    def parse(cls, text: str) -> Gln:
        """Parse a 13-digit GLN. Raises ``MalformedIdentifierError``."""
        _require_digits(text, "GLN", (13,))
        try:
            BiipGln.parse(text)
        except ParseError as exc:
            raise _fail(text, str(exc)) from exc
        return cls(text)

    def _urn_parts(self, company_prefix_length: int | None) -> tuple[str, str]:
        length = _company_prefix_length(self.value[:12], company_prefix_length, "GLN")
        return self.value[:length], self.value[length:12]

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Sscc:
    """A Serial Shipping Container Code (GS1 General Specifications, AI (00)): 18 ASCII
    digits with a correct check digit."""

    value: str

    def __post_init__(self) -> None:
        _require_digits(self.value, "SSCC", (18,))
        _check_digit_ok(self.value, "SSCC")

    @classmethod
    def parse(cls, text: str) -> Sscc:
        """Parse an 18-digit SSCC. Raises ``MalformedIdentifierError``."""
        _require_digits(text, "SSCC", (18,))
        try:
            BiipSscc.parse(text)
        except ParseError as exc:
            raise _fail(text, str(exc)) from exc
        return cls(text)

    @property
    def digital_link(self) -> str:
        """``https://id.gs1.org/00/<sscc18>``."""
        return f"{DIGITAL_LINK_BASE}/00/{self.value}"

    def to_urn(self, company_prefix_length: int | None = None) -> str:
        """``urn:epc:id:sscc:<prefix>.<extension digit + serial reference>`` (TDS §6.3.2)."""
        length = _company_prefix_length(self.value[1:17], company_prefix_length, "SSCC")
        prefix = self.value[1 : 1 + length]
        return f"urn:epc:id:sscc:{prefix}.{self.value[0]}{self.value[1 + length : 17]}"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Lot:
    """A batch/lot of a trade item (LGTIN): GTIN plus AI (10) lot number.

    The lot is 1-20 characters of CSET 82, kept decoded (``"AB/1"``, not ``"AB%2F1"``).
    """

    gtin: Gtin
    lot: str

    def __post_init__(self) -> None:
        _check_cset82(self.lot, "lot number (AI 10)")

    @property
    def digital_link(self) -> str:
        """The normal form ``https://id.gs1.org/01/<gtin14>/10/<percent-encoded lot>``."""
        return _digital_link(("01", self.gtin.value), ("10", self.lot))

    def to_urn(self, company_prefix_length: int | None = None) -> str:
        """``urn:epc:class:lgtin:<prefix>.<indicator+item>.<lot>`` (TDS EPC class URI)."""
        prefix, item = self.gtin._urn_parts(company_prefix_length)
        return f"urn:epc:class:lgtin:{prefix}.{item}.{_urn_escape(self.lot)}"

    def __str__(self) -> str:
        return self.digital_link


@dataclass(frozen=True, slots=True)
class Sgtin:
    """A serialised trade item instance (SGTIN): GTIN plus AI (21) serial number."""

    gtin: Gtin
    serial: str

    def __post_init__(self) -> None:
        _check_cset82(self.serial, "serial number (AI 21)")

    @property
    def digital_link(self) -> str:
        """``https://id.gs1.org/01/<gtin14>/21/<percent-encoded serial>``."""
        return _digital_link(("01", self.gtin.value), ("21", self.serial))

    def to_urn(self, company_prefix_length: int | None = None) -> str:
        """``urn:epc:id:sgtin:<prefix>.<indicator+item>.<serial>`` (TDS §6.3.1)."""
        prefix, item = self.gtin._urn_parts(company_prefix_length)
        return f"urn:epc:id:sgtin:{prefix}.{item}.{_urn_escape(self.serial)}"

    def __str__(self) -> str:
        return self.digital_link


@dataclass(frozen=True, slots=True)
class Location:
    """A physical location: GLN plus optional AI (254) extension (SGLN, TDS §6.3.3).

    ``extension`` is None when there is none (the SGLN extension ``0`` means "none").
    """

    gln: Gln
    extension: str | None = None

    def __post_init__(self) -> None:
        if self.extension is not None:
            _check_cset82(self.extension, "GLN extension (AI 254)")

    @property
    def digital_link(self) -> str:
        """``https://id.gs1.org/414/<gln>`` plus ``/254/<extension>`` when there is one."""
        if self.extension is None:
            return f"{DIGITAL_LINK_BASE}/414/{self.gln.value}"
        return _digital_link(("414", self.gln.value), ("254", self.extension))

    def to_urn(self, company_prefix_length: int | None = None) -> str:
        """``urn:epc:id:sgln:<prefix>.<location ref>.<extension or 0>`` (TDS §6.3.3)."""
        prefix, reference = self.gln._urn_parts(company_prefix_length)
        extension = "0" if self.extension is None else _urn_escape(self.extension)
        return f"urn:epc:id:sgln:{prefix}.{reference}.{extension}"

    def __str__(self) -> str:
        return self.digital_link


@dataclass(frozen=True, slots=True)
class Party:
    """A party (legal or functional entity) identified by its GLN (PGLN, AI 417)."""

    gln: Gln

    @property
    def digital_link(self) -> str:
        """``https://id.gs1.org/417/<gln>``."""
        return f"{DIGITAL_LINK_BASE}/417/{self.gln.value}"

    def to_urn(self, company_prefix_length: int | None = None) -> str:
        """``urn:epc:id:pgln:<prefix>.<party ref>`` (TDS §6.3.15)."""
        prefix, reference = self.gln._urn_parts(company_prefix_length)
        return f"urn:epc:id:pgln:{prefix}.{reference}"

    def __str__(self) -> str:
        return self.digital_link


@dataclass(frozen=True, slots=True)
class OtherKey:
    """Any other GS1 key (GRAI, GIAI, GSRN, GDTI...) held as its canonical Digital Link.

    ``elements`` are (AI, value) pairs, primary key first.  Only the syntax of each AI is
    checked (by biip); check digits of these keys are not.
    """

    elements: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        if not self.elements or self.elements[0][0] not in _DL_PRIMARY_KEYS:
            raise _fail(self.elements, "a GS1 key starts with a primary key AI")
        for ai, value in self.elements:
            _element(ai, value)

    @property
    def digital_link(self) -> str:
        """The canonical Digital Link rendered by biip."""
        return _digital_link(*self.elements)

    def __str__(self) -> str:
        return self.digital_link


#: What ``parse_identifier`` returns for a GS1 identifier.
Gs1Key: TypeAlias = Gtin | Lot | Sgtin | Sscc | Location | Party | OtherKey


# --- EPC URIs (TDS §6) ----------------------------------------------------------------


def _split_prefix_and_rest(urn: str, body: str, parts: int, what: str) -> list[str]:
    # Only the leading components are digits; the last (serial, lot...) may contain dots.
    pieces = body.split(".", parts - 1)
    if len(pieces) != parts:
        raise _fail(urn, f"an EPC {what} URI has {parts} dot-separated components")
    return pieces


def _key_digits(urn: str, prefix: str, reference: str, total: int, what: str) -> str:
    """TDS §6.3: prefix (6-12 digits) + reference together hold exactly ``total`` digits."""
    if not _ASCII_DIGITS.fullmatch(prefix) or not 6 <= len(prefix) <= 12:
        raise _fail(urn, f"the GS1 Company Prefix of a {what} is 6 to 12 ASCII digits")
    if reference and not _ASCII_DIGITS.fullmatch(reference):
        raise _fail(urn, f"the reference of a {what} holds only ASCII digits")
    if len(prefix) + len(reference) != total:
        raise _fail(
            urn,
            f"company prefix and reference of a {what} hold {total} digits together, "
            f"got {len(prefix) + len(reference)}",
        )
    return prefix + reference


def _with_check_digit(payload: str) -> str:
    return payload + str(gs1_standard_check_digit(payload))


def _gtin_from_urn(urn: str, prefix: str, item: str) -> Gtin:
    digits = _key_digits(urn, prefix, item, 13, "GTIN")
    # The first digit of the item component is the indicator digit (TDS §6.3.1).
    return Gtin(_with_check_digit(digits[len(prefix)] + prefix + item[1:]))


def _parse_urn(urn: str) -> Gs1Key | None:
    """Parse ``urn:epc:...``; None for EPC schemes this module keeps as opaque URIs."""
    _head, _, body = urn.partition(":epc:")
    kind, _, rest = body.partition(":")
    scheme, _, value = rest.partition(":")
    if kind in ("tag", "raw"):
        raise _fail(urn, "EPC tag and raw URIs are not pure identities; use urn:epc:id:...")
    if kind not in ("id", "class", "idpat") or not scheme or not value:
        raise _fail(urn, "not an EPC pure identity URI (urn:epc:id|class|idpat:<scheme>:...)")
    if (kind, scheme) == ("class", "lgtin"):
        prefix, item, lot = _split_prefix_and_rest(urn, value, 3, "LGTIN")
        return Lot(_gtin_from_urn(urn, prefix, item), _urn_unescape(lot, urn, "lot"))
    if (kind, scheme) == ("id", "sgtin"):
        prefix, item, serial = _split_prefix_and_rest(urn, value, 3, "SGTIN")
        return Sgtin(_gtin_from_urn(urn, prefix, item), _urn_unescape(serial, urn, "serial"))
    if (kind, scheme) == ("idpat", "sgtin"):
        prefix, item, star = _split_prefix_and_rest(urn, value, 3, "SGTIN pattern")
        if star != "*":
            raise _fail(urn, "an SGTIN class pattern ends in '.*' (TDS §8)")
        return _gtin_from_urn(urn, prefix, item)
    if (kind, scheme) == ("id", "sscc"):
        prefix, serial = _split_prefix_and_rest(urn, value, 2, "SSCC")
        digits = _key_digits(urn, prefix, serial, 17, "SSCC")
        # The serial reference starts with the extension digit (TDS §6.3.2).
        return Sscc(_with_check_digit(digits[len(prefix)] + prefix + serial[1:]))
    if (kind, scheme) == ("id", "sgln"):
        prefix, reference, extension = _split_prefix_and_rest(urn, value, 3, "SGLN")
        gln = Gln(_with_check_digit(_key_digits(urn, prefix, reference, 12, "GLN")))
        if extension == "0":
            return Location(gln)
        return Location(gln, _urn_unescape(extension, urn, "GLN extension"))
    if (kind, scheme) == ("id", "pgln"):
        prefix, reference = _split_prefix_and_rest(urn, value, 2, "PGLN")
        return Party(Gln(_with_check_digit(_key_digits(urn, prefix, reference, 12, "GLN"))))
    if kind == "id" and scheme in _OTHER_URN_SCHEMES:
        return _OTHER_URN_SCHEMES[scheme](urn, value)
    if kind in ("id", "class", "idpat"):
        return None  # CPI, ITIP, UPUI, GID, USDOD, ADI, BIC, IMOVN...: kept as given
    raise AssertionError("unreachable")  # pragma: no cover


_UrnParser: TypeAlias = Callable[[str, str], OtherKey]


def _grai(urn: str, value: str) -> OtherKey:
    # TDS §6.3.4: GRAI = "0" + prefix + asset type + check digit, then the serial.
    prefix, asset, serial = _split_prefix_and_rest(urn, value, 3, "GRAI")
    key = "0" + _with_check_digit(_key_digits(urn, prefix, asset, 12, "GRAI"))
    return OtherKey((("8003", key + _urn_unescape(serial, urn, "serial")),))


def _giai(urn: str, value: str) -> OtherKey:
    # TDS §6.3.5: GIAI = prefix + individual asset reference.
    prefix, reference = _split_prefix_and_rest(urn, value, 2, "GIAI")
    _key_digits(urn, prefix, "", len(prefix), "GIAI")
    return OtherKey((("8004", prefix + _urn_unescape(reference, urn, "asset reference")),))


def _gsrn(ai: str) -> _UrnParser:
    def parse(urn: str, value: str) -> OtherKey:
        # TDS §6.3.6-7: GSRN = prefix + service reference (17 digits) + check digit.
        prefix, reference = _split_prefix_and_rest(urn, value, 2, "GSRN")
        return OtherKey(((ai, _with_check_digit(_key_digits(urn, prefix, reference, 17, "GSRN"))),))

    return parse


def _gdti(urn: str, value: str) -> OtherKey:
    # TDS §6.3.8: GDTI = prefix + document type (12 digits) + check digit + serial.
    prefix, doc_type, serial = _split_prefix_and_rest(urn, value, 3, "GDTI")
    digits = _with_check_digit(_key_digits(urn, prefix, doc_type, 12, "GDTI"))
    return OtherKey((("253", digits + _urn_unescape(serial, urn, "serial")),))


def _sgcn(urn: str, value: str) -> OtherKey:
    # TDS §6.3.10: GCN = prefix + coupon reference (12 digits) + check digit + serial.
    prefix, coupon, serial = _split_prefix_and_rest(urn, value, 3, "SGCN")
    key = _with_check_digit(_key_digits(urn, prefix, coupon, 12, "SGCN"))
    return OtherKey((("255", key + serial),))


def _ginc(urn: str, value: str) -> OtherKey:
    # TDS §6.3.11: GINC = prefix + consignment reference.
    prefix, reference = _split_prefix_and_rest(urn, value, 2, "GINC")
    _key_digits(urn, prefix, "", len(prefix), "GINC")
    return OtherKey((("401", prefix + _urn_unescape(reference, urn, "consignment reference")),))


def _gsin(urn: str, value: str) -> OtherKey:
    # TDS §6.3.12: GSIN = prefix + shipper reference (16 digits) + check digit.
    prefix, reference = _split_prefix_and_rest(urn, value, 2, "GSIN")
    return OtherKey((("402", _with_check_digit(_key_digits(urn, prefix, reference, 16, "GSIN"))),))


_OTHER_URN_SCHEMES: dict[str, _UrnParser] = {
    "grai": _grai,
    "giai": _giai,
    "gsrn": _gsrn("8018"),
    "gsrnp": _gsrn("8017"),
    "gdti": _gdti,
    "sgcn": _sgcn,
    "ginc": _ginc,
    "gsin": _gsin,
}


# --- GS1 Digital Link URIs and element strings --------------------------------------------


def _from_elements(text: str, strings: list[GS1ElementString]) -> Gs1Key:
    """Map parsed element strings (primary key first) onto the identifier types."""
    for es in strings:
        error = es.gtin_error or es.gln_error or es.sscc_error
        if error:
            raise _fail(text, error)
    ais = tuple(es.ai.ai for es in strings)
    values = {es.ai.ai: es.value for es in strings}
    match ais:
        case ("01",):
            return Gtin.parse(values["01"])
        case ("01", "10"):
            return Lot(Gtin.parse(values["01"]), values["10"])
        case ("01", "21"):
            return Sgtin(Gtin.parse(values["01"]), values["21"])
        case ("01", *_):
            raise _fail(
                text,
                "EPCIS identifies a trade item as /01/<gtin>, /01/<gtin>/10/<lot> or "
                f"/01/<gtin>/21/<serial>, not with AIs {'/'.join(ais)}",
            )
        case ("00",):
            return Sscc.parse(values["00"])
        case ("414",):
            return Location(Gln.parse(values["414"]))
        case ("414", "254"):
            return Location(Gln.parse(values["414"]), values["254"])
        case ("417",):
            return Party(Gln.parse(values["417"]))
        case (primary, *_) if primary in ("414", "417"):
            raise _fail(text, f"unsupported qualifiers {'/'.join(ais[1:])} for AI ({primary})")
        case (primary, *_) if primary in _DL_PRIMARY_KEYS:
            return OtherKey(tuple((es.ai.ai, es.value) for es in strings))
        case _:
            raise _fail(text, f"AI ({ais[0] if ais else '?'}) is not a GS1 primary key")


def _explain_digital_link(uri: str, segments: list[str]) -> None:
    """Raise a precise error for the first bad AI value of a Digital Link biip refused."""
    start = next((i for i, s in enumerate(segments) if s in _DL_PRIMARY_KEYS), len(segments))
    pairs = segments[start:]
    for ai, raw in zip(pairs[::2], pairs[1::2], strict=False):
        value = unquote(raw)
        try:
            match ai:
                case "01":
                    Gtin.parse(value)
                case "00":
                    Sscc.parse(value)
                case "414" | "417":
                    Gln.parse(value)
                case "10":
                    _check_cset82(value, "lot number (AI 10)")
                case "21":
                    _check_cset82(value, "serial number (AI 21)")
                case "254":
                    _check_cset82(value, "GLN extension (AI 254)")
        except MalformedIdentifierError as exc:
            raise _fail(uri, f"GS1 Digital Link AI ({ai}): {exc.message}") from exc


def _parse_digital_link(uri: str) -> Gs1Key | None:
    """Parse a GS1 Digital Link URI; None if ``uri`` is an ordinary web URI (another host)."""
    parts = urlsplit(uri)
    host = (parts.hostname or "").lower()
    segments = [s for s in parts.path.split("/") if s]
    canonical_host = host == _CANONICAL_HOST
    try:
        link = GS1DigitalLinkURI.parse(uri)
    except ParseError as exc:
        if canonical_host or (segments and segments[0] in _DL_PRIMARY_KEYS):
            _explain_digital_link(uri, segments)
            raise _fail(uri, f"not a valid GS1 Digital Link URI: {exc}") from exc
        return None
    if parts.query or parts.fragment or uri.endswith(("?", "#")):
        # GS1 Digital Link URI Syntax 1.2: data attributes are not part of the identifier.
        raise _fail(uri, "an identifier must not carry a query string or fragment")
    return _from_elements(uri, list(link.element_strings))


def _parse_element_string(text: str) -> Gs1Key:
    """Parse a bracketed GS1 element string such as ``(01)09506000134369(10)ABC``."""
    try:
        message = GS1Message.parse_hri(text)
    except ParseError as exc:
        raise _fail(text, f"not a valid GS1 element string: {exc}") from exc
    # GS1 element strings carry no "primary key first" rule; put it first if present.
    ordered = sorted(
        enumerate(message.element_strings),
        key=lambda pair: (pair[1].ai.ai not in _DL_PRIMARY_KEYS, pair[0]),
    )
    return _from_elements(text, [es for _, es in ordered])


def parse_identifier(text: str) -> Gs1Key | None:
    """Parse any supported form of a GS1 identifier.

    Accepts EPC URIs (``urn:epc:...``), GS1 Digital Link URIs on any host, and bracketed
    element strings (``(01)...(10)...``).  Returns None for a well-formed URI that is not a
    GS1 identifier (``https://example.com/farm``, ``urn:uuid:...``, and EPC schemes this
    module does not convert).  Raises ``MalformedIdentifierError`` for anything that is not
    a URI, and for GS1 identifiers that are malformed (bad check digit, wrong length,
    illegal characters...).
    """
    if not isinstance(text, str):
        raise _fail(text, f"an identifier is a string, not {type(text).__name__}")
    return _parse_identifier(text)


@lru_cache(maxsize=IDENTIFIER_CACHE_SIZE)
def _parse_identifier(text: str) -> Gs1Key | None:
    if text.startswith("(") and text.isascii():
        return _parse_element_string(text)
    if not is_absolute_uri(text):
        raise _fail(
            text, f"not an absolute URI (RFC 3986) nor a GS1 element string: {uri_problem(text)}"
        )
    lowered = text[:8].lower()
    if lowered.startswith("urn:epc:"):
        if not text.startswith("urn:epc:"):
            raise _fail(text, "EPC URIs are written in lower case: 'urn:epc:...'")
        return _parse_urn(text)
    if lowered.startswith(("http://", "https://")):
        return _parse_digital_link(text)
    return None


# --- normalisers --------------------------------------------------------------------------


def _kind(key: Gs1Key) -> str:
    return {
        Gtin: "a trade item class (GTIN)",
        Lot: "a lot (LGTIN)",
        Sgtin: "a trade item instance (SGTIN)",
        Sscc: "a logistic unit (SSCC)",
        Location: "a location (SGLN)",
        Party: "a party (PGLN)",
        OtherKey: "a GS1 key",
    }[type(key)]


def normalize_identifier(text: str) -> str:
    """The normal form of any identifier: GS1 keys become canonical Digital Links, other
    URIs are returned unchanged. Raises ``MalformedIdentifierError``."""
    key = parse_identifier(text)
    return text if key is None else key.digital_link


def parse_lot(text: str) -> Lot:
    """Parse a lot given as LGTIN URN, Digital Link ``/01/<gtin>/10/<lot>`` or element string
    ``(01)<gtin>(10)<lot>``. Raises ``MalformedIdentifierError`` for anything else."""
    key = parse_identifier(text)
    if not isinstance(key, Lot):
        what = "an ordinary URI" if key is None else _kind(key)
        raise _fail(
            text,
            f"expected a lot (urn:epc:class:lgtin:... or .../01/<gtin>/10/<lot>), got {what}",
        )
    return key


def normalize_lot(text: str) -> str:
    """``LotId`` normal form ``https://id.gs1.org/01/<gtin14>/10/<lot>`` of any lot form.

    Raises ``MalformedIdentifierError`` for bad check digits, lengths, characters, or an
    identifier that is not a lot.
    """
    return parse_lot(text).digital_link


def normalize_sscc(text: str) -> str:
    """``https://id.gs1.org/00/<sscc18>`` from an SSCC URN, Digital Link, element string
    or the bare 18 digits. Raises ``MalformedIdentifierError``."""
    if isinstance(text, str) and text.isdigit():
        return Sscc.parse(text).digital_link
    key = parse_identifier(text)
    if not isinstance(key, Sscc):
        what = "an ordinary URI" if key is None else _kind(key)
        raise _fail(text, f"expected an SSCC (urn:epc:id:sscc:... or .../00/<sscc>), got {what}")
    return key.digital_link


def normalize_epc(text: str) -> str:
    """Normal form of an instance identifier (EPCIS ``epcList``, ``childEPCs``, ``parentID``).

    SGTINs, SSCCs and other GS1 keys become canonical Digital Links; non-GS1 URIs are kept.
    Class-level identifiers (a GTIN or a lot) are refused: they belong in quantity lists.
    Raises ``MalformedIdentifierError``.
    """
    key = parse_identifier(text)
    if key is None:
        return text
    if isinstance(key, Gtin | Lot):
        raise _fail(
            text,
            f"{_kind(key)} names a class of objects, not one object; "
            "put it in a quantity list with a quantity",
        )
    return key.digital_link


def normalize_epc_class(text: str) -> str:
    """Normal form of a class identifier (EPCIS ``epcClass`` of a quantity element).

    Lots and GTIN classes (``urn:epc:idpat:sgtin:...*``) become Digital Links, other GS1 keys
    likewise; non-GS1 URIs are kept.  Instance identifiers (SGTIN, SSCC), locations and
    parties are refused. Raises ``MalformedIdentifierError``.
    """
    key = parse_identifier(text)
    if key is None:
        return text
    if isinstance(key, Sgtin | Sscc | Location | Party):
        raise _fail(text, f"{_kind(key)} is not a class of objects; epcClass names a lot or GTIN")
    return key.digital_link


def normalize_location(text: str) -> str:
    """Normal form of a location (``readPoint``, ``bizLocation``, ``location`` source or
    destination): ``https://id.gs1.org/414/<gln>[/254/<ext>]``; non-GS1 URIs are kept.
    Raises ``MalformedIdentifierError`` for other GS1 identifiers (a PGLN names a party)."""
    key = parse_identifier(text)
    if key is None:
        return text
    if not isinstance(key, Location):
        raise _fail(text, f"expected a location (SGLN or .../414/<gln>), got {_kind(key)}")
    return key.digital_link


def normalize_party(text: str) -> str:
    """Normal form of a party (``owning_party`` / ``possessing_party``):
    ``https://id.gs1.org/417/<gln>``.

    A GLN written as a location without extension (``urn:epc:id:sgln:...0``, ``/414/<gln>``),
    as EPCIS 1.x did before the PGLN existed, is the same GLN and becomes the party form;
    with an extension it is refused.  Non-GS1 URIs are kept.
    Raises ``MalformedIdentifierError``.
    """
    key = parse_identifier(text)
    if key is None:
        return text
    if isinstance(key, Location) and key.extension is None:
        return Party(key.gln).digital_link
    if not isinstance(key, Party):
        detail = "a location with an extension" if isinstance(key, Location) else _kind(key)
        raise _fail(text, f"expected a party (PGLN or .../417/<gln>), got {detail}")
    return key.digital_link

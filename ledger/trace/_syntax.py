"""Small, dependency-free syntax checks shared by the traceability modules.

* RFC 3986 absolute URIs (the ``uri`` format of the EPCIS 2.0 JSON schema),
* RFC 3339 date-times with a mandatory offset (the schema's ``date-time`` format),
* canonical decimal strings (DESIGN §2: signed documents carry no floats),
* JSON paths for error messages (``epcisBody.eventList[2].quantityList[0].quantity``).

Everything here is ASCII-only on purpose: EPCIS identifiers, times and numbers are ASCII, so a
fullwidth digit or a decomposed accent is refused rather than normalised.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache

# --- RFC 3986 §3 / Appendix A -------------------------------------------------------------
# Mirrors the ABNF-derived expression used by the JSON schema's ``uri`` format checker
# (rfc3986-validator), so that we accept and refuse the same strings.  re.ASCII keeps ``\d``
# and friends to ASCII; every class below is spelled out in ASCII anyway.
_IPV4 = r"(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
_H16 = r"[0-9A-Fa-f]{1,4}"
_LS32 = rf"(?:{_H16}:{_H16}|{_IPV4})"
_IPV6 = (
    r"(?:"
    rf"(?:{_H16}:){{6}}{_LS32}"
    rf"|::(?:{_H16}:){{5}}{_LS32}"
    rf"|(?:{_H16})?::(?:{_H16}:){{4}}{_LS32}"
    rf"|(?:(?:{_H16}:){{0,1}}{_H16})?::(?:{_H16}:){{3}}{_LS32}"
    rf"|(?:(?:{_H16}:){{0,2}}{_H16})?::(?:{_H16}:){{2}}{_LS32}"
    rf"|(?:(?:{_H16}:){{0,3}}{_H16})?::{_H16}:{_LS32}"
    rf"|(?:(?:{_H16}:){{0,4}}{_H16})?::{_LS32}"
    rf"|(?:(?:{_H16}:){{0,5}}{_H16})?::{_H16}"
    rf"|(?:(?:{_H16}:){{0,6}}{_H16})?::"
    r")"
)
_PCT = r"%[0-9A-Fa-f]{2}"
_UNRESERVED_SUB = r"a-zA-Z0-9_.~\-!$&'()*+,;="
_USERINFO = rf"(?:[{_UNRESERVED_SUB}:]|{_PCT})*"
_REG_NAME = rf"(?:[{_UNRESERVED_SUB}]|{_PCT})*"
_HOST = rf"(?:\[(?:{_IPV6}|v[0-9A-Fa-f]+\.[{_UNRESERVED_SUB}:]+)\]|{_IPV4}|{_REG_NAME})"
_AUTHORITY = rf"(?:{_USERINFO}@)?{_HOST}(?::[0-9]*)?"
_PCHAR = rf"(?:[{_UNRESERVED_SUB}:@]|{_PCT})"
_QUERY = rf"(?:[{_UNRESERVED_SUB}:@/?]|{_PCT})*"
_SCHEME = r"[a-zA-Z][a-zA-Z0-9+.\-]*"
_URI = re.compile(
    rf"(?P<scheme>{_SCHEME}):"
    rf"(?:(?P<authority>//{_AUTHORITY})(?:/{_PCHAR}*)*"
    rf"|/(?:{_PCHAR}+(?:/{_PCHAR}*)*)?"
    rf"|{_PCHAR}+(?:/{_PCHAR}*)*"
    r"|)"
    rf"(?:\?{_QUERY})?"
    rf"(?:\#{_QUERY})?",
    re.ASCII,
)


def is_absolute_uri(text: str) -> bool:
    """True if ``text`` is an RFC 3986 URI (``scheme ":" hier-part [ "?" query ] [ "#" ... ]``)."""
    return _URI.fullmatch(text) is not None


def uri_problem(text: str) -> str:
    """A short human explanation of why ``text`` is not an absolute URI."""
    for position, ch in enumerate(text):
        if not ch.isascii():
            return f"character {ch!r} (U+{ord(ch):04X}) at position {position} is not ASCII"
        if ch.isspace() or ch in '"<>\\^`{|}':
            return f"character {ch!r} at position {position} must be percent-encoded"
    if not re.match(rf"{_SCHEME}:", text):
        return "it has no scheme (such as 'https:' or 'urn:')"
    return "it breaks the RFC 3986 URI syntax"


def has_authority(text: str) -> bool:
    """True if ``text`` is an absolute URI with an authority (``scheme://host...``)."""
    match = _URI.fullmatch(text)
    return match is not None and match.group("authority") is not None


def uri_scheme(text: str) -> str | None:
    """The lower-cased scheme of an absolute URI, or None if ``text`` is not one."""
    match = _URI.fullmatch(text)
    return match.group("scheme").lower() if match else None


# --- RFC 3339 §5.6 ------------------------------------------------------------------------
_DATE_TIME = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>0[1-9]|1[0-2])-(?P<day>[0-9]{2})"
    r"[Tt](?P<hour>[01][0-9]|2[0-3]):(?P<minute>[0-5][0-9]):(?P<second>[0-5][0-9])"
    r"(?:\.(?P<fraction>[0-9]+))?"
    r"(?P<offset>[Zz]|(?P<sign>[+-])(?P<oh>[01][0-9]|2[0-3]):(?P<om>[0-5][0-9]))",
    re.ASCII,
)


@lru_cache(maxsize=512)
def _zone(offset: str) -> timezone:
    """The fixed time zone of an RFC 3339 offset (``Z``, ``z`` or ``±hh:mm``, syntax checked)."""
    if offset in ("Z", "z"):
        return UTC
    delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
    return timezone(-delta if offset[0] == "-" else delta)


def parse_date_time(text: str) -> datetime:
    """Parse an RFC 3339 ``date-time`` (offset mandatory) into an aware UTC ``datetime``.

    Fractions beyond microseconds are truncated (the string itself is kept by callers).
    Raises ``ValueError`` naming what is wrong.
    """
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not an RFC 3339 date-time with a time-zone offset "
            "(expected e.g. '2026-11-22T10:00:00.000+01:00' or '...Z')"
        )
    year, month, day, hour, minute, second, fraction, offset, _, _, _ = match.groups()
    try:
        value = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "").ljust(6, "0")[:6]),
            tzinfo=_zone(offset),
        )
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid date-time: {exc}") from exc
    if value.year == 0:  # pragma: no cover - datetime refuses year 0 already
        raise ValueError(f"{text!r}: year 0 does not exist")
    return value.astimezone(UTC)


def format_utc(value: datetime) -> str:
    """Render an aware ``datetime`` as RFC 3339 in UTC (``...Z``), microseconds when present."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    utc = value.astimezone(UTC)
    text = (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
    )
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


# --- canonical decimal strings (DESIGN §2) ------------------------------------------------
#: Longest decimal string accepted anywhere; bounds work and storage for absurd inputs.
MAX_DECIMAL_CHARS = 40
_CANONICAL_DECIMAL = re.compile(r"0|-?(?:[1-9][0-9]*(?:\.[0-9]*[1-9])?|0\.[0-9]*[1-9])", re.ASCII)


def canonical_decimal(value: Decimal) -> str:
    """The one string form of a finite ``Decimal``: plain notation, no exponent, no leading
    ``+``, no trailing fractional zeros, no ``-0`` (``Decimal("200.50")`` → ``"200.5"``).

    Works on the digit tuple, never through a ``decimal`` context, so nothing is rounded.
    Raises ``ValueError`` for NaN, infinities and strings longer than ``MAX_DECIMAL_CHARS``.
    """
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite number")
    sign, digits_tuple, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digits_tuple)).lstrip("0")
    if not digits:
        return "0"
    if exponent >= 0:
        integer, fraction = digits + "0" * exponent, ""
    else:
        places = -exponent
        padded = digits.rjust(places + 1, "0")
        integer, fraction = padded[:-places], padded[-places:].rstrip("0")
    integer = integer.lstrip("0") or "0"
    text = integer + ("." + fraction if fraction else "")
    if text == "0":
        return "0"
    text = ("-" if sign else "") + text
    if len(text) > MAX_DECIMAL_CHARS:
        raise ValueError(f"number has more than {MAX_DECIMAL_CHARS} characters")
    return text


def parse_canonical_decimal(text: str) -> Decimal:
    """Parse a decimal string that must already be in ``canonical_decimal`` form.

    Raises ``ValueError`` saying what the canonical form would have been, when there is one.
    """
    if len(text) <= MAX_DECIMAL_CHARS and _CANONICAL_DECIMAL.fullmatch(text):
        return Decimal(text)
    try:
        candidate = Decimal(text) if text.isascii() and text.strip() == text else None
    except InvalidOperation:
        candidate = None
    if candidate is not None and candidate.is_finite():
        try:
            expected = canonical_decimal(candidate)
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a usable decimal: {exc}") from exc
        raise ValueError(f"decimal string {text!r} is not canonical; expected {expected!r}")
    raise ValueError(f"{text!r} is not a decimal string such as '12.5'")


# --- JSON paths for error messages --------------------------------------------------------
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)

PathPart = str | int


def json_path(parts: tuple[PathPart, ...] | list[PathPart]) -> str:
    """Render path parts as ``a.b[2].c``; keys that are not identifiers use ``["..."]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            escaped = part.replace("\\", "\\\\").replace('"', '\\"')
            out += f'["{escaped}"]'
    return out

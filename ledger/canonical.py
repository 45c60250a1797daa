"""The one canonical encoder: RFC 8785 (JCS) bytes for every hash and signature.

DESIGN §2 allows a faster encoder only where it is byte-identical to RFC 8785 for every
accepted document. Accepted documents hold only ``dict`` (string keys), ``list``, ``str``,
``int`` within ±2^53, ``bool`` and ``None`` — no floats. For those, the C-accelerated
``json`` encoder with sorted keys, no whitespace and ``ensure_ascii=False`` emits exactly the
JCS serialisation (RFC 8785 §3.2.2.2 string escaping is the ECMAScript one, which Python's
encoder shares), with one exception: JCS sorts object keys by UTF-16 code units (§3.2.3) and
Python by code points. The two orders differ only when a key holds a code point at or above
U+E000 next to one beyond U+FFFF, so keys with any code point above U+D7FF take the reference
``rfc8785`` path. ``tests/ledger/test_canonical.py`` proves the equivalence with Hypothesis.

``parse_json`` is the matching strict reader: it refuses duplicate keys, floats, numbers
outside ±2^53, lone surrogates, invalid UTF-8 and absurd nesting, so that whatever it returns
can be canonicalised and round-trips.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeAlias, cast

import rfc8785

from ledger.errors import CanonicalizationError

#: JSON values that may be hashed or signed (DESIGN §2: no floats).
JSONValue: TypeAlias = "bool | int | str | list[JSONValue] | dict[str, JSONValue] | None"
JSONObject: TypeAlias = "dict[str, JSONValue]"

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
MAX_SAFE_INTEGER = 2**53 - 1
#: Deeper documents are refused; no legitimate statement nests more than a few levels.
MAX_DEPTH = 32

#: The C-accelerated encoder that equals RFC 8785 on documents ``_check`` accepts as fast.
FAST_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
)


def _check(value: object, depth: int) -> bool:
    """Validate ``value`` as a signable JSON document; True if the fast encoder applies.

    Lone surrogates are not looked for here: encoding the result to UTF-8 refuses them.
    """
    if depth > MAX_DEPTH:
        raise CanonicalizationError(f"document nests deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:  # type: ignore[operator]
            raise CanonicalizationError(
                f"integer {value} is outside ±(2^53-1); send large quantities as decimal strings"
            )
        return True
    if kind is dict:
        fast = True
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                raise CanonicalizationError(f"object key {key!r} is not a string")
            if fast and not key.isascii() and max(key) > "\ud7ff":
                fast = False
            if type(item) is not str and not _check(item, depth + 1):
                fast = False
        return fast
    if kind is list:
        fast = True
        for item in value:  # type: ignore[attr-defined]
            if type(item) is not str and not _check(item, depth + 1):
                fast = False
        return fast
    if kind is float:
        raise CanonicalizationError(
            "floating-point numbers are not allowed in signed documents; "
            'use a decimal string such as "12.50"'
        )
    if isinstance(value, str):  # str subclasses such as StrEnum members
        return True
    if isinstance(value, int) and not isinstance(value, bool):
        return _check(int(value), depth)
    raise CanonicalizationError(f"{kind.__name__} is not a JSON value")


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalizationError(
            f"string contains a lone surrogate at position {exc.start}"
        ) from exc


def canonical_bytes(document: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``document``.

    Raises ``CanonicalizationError`` for floats, out-of-range integers, non-string keys, lone
    surrogates, non-JSON types and nesting deeper than ``MAX_DEPTH``.
    """
    if _check(document, 0):
        return _utf8(FAST_ENCODER.encode(document))
    _utf8(FAST_ENCODER.encode(document))  # refuse lone surrogates with our own message
    try:
        return rfc8785.dumps(cast("Any", document))
    except rfc8785.CanonicalizationError as exc:  # pragma: no cover - _check rejects first
        raise CanonicalizationError(str(exc)) from exc


def _reject_float(text: str) -> Any:
    raise CanonicalizationError(
        f"number {text} is not an integer; send quantities and money as decimal strings"
    )


def _reject_constant(text: str) -> Any:
    raise CanonicalizationError(f"{text} is not valid JSON")


def _parse_int(text: str) -> int:
    if len(text) > 17:
        raise CanonicalizationError(f"integer {text[:20]}... is outside ±(2^53-1)")
    value = int(text)
    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise CanonicalizationError(f"integer {text} is outside ±(2^53-1)")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise CanonicalizationError(f"duplicate object key {key!r}")
        result[key] = value
    return result


def parse_json(data: bytes | str) -> JSONValue:
    """Parse JSON strictly into a value that ``canonical_bytes`` accepts.

    Raises ``CanonicalizationError`` naming the first problem: invalid UTF-8, syntax errors,
    duplicate keys, floats, NaN/Infinity, out-of-range integers, lone surrogates, deep nesting.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CanonicalizationError(f"invalid UTF-8 at byte {exc.start}") from exc
    else:
        text = data
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_reject_float,
            parse_int=_parse_int,
            parse_constant=_reject_constant,
        )
    except json.JSONDecodeError as exc:
        raise CanonicalizationError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    except RecursionError as exc:
        raise CanonicalizationError(f"document nests deeper than {MAX_DEPTH} levels") from exc
    _check(value, 0)
    if _SURROGATE_ESCAPE.search(text):  # only \uD800-\uDFFF escapes can make lone surrogates
        _utf8(FAST_ENCODER.encode(value))
    result: JSONValue = value
    return result

"""GS1 identifiers: every written form reaches the one normal form; bad ones are refused."""

from __future__ import annotations

import pytest
from biip.checksums import gs1_standard_check_digit
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import MalformedError
from ledger.trace.identifiers import (
    CSET_82,
    Gln,
    Gtin,
    Location,
    Lot,
    MalformedIdentifierError,
    OtherKey,
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

LOT = "https://id.gs1.org/01/04012345123456/10/998877"

# (name, any written form, normal form)
NORMAL_FORMS = [
    ("lgtin urn", "urn:epc:class:lgtin:4012345.012345.998877", LOT),
    ("digital link", LOT, LOT),
    ("digital link other host", "https://example.com/01/04012345123456/10/998877", LOT),
    ("digital link path prefix", "https://example.com/p/q/01/04012345123456/10/998877", LOT),
    ("digital link http", "http://id.gs1.org/01/04012345123456/10/998877", LOT),
    ("digital link gtin-13", "https://id.gs1.org/01/4012345123456/10/998877", LOT),
    ("element string", "(01)04012345123456(10)998877", LOT),
    (
        "lot with slash urn",
        "urn:epc:class:lgtin:4012345.012345.AB%2F1",
        "https://id.gs1.org/01/04012345123456/10/AB%2F1",
    ),
    (
        "lot with slash dl lower-case hex",
        "https://id.gs1.org/01/04012345123456/10/AB%2f1",
        "https://id.gs1.org/01/04012345123456/10/AB%2F1",
    ),
    (
        "sgtin urn",
        "urn:epc:id:sgtin:0614141.107346.2017",
        "https://id.gs1.org/01/10614141073464/21/2017",
    ),
    (
        "sgtin 6-digit prefix",
        "urn:epc:id:sgtin:952001.1012345.22222223333",
        "https://id.gs1.org/01/19520010123455/21/22222223333",
    ),
    ("gtin class pattern", "urn:epc:idpat:sgtin:4012345.066666.*", "https://id.gs1.org/01/04012345666663"),
    ("sscc urn", "urn:epc:id:sscc:0614141.1234567890", "https://id.gs1.org/00/106141412345678908"),
    ("sscc element string", "(00)106141412345678908", "https://id.gs1.org/00/106141412345678908"),
    ("sgln no extension", "urn:epc:id:sgln:4012345.00001.0", "https://id.gs1.org/414/4012345000016"),
    (
        "sgln extension",
        "urn:epc:id:sgln:0012345.11111.400",
        "https://id.gs1.org/414/0012345111112/254/400",
    ),
    ("gln digital link", "https://id.example.com/414/4012345000054", "https://id.gs1.org/414/4012345000054"),
    ("pgln urn", "urn:epc:id:pgln:4000001.00012", "https://id.gs1.org/417/4000001000128"),
    ("grai urn", "urn:epc:id:grai:4012345.55555.987", "https://id.gs1.org/8003/04012345555554987"),
    ("giai urn", "urn:epc:id:giai:4000001.12345", "https://id.gs1.org/8004/400000112345"),
    ("gsrn urn", "urn:epc:id:gsrn:0614141.0000010253", "https://id.gs1.org/8018/061414100000102534"),
    (
        "gdti urn",
        "urn:epc:id:gdti:0614141.00001.1618034",
        "https://id.gs1.org/253/06141410000121618034",
    ),
    ("non-gs1 https", "https://example.com/farm/field-7", "https://example.com/farm/field-7"),
    *[
        (name, same, same)
        for name, same in [
            ("uuid urn", "urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8"),
            ("unconverted epc scheme", "urn:epc:id:cpi:0614141.123ABC.123456789"),
            ("legacy cbv bt urn", "urn:epcglobal:cbv:bt:0614141073467:1152"),
            ("web page, not a link", "https://example.com/blog/2023/01/15/post"),
        ]
    ],
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in NORMAL_FORMS], ids=[c[0] for c in NORMAL_FORMS]
)
def test_every_form_reaches_the_normal_form(text: str, expected: str) -> None:
    assert normalize_identifier(text) == expected
    assert normalize_identifier(expected) == expected  # idempotent


# (name, text, words the message must contain)
MALFORMED = [
    ("gtin check digit", "https://id.gs1.org/01/04012345123457/10/1", "check digit"),
    ("gtin too short", "https://id.gs1.org/01/0401234512345/10/1", "GTIN"),
    ("gtin non-digit", "https://id.gs1.org/01/0401234512345X/10/1", "Digital Link"),
    ("gtin fullwidth digit", "https://id.gs1.org/01/０4012345123456/10/1", "not ASCII"),
    ("gln check digit", "https://id.gs1.org/414/4012345000017", "check digit"),
    ("sscc check digit", "https://id.gs1.org/00/106141412345678909", "check digit"),
    ("sscc urn wrong length", "urn:epc:id:sscc:0614141.123456789", "17 digits"),
    ("sgtin urn wrong length", "urn:epc:id:sgtin:0614141.10734.2017", "13 digits"),
    ("prefix too short", "urn:epc:id:sgtin:06141.10734623.2017", "6 to 12"),
    ("urn components", "urn:epc:id:sgtin:0614141.107346", "3 dot-separated"),
    ("lot too long", "https://id.gs1.org/01/04012345123456/10/ABCDEFGHIJKLMNOPQRSTU", "at most 20"),
    ("lot illegal char in urn", "urn:epc:class:lgtin:4012345.012345.A~B", "not allowed"),
    ("lot NFD accent", "urn:epc:class:lgtin:4012345.012345.cafe\u0301", "not ASCII"),
    ("lot encoded accent", "https://id.gs1.org/01/04012345123456/10/caf%C3%A9", "character set 82"),
    ("lot empty", "urn:epc:class:lgtin:4012345.012345.", "non-empty"),
    ("bad escape", "urn:epc:class:lgtin:4012345.012345.A%2", "URI syntax"),
    ("upper-case urn", "URN:EPC:ID:SGTIN:0614141.107346.2017", "lower case"),
    ("tag uri", "urn:epc:tag:sgtin-96:3.0614141.107346.2017", "pure identities"),
    ("data attribute", "https://id.gs1.org/01/04012345123456/10/1?17=260101", "query"),
    ("fragment", "https://id.gs1.org/01/04012345123456/10/1#x", "query"),
    ("cpv qualifier", "https://id.gs1.org/01/04012345123456/22/A/10/1", "not with AIs"),
    ("not a uri", "04012345123456", "absolute URI"),
    ("space", "urn:epc:class:lgtin:4012345.012345.99 8877", "percent-encoded"),
    ("bad digital link on gs1 host", "https://id.gs1.org/about", "Digital Link"),
    ("sgtin pattern without star", "urn:epc:idpat:sgtin:4012345.066666.1", "'.*'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "words"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_identifiers_are_refused_with_a_reason(text: str, words: str) -> None:
    with pytest.raises(MalformedIdentifierError) as caught:
        parse_identifier(text)
    assert words in caught.value.message
    assert caught.value.code == "malformed-identifier"
    assert isinstance(caught.value, MalformedError)


def test_messages_name_the_identifier() -> None:
    with pytest.raises(
        MalformedIdentifierError, match="invalid GTIN check digit: expected 6, got 7"
    ):
        Gtin("04012345123457")
    with pytest.raises(MalformedIdentifierError) as caught:
        normalize_lot("https://id.gs1.org/01/04012345123457/10/1")
    assert "04012345123457" in caught.value.message


@pytest.mark.parametrize(
    "text",
    [
        "urn:epc:id:sgtin:0614141.107346.2017",
        "urn:epc:id:sscc:0614141.1234567890",
        "https://x.org/",
    ],
)
def test_normalize_lot_refuses_what_is_not_a_lot(text: str) -> None:
    with pytest.raises(MalformedIdentifierError, match="expected a lot"):
        normalize_lot(text)


def test_role_specific_normalisers() -> None:
    assert normalize_epc("urn:epc:id:sscc:0614141.1234567890").endswith("/00/106141412345678908")
    with pytest.raises(MalformedIdentifierError, match="class of objects"):
        normalize_epc("urn:epc:class:lgtin:4012345.012345.998877")
    assert normalize_epc_class("urn:epc:idpat:sgtin:4012345.066666.*").endswith(
        "/01/04012345666663"
    )
    with pytest.raises(MalformedIdentifierError, match="not a class"):
        normalize_epc_class("urn:epc:id:sgtin:0614141.107346.2017")
    with pytest.raises(MalformedIdentifierError, match="expected a location"):
        normalize_location("urn:epc:id:pgln:4000001.00012")
    # A party written as a location without extension (EPCIS 1.x habit) is the same GLN.
    assert (
        normalize_party("urn:epc:id:sgln:4012345.00001.0") == "https://id.gs1.org/417/4012345000016"
    )
    assert (
        normalize_party("https://id.gs1.org/414/4012345000016")
        == "https://id.gs1.org/417/4012345000016"
    )
    with pytest.raises(MalformedIdentifierError, match="extension"):
        normalize_party("urn:epc:id:sgln:0012345.11111.400")
    assert normalize_sscc("106141412345678908") == "https://id.gs1.org/00/106141412345678908"
    with pytest.raises(MalformedIdentifierError, match="expected an SSCC"):
        normalize_sscc("urn:epc:id:sgtin:0614141.107346.2017")


def test_value_types_validate_themselves() -> None:
    assert Gtin.parse("96385074").value == "00000096385074"  # GTIN-8
    assert Gtin.parse("614141123452").value == "00614141123452"  # GTIN-12
    assert str(Gln.parse("4012345000054")) == "4012345000054"
    assert str(Sscc.parse("106141412345678908")) == "106141412345678908"
    for bad in ("4012345000055", "401234500005", "4012345000O54"):
        with pytest.raises(MalformedIdentifierError):
            Gln.parse(bad)
    with pytest.raises(MalformedIdentifierError, match="non-empty"):
        Lot(Gtin("04012345123456"), "")
    with pytest.raises(MalformedIdentifierError, match="position 1"):
        Sgtin(Gtin("04012345123456"), "A\u00a0B")
    with pytest.raises(MalformedIdentifierError):
        OtherKey((("10", "ABC"),))


URNS = [
    ("urn:epc:class:lgtin:4012345.012345.998877", 7),
    ("urn:epc:class:lgtin:4012345.012345.A%22%25%26%2F%3C%3E%3F!'()*+,", 7),
    ("urn:epc:class:lgtin:4012345.012345.-.:;=_", 7),
    ("urn:epc:id:sgtin:0614141.107346.2017", 7),
    ("urn:epc:id:sgtin:952001.1012345.22222223333", 6),
    ("urn:epc:idpat:sgtin:4012345.066666.*", 7),
    ("urn:epc:id:sscc:0614141.1234567890", 7),
    ("urn:epc:id:sgln:0012345.11111.400", 7),
    ("urn:epc:id:sgln:4012345.00001.0", 7),
    ("urn:epc:id:sgln:123456789012..0", 12),
    ("urn:epc:id:pgln:4000001.00012", 7),
]


@pytest.mark.parametrize(("urn", "prefix_length"), URNS)
def test_urn_round_trip_with_known_prefix_length(urn: str, prefix_length: int) -> None:
    key = parse_identifier(urn)
    assert isinstance(key, Lot | Sgtin | Gtin | Sscc | Location | Party)
    assert key.to_urn(prefix_length) == urn
    again = parse_identifier(key.digital_link)
    assert again == key


def test_to_urn_uses_biip_company_prefix_table() -> None:
    lot = parse_lot("https://id.gs1.org/01/04012345123456/10/998877")
    assert lot.to_urn() == "urn:epc:class:lgtin:4012345.012345.998877"
    unknown = parse_lot("https://id.gs1.org/01/09999999999994/10/X")
    with pytest.raises(MalformedIdentifierError, match="company_prefix_length"):
        unknown.to_urn()
    with pytest.raises(MalformedIdentifierError, match="6 to 12"):
        lot.to_urn(13)


def test_digital_link_percent_encodes_every_reserved_lot_character() -> None:
    for text, encoded in [
        ("A!'()*+,-.:;=", "A%21%27%28%29%2A%2B%2C-.%3A%3B%3D"),
        ('_"%&<>?/', "_%22%25%26%3C%3E%3F%2F"),
    ]:
        lot = Lot(Gtin("09506000134369"), text)
        assert lot.digital_link == f"https://id.gs1.org/01/09506000134369/10/{encoded}"
        assert parse_lot(lot.digital_link) == lot
        assert parse_lot(lot.to_urn(9)) == lot


# --- properties ---------------------------------------------------------------------------

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@st.composite
def gtins(draw: st.DrawFn) -> str:
    length = draw(st.sampled_from([8, 12, 13, 14]))
    payload = draw(st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1))
    return payload + str(gs1_standard_check_digit(payload))


@given(gtins())
def test_any_gtin_with_a_correct_check_digit_normalises(gtin: str) -> None:
    assert Gtin.parse(gtin).value == gtin.zfill(14)
    link = f"https://id.gs1.org/01/{gtin}/10/L1"
    assert normalize_lot(link) == f"https://id.gs1.org/01/{gtin.zfill(14)}/10/L1"


@given(gtins(), st.data())
def test_any_single_digit_change_is_rejected(gtin: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(gtin) - 1))
    replacement = data.draw(digits.filter(lambda d: d != gtin[position]))
    changed = gtin[:position] + replacement + gtin[position + 1 :]
    # A GS1 check digit catches every single-digit substitution (GS1 GS §7.9.1).
    with pytest.raises(MalformedIdentifierError, match="check digit"):
        Gtin.parse(changed)
    with pytest.raises(MalformedIdentifierError, match="check digit"):
        normalize_lot(f"https://id.gs1.org/01/{changed.zfill(14)}/10/L1")


@given(st.text(alphabet=sorted(CSET_82), min_size=1, max_size=20), st.integers(6, 12))
def test_any_lot_survives_every_form(lot_number: str, prefix_length: int) -> None:
    lot = Lot(Gtin("04012345123456"), lot_number)
    normal = lot.digital_link
    assert normalize_lot(normal) == normal
    assert normalize_lot(lot.to_urn(prefix_length)) == normal
    assert normalize_lot(normal.replace("https://id.gs1.org", "https://example.com/x")) == normal
    assert parse_lot(normal).lot == lot_number


@given(st.text(min_size=1, max_size=20).filter(lambda s: not set(s) <= CSET_82))
def test_lots_outside_cset_82_are_refused(lot_number: str) -> None:
    with pytest.raises(MalformedIdentifierError):
        Lot(Gtin("04012345123456"), lot_number)


@given(st.text(alphabet="0123456789０１２３４５６７８９٠١٢", min_size=14, max_size=14))
def test_only_ascii_digits_make_a_gtin(text: str) -> None:
    if text.isascii():
        return
    with pytest.raises(MalformedIdentifierError, match="ASCII"):
        Gtin.parse(text)


uri_like = st.builds(
    "".join,
    st.lists(
        st.sampled_from(
            ["https://", "http://", "urn:epc:", "id:", "class:", "sgtin:", "lgtin:", "id.gs1.org",
             "[", "]", "::1", "v1.x", ":", "/", "01/", "10/", "21/", "00/", "414/", "254/", "417/",
             "8003/", "%2F", "%", "?", "#", ".", "0614141", "107346", "04012345123456", "998877",
             "(01)", "(10)", "*", "é", "０", " ", "@", "x"]
        ),
        max_size=10,
    ),
)  # fmt: skip


@given(uri_like)
def test_parsing_never_leaks_a_foreign_exception(text: str) -> None:
    try:
        key = parse_identifier(text)
    except MalformedIdentifierError:
        return
    if key is not None:
        assert parse_identifier(key.digital_link) == key

"""The buyer's provenance pages through the real app: ``GET /01/{gtin}/10/{lot}`` (GS1 Digital
Link) and the search page ``GET /``.

The story: Hillside Farm harvests wheat and ships it on a pallet to Valley Mill, which mills
it into flour; Sunrise Bakery bakes the flour (with some salt) into loaves and ships them to
the Corner Shop, which sells some. The loaves' page must tell all of it, in order, with the
records that prove each step, and say which checkpoint and witnesses vouch for them.
"""

from __future__ import annotations

import base64
import re
import struct
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest
import segno
from starlette.exceptions import StarletteDeprecationWarning

from api import wiring
from api.app import create_app
from api.routes.deps import ApiSettings
from ledger.errors import StorageUnavailableError
from ledger.note import Checkpoint, CosignatureSigner, parse_note
from ledger.state import Kind
from ledger.storage.store import Reader
from ledger.trace.builders import (
    Amount,
    commission,
    lot_id,
    pack,
    receive,
    sell,
    ship,
    transform,
    unpack,
    with_check_digit,
)
from ledger.trace.identifiers import Gtin, Lot
from tests.factory import ORIGIN, T0, Chain, key_for
from tests.ledger.trace.test_ledger_chain import TraceChain, gln_for, sscc_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

GTIN_WHEAT = "09506000134352"
GTIN_FLOUR = "09506000134376"
GTIN_BREAD = "09506000134383"
SALT = "https://id.gs1.org/01/" + with_check_digit("0950611000009")
PRODUCTS = {
    GTIN_WHEAT: "Winter wheat",
    GTIN_FLOUR: "Stone-ground flour",
    GTIN_BREAD: "Sourdough loaf",
}
PALLET = sscc_for(7)
WITNESS = CosignatureSigner("witness.example.org", key_for("witness"))

CAST = (
    ("farm", "Hillside Farm", ("supplier",)),
    ("mill", "Valley Mill", ("supplier", "buyer")),
    ("bakery", "Sunrise Bakery", ("supplier", "buyer")),
    ("shop", "Corner Shop", ("supplier", "buyer")),
)


@dataclass
class Story:
    tc: TraceChain
    seqs: dict[str, int]
    wheat: str
    flour: str
    bread: str

    @property
    def bread_path(self) -> str:
        return _path(self.bread)


def _path(lot: str) -> str:
    return lot.removeprefix("https://id.gs1.org")


def tell_story(
    url: str,
    *,
    names: dict[str, str] | None = None,
    bread_lot: str = "SB-0920",
) -> Story:
    """Record the farm → mill → bakery → shop story on a fresh ledger opened as the app
    opens it (every domain's rules and projections)."""
    operator = key_for("operator")
    ledger = wiring.create_ledger(
        url, origin=ORIGIN, operator_id="operator", operator_key=operator, now=T0
    )
    tc = TraceChain(Chain(ledger, url, {"operator": operator}))
    for pid, display, roles in CAST:
        body = tc.chain.register_body(pid, list(roles))
        body["display_name"] = (names or {}).get(pid, display)
        body["gln"] = tc.glns[pid] = gln_for(pid)
        tc.ledger.submit(tc.chain.statement("operator", Kind.REGISTER, body), now=tc.chain.tick())
    g = tc.gln
    wheat = lot_id(GTIN_WHEAT, "HF-2026-07")
    flour = lot_id(GTIN_FLOUR, "VM-0917")
    bread = lot_id(GTIN_BREAD, quote(bread_lot, safe=""))
    seqs: dict[str, int] = {}
    steps = [
        ("harvest", "farm", commission(**tc.kw(), gln=g("farm"), lots=[Amount(wheat, 1000)])),
        (
            "pack",
            "farm",
            pack(**tc.kw(), gln=g("farm"), sscc=PALLET, lots=[Amount(wheat, 1000)]),
        ),
        (
            "ship-wheat",
            "farm",
            ship(**tc.kw(), shipper_gln=g("farm"), receiver_gln=g("mill"), ssccs=[PALLET]),
        ),
        (
            "receive-wheat",
            "mill",
            receive(**tc.kw(), receiver_gln=g("mill"), shipper_gln=g("farm"), ssccs=[PALLET]),
        ),
        ("unpack", "mill", unpack(**tc.kw(), gln=g("mill"), sscc=PALLET)),
        (
            "mill",
            "mill",
            transform(
                **tc.kw(),
                gln=g("mill"),
                inputs=[Amount(wheat, 1000)],
                outputs=[Amount(flour, 800)],
            ),
        ),
        (
            "ship-flour",
            "mill",
            ship(
                **tc.kw(),
                shipper_gln=g("mill"),
                receiver_gln=g("bakery"),
                lots=[Amount(flour, 800)],
            ),
        ),
        (
            "receive-flour",
            "bakery",
            receive(
                **tc.kw(),
                receiver_gln=g("bakery"),
                shipper_gln=g("mill"),
                lots=[Amount(flour, 800)],
            ),
        ),
        (
            "bake",
            "bakery",
            transform(
                **tc.kw(),
                gln=g("bakery"),
                inputs=[Amount(flour, 500), Amount(SALT, 20)],
                outputs=[Amount(bread, 1000, "EA")],
            ),
        ),
        (
            "ship-bread",
            "bakery",
            ship(
                **tc.kw(),
                shipper_gln=g("bakery"),
                receiver_gln=g("shop"),
                lots=[Amount(bread, 600, "EA")],
            ),
        ),
        (
            "receive-bread",
            "shop",
            receive(
                **tc.kw(),
                receiver_gln=g("shop"),
                shipper_gln=g("bakery"),
                lots=[Amount(bread, 600, "EA")],
            ),
        ),
        ("sell", "shop", sell(**tc.kw(), gln=g("shop"), lots=[Amount(bread, 100, "EA")])),
    ]
    for name, author, event in steps:
        seqs[name] = tc.record(author, event)
    return Story(tc, seqs, wheat, flour, bread)


def client_for(story: Story, tmp_path: Path, **settings: object) -> TestClient:
    options: dict[str, object] = {"home": tmp_path, "product_names": PRODUCTS}
    options.update(settings)
    app = create_app(ApiSettings(**options), ledger=story.tc.ledger)  # type: ignore[arg-type]
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    """The story on SQLite, shared by the tests that only read it."""
    s = tell_story(f"sqlite:///{tmp_path_factory.mktemp('web') / 'ledger.db'}")
    yield s
    s.tc.close()


@pytest.fixture(scope="module")
def client(story: Story, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with client_for(story, tmp_path_factory.mktemp("home")) as c:
        yield c


@pytest.fixture
def fresh_story(database_url: str) -> Iterator[Story]:
    """The story on a fresh ledger on each backend, for tests that change or break it."""
    s = tell_story(database_url)
    yield s
    s.tc.close()


# -- reading pages -------------------------------------------------------------------------------


def text_of(html: str) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.elements


def section(html: str, heading_id: str) -> str:
    """The text of the <section> labelled by ``heading_id``."""
    start = html.index(f'aria-labelledby="{heading_id}"')
    return text_of(html[start : html.index("</section>", start)])


def png_modules(data_uri: str, *, scale: int, border: int) -> list[list[bool]]:
    """Decode a 1-bit greyscale PNG (all five PNG filters) and sample each QR module's centre:
    True for dark."""
    assert data_uri.startswith("data:image/png;base64,")
    data = base64.b64decode(data_uri.split(",", 1)[1])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert (depth, colour) == (1, 0)
    stride = (width + 7) // 8
    raw, rows, previous = zlib.decompress(idat), [], bytes(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            left, up = (line[i - 1] if i else 0), previous[i]
            upleft = previous[i - 1] if i else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - upleft
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else upleft
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        previous = bytes(line)
    count = width // scale - 2 * border

    def dark(x: int, y: int) -> bool:
        return not (rows[y][x // 8] >> (7 - x % 8)) & 1

    return [
        [
            dark((border + c) * scale + scale // 2, (border + r) * scale + scale // 2)
            for c in range(count)
        ]
        for r in range(count)
    ]


def qr_of(html: str) -> str:
    (src,) = [
        a["src"] for tag, a in elements(html) if tag == "img" and "QR" in (a.get("alt") or "")
    ]
    assert src is not None
    return src


# -- the lot page --------------------------------------------------------------------------------


def test_lot_page_tells_the_chain_of_custody_from_farm_to_shop(
    fresh_story: Story, tmp_path: Path
) -> None:
    story = fresh_story
    with client_for(story, tmp_path) as client:
        response = client.get(story.bread_path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in html
    assert "<title>Sourdough loaf · lot SB-0920 · FairLedger</title>" in html
    page = text_of(html)
    assert "Sourdough loaf lot SB-0920" in page
    assert "GTIN 09506000134383" in page
    # The timeline: every event of the provenance, in the order it happened, with its seq.
    s = story.seqs
    assert [int(n) for n in re.findall(r'<li class="step" id="seq-(\d+)">', html)] == [
        s[name]
        for name in (
            "harvest",
            "pack",
            "ship-wheat",
            "receive-wheat",
            "unpack",
            "mill",
            "ship-flour",
            "receive-flour",
            "bake",
            "ship-bread",
            "receive-bread",
            "sell",
        )
    ]
    timeline = section(html, "timeline-title")
    farm_site = f"Hillside Farm's site (GLN {gln_for('farm')})"
    for expected in (
        f"Lot created 22 Nov 2026, 10:00 UTC By Hillside Farm at {farm_site} "
        f"Created 1000 kg of Winter wheat lot HF-2026-07 Record seq {s['harvest']}",
        f"Packed 1000 kg of Winter wheat lot HF-2026-07 onto pallet SSCC {PALLET}",
        f"Shipped 1000 kg of Winter wheat lot HF-2026-07 to Valley Mill on pallet SSCC {PALLET}",
        f"Received 1000 kg of Winter wheat lot HF-2026-07 from Hillside Farm on pallet SSCC "
        f"{PALLET}",
        "Transformed",
        "Used 1000 kg of Winter wheat lot HF-2026-07",
        "Produced 800 kg of Stone-ground flour lot VM-0917",
        "Used 500 kg of Stone-ground flour lot VM-0917",
        "Produced 1000 units of Sourdough loaf lot SB-0920",
        "Shipped 600 units of Sourdough loaf lot SB-0920 to Corner Shop",
        f"Sold 22 Nov 2026, 10:00 UTC By Corner Shop at Corner Shop's site (GLN {gln_for('shop')})",
        f"Sold 100 units of Sourdough loaf lot SB-0920 Record seq {s['sell']}",
    ):
        assert expected in timeline, expected
    # Each lot is a link to its own page.
    hrefs = {a.get("href") for tag, a in elements(html) if tag == "a"}
    assert {_path(story.wheat), _path(story.flour), story.bread_path} <= hrefs
    # Contribution shares: flour is 500 of the 520 kg baked in; all the flour came from wheat.
    shares = section(html, "shares-title")
    assert "SB-0920 Sourdough loaf Sunrise Bakery 0 100 % (this lot)" in shares
    assert "VM-0917 Stone-ground flour Valley Mill 1 96.2 % (25/26)" in shares
    assert "HF-2026-07 Winter wheat Hillside Farm 2 96.2 % (25/26)" in shares
    # Parties and places, with their GLNs from the participant directory.
    parties = section(html, "parties-title")
    for pid, name, _roles in CAST:
        assert f"{name} {pid} {gln_for(pid)}" in parties
    assert f"GLN {gln_for('mill')} Valley Mill" in parties
    # The graph: three lots and two transformations, drawn server-side.
    graph = html[html.index("<svg") : html.index("</svg>")]
    assert 'role="img"' in graph
    assert len(re.findall(r'<g class="node lot', graph)) == 3
    assert len(re.findall(r'<g class="node tx"', graph)) == 2
    assert len(re.findall(r'<path class="edge"', graph)) == 4
    assert '<g class="node lot root"' in graph
    # The proof bundle of this very lot is one link away.
    assert f'href="/v1/lots/bundle?lot={quote(story.bread, safe="")}"' in html


def test_verification_names_the_checkpoint_its_witnesses_and_every_proof(
    fresh_story: Story, tmp_path: Path
) -> None:
    story = fresh_story
    ledger = story.tc.ledger
    size = ledger.size
    checkpoint = Checkpoint.from_body(parse_note(ledger.latest_checkpoint()).body)
    line = WITNESS.cosign(checkpoint, int(datetime(2026, 11, 23, tzinfo=UTC).timestamp()))
    with client_for(story, tmp_path, trusted_witnesses=[WITNESS.vkey]) as client:
        before = client.get(story.bread_path).text
        stored = client.post(
            f"/v1/checkpoint/cosignatures?size={size}",
            content=line.line(),
            headers={"content-type": "text/plain"},
        )
        assert stored.status_code == 201, stored.text
        after = client.get(story.bread_path).text
    records = len(re.findall(r'<li class="step"', after))
    assert '<span class="badge verified" id="verification-badge">Verified</span>' in after
    verification = section(after, "verification-title")
    assert f"tree size {size}, root {ledger.root(size).hex()[:16]}…" in verification
    assert f"operator (key {ledger.verifier.key_id.hex()} )" in verification
    assert "cosigned by witness.example.org" in verification
    assert f"{records} of {records} inclusion proofs verify" in verification
    assert f"All {records} records on this page are included" in verification
    assert "no witness cosignature yet" in section(before, "verification-title")
    # A new record changes the state: the page is verified afresh against the new checkpoint
    # (the cosigned one no longer covers the lot), never served from the earlier verdict.
    g = story.tc.gln
    more = story.tc.record(
        "shop", sell(**story.tc.kw(), gln=g("shop"), lots=[Amount(story.bread, 50, "EA")])
    )
    with client_for(story, tmp_path, trusted_witnesses=[WITNESS.vkey]) as client:
        first = client.get(story.bread_path).text
    assert f'id="seq-{more}"' in first
    assert f"tree size {ledger.size}," in section(first, "verification-title")
    assert "no witness cosignature yet" in section(first, "verification-title")


def test_a_verdict_is_reused_until_the_ledger_changes_and_a_failure_never(
    fresh_story: Story, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.routes import web_verification as web
    from ledger import bundle

    story = fresh_story
    calls: list[str] = []

    def counted(source: object, lot: str, **kwargs: object) -> bytes:
        calls.append(lot)
        return bundle.build_bundle(source, lot)  # type: ignore[arg-type]

    monkeypatch.setattr(web, "build_bundle", counted)
    with client_for(story, tmp_path) as client:
        for _ in range(3):
            assert "Verified" in client.get(story.bread_path).text
        assert len(calls) == 1
        story.tc.record(
            "shop",
            sell(**story.tc.kw(), gln=story.tc.gln("shop"), lots=[Amount(story.bread, 5, "EA")]),
        )
        assert "Verified" in client.get(story.bread_path).text
        assert len(calls) == 2

        def broken(source: object, lot: str, **kwargs: object) -> bytes:
            calls.append(lot)
            data = bundle.build_bundle(source, lot)  # type: ignore[arg-type]
            return data.replace(b'"inclusion_proof":["', b'"inclusion_proof":["00', 1)

        monkeypatch.setattr(web, "build_bundle", broken)
        web.verification_cache(client.app).clear()
        for _ in range(2):
            assert "Verification failed" in client.get(story.bread_path).text
        assert len(calls) == 4


def test_a_page_whose_proofs_fail_says_so(
    story: Story, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.routes import web_verification as web
    from ledger import bundle

    real = bundle.build_bundle

    def tampered(source: object, lot: str, **kwargs: object) -> bytes:
        data = real(source, lot)  # type: ignore[arg-type]
        # Change one quantity inside a signed record: its hash no longer matches.
        at = data.index(b'"records":')
        return data[:at] + data[at:].replace(b'"quantity":"1000"', b'"quantity":"1001"', 1)

    monkeypatch.setattr(web, "build_bundle", tampered)
    web.verification_cache(client.app).clear()
    html = client.get(story.bread_path).text
    assert '<span class="badge failed" id="verification-badge">Verification failed</span>' in html
    assert "What failed:" in section(html, "verification-title")
    assert 'class="badge verified"' not in html


@dataclass
class Spy:
    """Counts bundle builds and records each consistency proof the page asks for."""

    bundles: list[str]
    proofs: list[tuple[int, int]]


def spy_on_verification(monkeypatch: pytest.MonkeyPatch) -> Spy:
    from api.routes import web_verification
    from ledger import bundle

    spy = Spy([], [])
    real_proof = web_verification._consistency_proof

    def counted(source: object, lot: str, **kwargs: object) -> bytes:
        spy.bundles.append(lot)
        return bundle.build_bundle(source, lot)  # type: ignore[arg-type]

    def proof(reader: Reader, old: int, new: int) -> list[bytes]:
        spy.proofs.append((old, new))
        return real_proof(reader, old, new)

    monkeypatch.setattr(web_verification, "build_bundle", counted)
    monkeypatch.setattr(web_verification, "_consistency_proof", proof)
    return spy


def append_unrelated_records(story: Story) -> None:
    """Records that touch nothing in the bread's provenance: a new participant and a new
    wheat lot that goes nowhere."""
    tc = story.tc
    tc.register("orchard", "supplier")
    other = lot_id(GTIN_WHEAT, "HF-2026-08")
    tc.record("farm", commission(**tc.kw(), gln=tc.gln("farm"), lots=[Amount(other, 300)]))


def test_a_view_after_unrelated_appends_reuses_the_lots_proofs_at_the_new_checkpoint(
    fresh_story: Story, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = fresh_story
    ledger = story.tc.ledger
    spy = spy_on_verification(monkeypatch)
    with client_for(story, tmp_path, trusted_witnesses=[WITNESS.vkey]) as client:
        first = client.get(story.bread_path).text
        proven_at = ledger.size
        assert len(spy.bundles) == 1
        assert f"tree size {proven_at}, root {ledger.root(proven_at).hex()[:16]}…" in section(
            first, "verification-title"
        )
        assert "Inclusion proofs" not in section(first, "verification-title")

        append_unrelated_records(story)
        latest = ledger.size
        assert latest > proven_at
        html = client.get(story.bread_path).text
        # No new bundle: the inclusion proofs checked at the first checkpoint stand, and the
        # new checkpoint is proven to extend it.
        assert len(spy.bundles) == 1
        assert spy.proofs == [(proven_at, latest)]
        assert '<span class="badge verified" id="verification-badge">Verified</span>' in html
        verification = section(html, "verification-title")
        records = len(re.findall(r'<li class="step"', html))
        assert f"tree size {latest}, root {ledger.root(latest).hex()[:16]}…" in verification
        assert (
            f"Inclusion proofs against the checkpoint of tree size {proven_at}, root "
            f"{ledger.root(proven_at).hex()[:16]}… , which the checkpoint of tree size {latest} "
            "is proven consistent with"
        ) in verification
        assert (
            f"All {records} records on this page are included in the ledger's checkpoint of "
            f"size {proven_at}" in verification
        )
        assert f"newer checkpoint of size {latest}, signed by the operator, is proven " in (
            verification
        )
        assert f"{records} of {records} inclusion proofs verify" in verification
        assert "no witness cosignature yet" in verification
        # The same state again: the verdict as it was, no proof asked for.
        assert client.get(story.bread_path).text == html
        assert spy.proofs == [(proven_at, latest)]

        # A witness cosigns the new checkpoint: its cosignature is checked and shown, still
        # without a new bundle.
        checkpoint = Checkpoint.from_body(parse_note(ledger.latest_checkpoint()).body)
        line = WITNESS.cosign(checkpoint, int(datetime(2026, 11, 23, tzinfo=UTC).timestamp()))
        stored = client.post(
            f"/v1/checkpoint/cosignatures?size={latest}",
            content=line.line(),
            headers={"content-type": "text/plain"},
        )
        assert stored.status_code == 201, stored.text
        cosigned = section(client.get(story.bread_path).text, "verification-title")
    assert len(spy.bundles) == 1
    assert spy.proofs == [(proven_at, latest), (proven_at, latest)]
    assert "cosigned by witness.example.org" in cosigned
    assert "signed by the operator and cosigned by 1 witness, is proven consistent" in cosigned


@pytest.mark.parametrize("whose", ["the lot itself", "an upstream lot"])
def test_a_new_record_in_the_lots_provenance_is_verified_afresh(
    fresh_story: Story, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whose: str
) -> None:
    story = fresh_story
    tc = story.tc
    spy = spy_on_verification(monkeypatch)
    with client_for(story, tmp_path) as client:
        client.get(story.bread_path)
        append_unrelated_records(story)
        client.get(story.bread_path)
        assert (len(spy.bundles), len(spy.proofs)) == (1, 1)
        if whose == "the lot itself":
            event = sell(**tc.kw(), gln=tc.gln("shop"), lots=[Amount(story.bread, 5, "EA")])
            seq = tc.record("shop", event)
        else:  # the bakery sells some of the flour it did not bake: a movement of the flour
            event = sell(**tc.kw(), gln=tc.gln("bakery"), lots=[Amount(story.flour, 50)])
            seq = tc.record("bakery", event)
        html = client.get(story.bread_path).text
    assert len(spy.bundles) == 2
    assert len(spy.proofs) == 1
    assert f'id="seq-{seq}"' in html
    assert '<span class="badge verified" id="verification-badge">Verified</span>' in html
    verification = section(html, "verification-title")
    size = tc.ledger.size
    assert f"tree size {size}, root {tc.ledger.root(size).hex()[:16]}…" in verification
    assert "Inclusion proofs" not in verification
    assert "proven consistent" not in verification


def test_a_checkpoint_that_does_not_extend_the_verified_one_fails_the_badge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.ledger.tamper import resign_checkpoint

    story = tell_story(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        ledger = story.tc.ledger
        spy = spy_on_verification(monkeypatch)
        with client_for(story, tmp_path) as client:
            assert "Verified" in client.get(story.bread_path).text
            proven_at = ledger.size
            append_unrelated_records(story)
            latest = ledger.size
            # The operator signs a checkpoint of the new size over another tree (a fork): its
            # signature is good, only the consistency proof can tell.
            resign_checkpoint(story.tc.chain, latest, bytes(range(32)))
            for _ in range(2):  # a failure is never kept
                html = client.get(story.bread_path).text
                assert (
                    '<span class="badge failed" id="verification-badge">Verification failed'
                    "</span>" in html
                )
                assert 'class="badge verified"' not in html
                problem = section(html, "verification-title")
                assert (
                    f"the checkpoint of size {latest} does not extend the checkpoint of size "
                    f"{proven_at}" in problem
                )
        # Never answered by verifying the forked tree from scratch instead.
        assert len(spy.bundles) == 1
        assert spy.proofs == [(proven_at, latest)] * 2
    finally:
        story.tc.close()


def test_a_forged_consistency_proof_fails_the_badge(
    fresh_story: Story, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.routes import web_verification

    story = fresh_story
    real = web_verification._consistency_proof

    def forged(reader: Reader, old: int, new: int) -> list[bytes]:
        proof = real(reader, old, new)
        return [bytes(32), *proof[1:]]

    with client_for(story, tmp_path) as client:
        assert "Verified" in client.get(story.bread_path).text
        append_unrelated_records(story)
        monkeypatch.setattr(web_verification, "_consistency_proof", forged)
        html = client.get(story.bread_path).text
        assert '<span class="badge failed" id="verification-badge">' in html
        assert "consistency proof does not lead to" in section(html, "verification-title")
        # The honest proof again: verified at the new checkpoint (the failure was not kept).
        monkeypatch.setattr(web_verification, "_consistency_proof", real)
        html = client.get(story.bread_path).text
    assert '<span class="badge verified" id="verification-badge">Verified</span>' in html
    assert f"tree size {story.tc.ledger.size}," in section(html, "verification-title")


def test_head_requests_get_the_pages_headers_without_a_body(
    story: Story, client: TestClient
) -> None:
    for path, status in (
        (story.bread_path, 200),
        ("/?q=wheat", 200),
        ("/", 200),
        ("/static/style.css", 200),
        ("/01/09506000134383/10/NO-SUCH-LOT", 404),
        ("/01/123/10/X", 400),
    ):
        got = client.get(path)
        head = client.head(path)
        assert (head.status_code, got.status_code) == (status, status), path
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
        assert head.headers["content-length"] == str(len(got.content)), path
        if path != "/static/style.css":
            assert (
                head.headers["content-security-policy"] == (got.headers["content-security-policy"])
            )


def test_qr_code_encodes_the_pages_own_digital_link(story: Story, tmp_path: Path) -> None:
    base = "https://trace.example.coop"
    with client_for(story, tmp_path, digital_link_base=base + "/") as client:
        html = client.get(story.bread_path).text
    link = base + story.bread_path
    assert f'<code class="uri">{link}</code>' in html
    expected = segno.make(link, error="m", micro=False)
    found = png_modules(qr_of(html), scale=4, border=4)
    assert found == [[bool(v) for v in row] for row in expected.matrix]
    # A different link would give a different code: the comparison can fail.
    other = segno.make(link + "X", error="m", micro=False)
    assert found != [[bool(v) for v in row] for row in other.matrix]


@pytest.mark.parametrize(
    "suffix",
    [
        "",
        "?linkType=gs1:traceability",
        "/21/SERIAL-1",
        "/21/SERIAL-1/17/261231?x=1",
    ],
)
def test_digital_link_with_extra_ais_or_query_shows_the_lot(
    story: Story, client: TestClient, suffix: str
) -> None:
    response = client.get(story.bread_path + suffix)
    assert response.status_code == 200
    assert "Sourdough loaf lot SB-0920" in text_of(response.text)


def test_a_gtin_13_in_the_link_is_the_same_product(story: Story, client: TestClient) -> None:
    response = client.get("/01/9506000134383/10/SB-0920")
    assert response.status_code == 200
    assert "GTIN 09506000134383" in text_of(response.text)


def test_unknown_lot_is_a_404_page(client: TestClient) -> None:
    response = client.get(f"/01/{GTIN_BREAD}/10/NO-SUCH-LOT")
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = text_of(response.text)
    assert "Lot not found" in page
    assert f"No record on this ledger names lot NO-SUCH-LOT of GTIN {GTIN_BREAD}" in page


@pytest.mark.parametrize(
    ("path", "title", "detail"),
    [
        (f"/01/{GTIN_BREAD[:-1]}4/10/SB-0920", "Not a valid GTIN", "check digit"),
        ("/01/0950600013438/10/SB-0920", "Not a valid GTIN", "check digit"),
        ("/01/NOT-A-GTIN/10/SB-0920", "Not a valid GTIN", "GTIN"),
        ("/01/123/10/SB-0920", "Not a valid GTIN", "GTIN"),
        (f"/01/{GTIN_BREAD}/10/A%20B", "Not a valid lot number", "lot number"),
        (f"/01/{GTIN_BREAD}/10/" + "L" * 21, "Not a valid lot number", "lot number"),
    ],
)
def test_malformed_link_is_a_400_page(
    client: TestClient, path: str, title: str, detail: str
) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = text_of(response.text)
    assert title in page
    assert detail in page
    assert "Traceback" not in response.text


def test_a_link_without_a_lot_is_a_404_page(client: TestClient) -> None:
    response = client.get(f"/01/{GTIN_BREAD}")
    assert response.status_code == 404
    assert "No lot in this link" in text_of(response.text)


def test_a_storage_failure_is_an_html_page_without_internals(
    story: Story, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (monkeypatch restores the shared ledger's store after this test)
    secret = "SELECT leaf FROM records -- /srv/secret/ledger.db"

    def broken() -> None:
        raise StorageUnavailableError(secret)

    monkeypatch.setattr(story.tc.ledger.store, "read", broken)
    for path in (story.bread_path, "/?q=wheat"):
        response = client.get(path)
        assert response.status_code == 503
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert secret not in response.text
        assert "temporarily unavailable" in text_of(response.text)


def test_private_provenance_is_a_403_page(story: Story, tmp_path: Path) -> None:
    with client_for(story, tmp_path, public_provenance=False) as client:
        for path in (story.bread_path, "/?q=wheat"):
            response = client.get(path)
            assert response.status_code == 403
            assert "Provenance is not public" in text_of(response.text)
            assert "SB-0920" not in text_of(response.text)


# -- safety ---------------------------------------------------------------------------------------


def test_hostile_names_and_lot_codes_are_text_never_markup(tmp_path: Path) -> None:
    shop = '<script>alert("shop")</script> & Co'
    lot = "<img/src=x>&\"'"
    story = tell_story(f"sqlite:///{tmp_path / 'hostile.db'}", names={"shop": shop}, bread_lot=lot)
    try:
        with client_for(story, tmp_path) as client:
            page = client.get(story.bread_path)
            found = client.get("/", params={"q": "<script>"})
            by_lot = client.get("/", params={"q": "<img"})
    finally:
        story.tc.close()
    assert page.status_code == 200
    for html in (page.text, found.text, by_lot.text):
        assert "<script>" not in html
        assert "<img/src" not in html
    assert "&lt;script&gt;alert(&#34;shop&#34;)&lt;/script&gt; &amp; Co" in page.text
    assert f"Sourdough loaf lot {lot}" in text_of(page.text)
    assert "Corner Shop" not in page.text
    assert shop in text_of(page.text)
    # The lot code travels percent-encoded in links (its "/" too), and the page of that
    # link is the same lot.
    assert _path(story.bread).endswith("/10/%3Cimg%2Fsrc%3Dx%3E%26%22%27")
    assert f'href="{_path(story.bread)}"' in found.text
    assert lot in text_of(found.text)
    assert lot in text_of(by_lot.text)


def test_pages_load_nothing_from_elsewhere(story: Story, client: TestClient) -> None:
    for path in (story.bread_path, "/", "/?q=farm", f"/01/{GTIN_BREAD}/10/NOPE"):
        response = client.get(path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "script-src" not in csp  # no script at all
        for tag, attrs in elements(response.text):
            for name in ("href", "src", "action", "xlink:href", "srcset", "data"):
                value = attrs.get(name)
                if value is None:
                    continue
                assert not re.match(
                    r"^\s*([a-z][a-z0-9+.-]*:|//)", value, re.I
                ) or value.startswith("data:image/png;base64,"), f"{path}: <{tag} {name}={value!r}>"
        assert "<script" not in response.text
    css = client.get("/static/style.css")
    assert css.status_code == 200
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert "@import" not in css.text
    assert not re.search(r"url\(", css.text)


def test_stylesheet_is_cached_by_etag_and_nothing_else_is_served(client: TestClient) -> None:
    first = client.get("/static/style.css")
    again = client.get("/static/style.css", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert client.get("/static/web.py").status_code == 404
    assert client.get("/static/%2E%2E%2Fapp.py").status_code == 404


def test_html_routes_are_not_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith(("/01/", "/static"))]


# -- search --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "lots"),
    [
        ("SB-0920", ["SB-0920"]),
        ("sb-09", ["SB-0920"]),
        (GTIN_FLOUR, ["VM-0917"]),
        ("0950600013435", ["HF-2026-07"]),
        ("sourdough", ["SB-0920"]),
        ("Hillside", ["HF-2026-07"]),
        ("valley mill", ["VM-0917", "HF-2026-07"]),
        ("corner shop", ["SB-0920"]),
        (Lot(Gtin(GTIN_FLOUR), "VM-0917").to_urn(), ["VM-0917"]),
        ("nothing-like-this", []),
        ("20%6", []),  # LIKE wildcards are searched for literally
        ("SB_0920", []),
    ],
)
def test_search_finds_lots_by_code_gtin_product_or_party(
    client: TestClient, query: str, lots: list[str]
) -> None:
    response = client.get("/", params={"q": query})
    assert response.status_code == 200
    html = response.text
    found = re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a></th>', html)
    assert found == lots
    if not lots:
        assert "No lot found" in text_of(html)


def test_search_results_link_to_each_lots_page(story: Story, client: TestClient) -> None:
    html = client.get("/", params={"q": "Valley Mill"}).text
    links = re.findall(r'<th scope="row"><a href="([^"]+)">', html)
    assert links == [_path(story.flour), _path(story.wheat)]
    for link in links:
        assert client.get(link).status_code == 200


def test_search_page_without_a_query_is_a_form(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert '<form class="search" action="/" method="get" role="search"' in html
    assert '<label for="q">' in html
    assert "No lot found" not in html


def test_search_runs_on_each_backend(fresh_story: Story, tmp_path: Path) -> None:
    with client_for(fresh_story, tmp_path) as client:
        for query, lots in (
            ("sb-09", ["SB-0920"]),
            ("0950600013435", ["HF-2026-07"]),
            ("valley MILL", ["VM-0917", "HF-2026-07"]),
            ("20%6", []),
            ("SB_0920", []),
        ):
            html = client.get("/", params={"q": query}).text
            found = re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a></th>', html)
            assert found == lots, query

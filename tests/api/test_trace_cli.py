"""The traceability commands (``trace``, ``recall``, ``import-epcis``, ``export``) run as a
user runs them: through click, in a home with the operator's and participants' key files.

Includes the import of every GS1 example document the official schema accepts (the
participants the examples name registered with their GLNs, and the events the examples
declare erroneous recorded first), and the refusal, whole, of invalid documents."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook  # type: ignore[import-untyped]

from api.cli import _Context
from api.settings import load_settings
from api.trace_cli import recall_command, trace_command, trace_main, write_trace_export
from ledger.canonical import JSONObject
from ledger.keys import PrivateKey, save_private_key
from ledger.log import Ledger
from ledger.state import Participant, Role
from ledger.trace import (
    EpcisEvent,
    build_epcis_document,
    dumps_epcis,
    load_epcis_json,
    parse_epcis_document,
)
from ledger.trace.builders import Amount, commission, ship
from ledger.trace.fsma import FSMA_COLUMNS
from ledger.trace.rules import location_gln, parse_trace_body, party_gln, performer_error
from ledger.trace.service import open_trace_ledger
from tests.factory import key_for
from tests.ledger.trace.schema import SCHEMA_INVALID_EXAMPLES, example_paths, schema_errors
from tests.ledger.trace.test_ledger_chain import TraceChain
from tests.ledger.trace.test_scenario_bakery import (
    LOAVES,
    SCENARIO_CAST,
    WHEAT_A,
    Scenario,
    bakery_scenario,
)

CREATED = datetime(2026, 12, 1, tzinfo=UTC)
VALID_EXAMPLES = [p for p in example_paths() if p.name not in SCHEMA_INVALID_EXAMPLES]
INVALID_EXAMPLES = [p for p in example_paths() if p.name in SCHEMA_INVALID_EXAMPLES]


def _save_keys(home: Path, tc: TraceChain) -> None:
    for name, key in tc.chain.keys.items():
        save_private_key(home / "keys" / f"{name}.pem", key, None)


def _home(tmp_path: Path, cast: Any = SCENARIO_CAST) -> tuple[Path, TraceChain]:
    home = tmp_path / "home"
    tc = TraceChain.create(f"sqlite:///{home / 'ledger.db'}", cast)
    _save_keys(home, tc)
    return home, tc


def run(home: Path, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(trace_main, ["--home", str(home), *args], env={})
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


@pytest.fixture
def story(tmp_path: Path) -> Iterator[tuple[Path, TraceChain, Scenario]]:
    home, tc = _home(tmp_path)
    scenario = bakery_scenario(tc)
    yield home, tc, scenario
    tc.close()


# -- trace and recall -----------------------------------------------------------------------


def test_trace_prints_the_provenance(story: tuple[Path, TraceChain, Scenario]) -> None:
    home, _, scenario = story
    out = run(home, "trace", LOAVES).stdout
    assert "Provenance of lot BAKE-0920" in out
    assert "4 lots" in out
    assert "FARM-A-24 (GTIN 09506000134352)" in out
    assert "~58.82%" in out  # 10/17 of the loaves came from farm A's wheat
    assert f"declared erroneous at seq {scenario.seqs['mill-declare']}" in out
    data = json.loads(run(home, "--json", "trace", LOAVES).stdout)
    assert [lot["share"] for lot in data["lots"]] == ["1", "50/51", "10/17", "20/51"]
    assert scenario.seqs["bake"] in data["seqs"]
    dated = json.loads(
        run(home, "--json", "trace", LOAVES, "--as-of", str(scenario.seqs["bake"])).stdout
    )
    assert dated["as_of_seq"] == scenario.seqs["bake"]


def test_recall_prints_every_holder(story: tuple[Path, TraceChain, Scenario]) -> None:
    home, _, _ = story
    out = run(home, "recall", WHEAT_A).stdout
    assert "holders: bakery, cafe, farm-a, retailer" in out
    assert "bakery -> cafe" in out
    data = json.loads(run(home, "--json", "recall", WHEAT_A).stdout)
    assert {(s["holder"], s["quantity"]) for s in data["stock"]} == {
        ("farm-a", "100"),
        ("bakery", "200"),
        ("bakery", "300"),
        ("retailer", "900"),
        ("cafe", "500"),
    }


def test_an_unknown_or_malformed_lot_exits_1(story: tuple[Path, TraceChain, Scenario]) -> None:
    home, _, _ = story
    result = run(home, "trace", "https://id.gs1.org/01/09506000134352/10/NOPE", code=1)
    assert "no record names lot" in result.stderr
    result = run(home, "recall", "not-a-lot", code=1)
    assert "error:" in result.stderr


def test_a_missing_ledger_exits_3(tmp_path: Path) -> None:
    result = run(tmp_path / "nowhere", "trace", LOAVES, code=3)
    assert "fairledger init" in result.stderr


def test_json_is_read_from_the_root_context_of_the_fairledger_cli(
    story: tuple[Path, TraceChain, Scenario],
) -> None:
    """Added to ``api.cli.main``, the commands take --json from its context object."""
    home, _, _ = story

    @click.group()
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def main(ctx: click.Context, as_json: bool) -> None:
        ctx.obj = _Context(load_settings(home, None), as_json)

    main.add_command(trace_command)
    main.add_command(recall_command)
    result = CliRunner().invoke(main, ["--json", "recall", WHEAT_A], env={})
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["lot"] == WHEAT_A


# -- export ---------------------------------------------------------------------------------


def test_export_writes_epcis_and_fsma_files(
    story: tuple[Path, TraceChain, Scenario], tmp_path: Path
) -> None:
    home, _, scenario = story
    epcis = tmp_path / "lot.jsonld"
    data = json.loads(
        run(
            home, "--json", "export", "--format", "epcis", "--lot", LOAVES, "--out", str(epcis)
        ).stdout
    )
    assert data["events"] == len(scenario.seqs)
    document = load_epcis_json(epcis.read_bytes())
    assert schema_errors(document) == []
    csv_file = tmp_path / "fsma.csv"
    run(home, "export", "--format", "fsma204", "--out", str(csv_file), "--since", "2026-01-01")
    table = list(csv.reader(io.StringIO(csv_file.read_text(encoding="utf-8"))))
    assert tuple(table[0]) == FSMA_COLUMNS
    assert len(table) == 21
    xlsx = tmp_path / "fsma.xlsx"
    run(home, "export", "--format", "xlsx", "--party", "farm-b", "--out", str(xlsx))
    sheet = load_workbook(xlsx).active
    assert [c.value for c in sheet[1]] == list(FSMA_COLUMNS)
    assert sheet.max_row == 4  # farm B: packing, shipping, the mill's receipt
    assert not (tmp_path / "fsma.xlsx.partial").exists()
    result = run(
        home, "export", "--format", "epcis", "--out", str(epcis), "--since", "soon", code=2
    )
    assert "ISO 8601" in result.stderr


def test_write_trace_export_for_the_fairledger_cli(
    story: tuple[Path, TraceChain, Scenario],
) -> None:
    _, tc, _ = story
    out = io.BytesIO()
    count = write_trace_export(tc.ledger, out, format="epcis", party="retailer", now=CREATED)
    document = load_epcis_json(out.getvalue())
    assert count == len(document["epcisBody"]["eventList"]) == 3  # shipped to, received, sold
    assert document["creationDate"] == "2026-12-01T00:00:00Z"
    with pytest.raises(ValueError, match="format"):
        write_trace_export(tc.ledger, io.BytesIO(), format="pdf")


# -- import ---------------------------------------------------------------------------------


def _write(tmp_path: Path, events: list[JSONObject | EpcisEvent], name: str = "doc.json") -> Path:
    path = tmp_path / name
    path.write_text(dumps_epcis(build_epcis_document(events, CREATED), indent=2), encoding="utf-8")
    return path


def test_import_signs_each_event_as_its_performer_in_one_batch(
    story: tuple[Path, TraceChain, Scenario], tmp_path: Path
) -> None:
    home, tc, _ = story
    lot = "https://id.gs1.org/01/09506000134352/10/IMPORTED"
    events: list[JSONObject | EpcisEvent] = [
        commission(**tc.kw(), gln=tc.gln("farm-a"), lots=[Amount(lot, 50)]),
        ship(
            **tc.kw(),
            shipper_gln=tc.gln("farm-a"),
            receiver_gln=tc.gln("mill"),
            lots=[Amount(lot, 20)],
        ),
        commission(**tc.kw(), gln=tc.gln("farm-b"), lots=[Amount(lot + "B", 5)]),
    ]
    path = _write(tmp_path, events)
    size = tc.ledger.size
    data = json.loads(
        run(home, "--json", "import-epcis", str(path), "--as", "farm-a", "--as", "farm-b").stdout
    )
    assert [e["author"] for e in data["events"]] == ["farm-a", "farm-a", "farm-b"]
    assert [e["seq"] for e in data["events"]] == [size, size + 1, size + 2]
    assert tc.ledger.size == size + 3
    # The same document again: its eventIDs are recorded, so it is refused whole.
    result = run(home, "import-epcis", str(path), "--as", "farm-a", "--as", "farm-b", code=1)
    assert "refused whole" in result.stderr
    assert "epcisBody.eventList[0]" in result.stderr
    assert tc.ledger.size == size + 3


def test_an_import_breaking_mass_balance_writes_nothing(
    story: tuple[Path, TraceChain, Scenario], tmp_path: Path
) -> None:
    home, tc, _ = story
    lot = "https://id.gs1.org/01/09506000134352/10/SHORT"
    events: list[JSONObject | EpcisEvent] = [
        commission(**tc.kw(), gln=tc.gln("farm-a"), lots=[Amount(lot, 10)]),
        ship(
            **tc.kw(),
            shipper_gln=tc.gln("farm-a"),
            receiver_gln=tc.gln("mill"),
            lots=[Amount(lot, 11)],
        ),
    ]
    size, checkpoint = tc.ledger.size, tc.ledger.latest_checkpoint()
    result = run(home, "import-epcis", str(_write(tmp_path, events)), "--as", "farm-a", code=1)
    assert "epcisBody.eventList[1]: mass balance" in result.stderr
    assert (tc.ledger.size, tc.ledger.latest_checkpoint()) == (size, checkpoint)


def test_an_import_by_the_wrong_participant_is_refused(
    story: tuple[Path, TraceChain, Scenario], tmp_path: Path
) -> None:
    home, tc, _ = story
    event = commission(**tc.kw(), gln=tc.gln("farm-a"), lots=[Amount(WHEAT_A, 1)])
    size = tc.ledger.size
    result = run(home, "import-epcis", str(_write(tmp_path, [event])), "--as", "mill", code=1)
    assert "epcisBody.eventList[0]: none of the --as participants performed this event" in (
        result.stderr
    )
    assert tc.ledger.size == size


def test_an_invalid_document_is_refused_whole_naming_each_field(
    story: tuple[Path, TraceChain, Scenario], tmp_path: Path
) -> None:
    home, tc, _ = story
    good = commission(**tc.kw(), gln=tc.gln("farm-a"), lots=[Amount(WHEAT_A, 1)])
    document = build_epcis_document([good, good], CREATED)
    raw = json.loads(dumps_epcis(document))
    raw["epcisBody"]["eventList"][1]["eventID"] = "urn:uuid:00000000-0000-4000-8000-00000000beef"
    raw["epcisBody"]["eventList"][0]["quantityList"][0]["quantity"] = "lots"
    raw["epcisBody"]["eventList"][1]["bizStep"] = "harvesting"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    size = tc.ledger.size
    result = run(home, "import-epcis", str(path), "--as", "farm-a", code=1)
    assert "epcisBody.eventList[0].quantityList[0].quantity" in result.stderr
    assert "epcisBody.eventList[1].bizStep" in result.stderr
    assert tc.ledger.size == size
    path.write_text("{not json", encoding="utf-8")
    assert "invalid JSON" in run(home, "import-epcis", str(path), "--as", "farm-a", code=1).stderr
    result = run(home, "import-epcis", str(tmp_path / "missing.json"), "--as", "farm-a", code=3)
    assert "cannot read" in result.stderr
    result = run(home, "import-epcis", str(_write(tmp_path, [good])), "--as", "nobody", code=3)
    assert "no key for nobody" in result.stderr


@pytest.mark.parametrize("path", INVALID_EXAMPLES, ids=[p.stem for p in INVALID_EXAMPLES])
def test_a_schema_invalid_gs1_example_is_refused_whole(path: Path, tmp_path: Path) -> None:
    home, tc = _home(tmp_path)
    try:
        size = tc.ledger.size
        result = run(home, "import-epcis", str(path), "--as", "farm-a", code=1)
        assert "epcisBody.eventList[0].bizStep" in result.stderr
        assert tc.ledger.size == size
    finally:
        tc.close()


def _performer(trace: Any) -> str | None:
    """The GLN, among those the event names, of the party the rules say performed it."""
    facts = trace.facts
    candidates = [party_gln(s.id) for s in (*facts.sources, *facts.destinations)]
    candidates += [location_gln(facts.biz_location), location_gln(facts.read_point)]
    for gln in dict.fromkeys(c for c in candidates if c is not None):
        participant = Participant(f"gln-{gln}", gln, frozenset({Role.SUPPLIER}), 1, gln)
        if performer_error(participant, trace) is None:
            return gln
    return None


def _prepare_example(tc: TraceChain, events: list[EpcisEvent]) -> list[str]:
    """Register the performers the example needs, give them the stock its events take out,
    and record the events it declares erroneous. Returns the participants to import as."""
    traces = [parse_trace_body({"event": e.ledger_form()}) for e in events]
    originals = []
    for event in events:
        if event.error_declaration is not None:
            form = event.ledger_form()
            del form["errorDeclaration"]
            originals.append(parse_trace_body({"event": form}))
    # Originals first: they are recorded before the document is imported.
    jobs = [(t, _performer(t)) for t in [*originals, *traces]]
    performers = list(dict.fromkeys(g for _, g in jobs if g is not None)) or ["9506000134369"]
    names = {gln: f"gln-{gln}" for gln in performers}
    for gln, name in names.items():
        tc.register(name, "supplier", "buyer", gln=gln)
    for trace, found in jobs:
        gln = found or performers[0]
        needed = [q for q in trace.facts.lots_out if q.quantity is not None]
        if needed:
            stock = [Amount(q.epc_class, q.quantity or 0, q.uom) for q in needed]
            tc.record(names[gln], commission(**tc.kw(), gln=gln, lots=stock))
    for original, found in jobs[: len(originals)]:
        tc.record(names[found or performers[0]], original.form)
    return list(names.values())


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=[p.stem for p in VALID_EXAMPLES])
def test_every_schema_valid_gs1_example_imports(path: Path, tmp_path: Path) -> None:
    home, tc = _home(tmp_path, ())
    try:
        events = parse_epcis_document(load_epcis_json(path.read_bytes()))
        signers = _prepare_example(tc, events)
        for name in signers:
            save_private_key(home / "keys" / f"{name}.pem", tc.chain.keys[name], None)
        size = tc.ledger.size
        args = [a for name in signers for a in ("--as", name)]
        data = json.loads(run(home, "--json", "import-epcis", str(path), *args).stdout)
        assert len(data["events"]) == len(events)
        assert tc.ledger.size == size + len(events)
        before = tc.ledger.projection_dump()
        tc.ledger.rebuild_projections()
        assert tc.ledger.projection_dump() == before
    finally:
        tc.close()


def test_keys_are_read_from_the_home(tmp_path: Path) -> None:
    """The operator's key signs the checkpoint; a participant's key file signs its events."""
    home, tc = _home(tmp_path, (("farm-a", ("supplier",)),))
    url = tc.chain.url
    tc.close()
    ledger: Ledger = open_trace_ledger(url)
    try:
        assert ledger.operator_public_key == key_for("operator").public_key
    finally:
        ledger.close()
    assert isinstance(PrivateKey.from_seed(bytes(32)), PrivateKey)
    assert (home / "keys" / "farm-a.pem").exists()

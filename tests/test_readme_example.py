"""The README's ten-line example runs, verbatim, against a real server on a loopback port."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn

from api import wiring
from api.app import create_app
from api.client import Author, registration_body
from api.settings import load_settings
from ledger.keys import PrivateKey, save_private_key
from ledger.state import Kind
from ledger.statement import Record
from ledger.trace.builders import Amount, harvest, trace_body

ROOT = Path(__file__).resolve().parents[1]
ORIGIN = "readme.example/grain"
FARM_GLN, MILL_GLN = "9506000134369", "9506000134390"
LOT = "https://id.gs1.org/01/09506000134109/10/W-42"


def example_code() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Ten-line example\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, "the Ten-line example section holds one Python block"
    return str(blocks[0])


def _prepare(home: Path) -> str:
    """The ledger the example assumes: farm-a and mill-b registered with their keys and
    GLNs, and farm-a's harvest of lot W-42 recorded. Returns the operator vkey."""
    settings = load_settings(home, None)
    now = datetime(2026, 1, 5, 9, tzinfo=UTC)
    operator = PrivateKey.generate()
    save_private_key(settings.key_path("operator"), operator)
    ledger = wiring.create_ledger(
        settings.url, origin=ORIGIN, operator_id="operator", operator_key=operator, now=now
    )
    try:
        admin = Author("operator", operator, ORIGIN, clock=lambda: now)
        keys = {}
        for participant, name, roles, gln in (
            ("farm-a", "Farm A", ("supplier",), FARM_GLN),
            ("mill-b", "Mill B", ("supplier", "buyer"), MILL_GLN),
        ):
            keys[participant] = PrivateKey.generate()
            save_private_key(settings.key_path(participant), keys[participant])
            body = registration_body(
                ORIGIN, participant, display_name=name, roles=roles, key=keys[participant], gln=gln
            )
            ledger.submit(admin.statement(Kind.REGISTER, body), now=now)
        farm = Author("farm-a", keys["farm-a"], ORIGIN, clock=lambda: now)
        harvested = harvest(
            event_id="urn:uuid:9d7b3c1a-5e2f-4a6b-8c9d-0e1f2a3b4c5d",
            when=now,
            gln=FARM_GLN,
            lots=[Amount(LOT, "1000")],
        )
        ledger.submit(farm.statement(Kind.TRACE_EVENT, trace_body(harvested)), now=now)
        return ledger.verifier.vkey
    finally:
        ledger.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The API over the prepared ledger, on a loopback socket bound before the server
    starts (connections wait in its backlog, so no readiness polling is needed)."""
    vkey = _prepare(tmp_path / ".fairledger")
    app = create_app(load_settings(tmp_path / ".fairledger", None))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    served = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=served.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", vkey
    finally:
        served.should_exit = True
        thread.join(timeout=30)
        sock.close()
        app.state.ledger.close()


def test_the_ten_line_example_runs(
    server: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, vkey = server
    monkeypatch.chdir(tmp_path)
    code = compile(example_code(), "README.md (Ten-line example)", "exec")
    namespace: dict[str, object] = {"URL": url, "VKEY": vkey}
    exec(code, namespace)  # noqa: S102 - the README's own example, run as a reader would
    printed = capsys.readouterr().out
    assert "('farm-a', 'shipped', '800')" in printed
    assert "('mill-b', 'received', '800')" in printed
    # The example really appended both statements, signed by their authors.
    ledger = wiring.open_ledger(load_settings(tmp_path / ".fairledger", None).url)
    try:
        assert ledger.size == 6
        with ledger.store.read() as tx:
            stored = [tx.record(seq) for seq in (4, 5)]
        authors = [Record.from_leaf(r.leaf).statement.author for r in stored if r is not None]
        assert authors == ["farm-a", "mill-b"]
    finally:
        ledger.close()
    receipt = namespace["receipt"]
    assert getattr(receipt, "seq", None) == 4

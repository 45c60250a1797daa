"""``fairledger serve``: sockets bound with SO_REUSEPORT and TCP_NODELAY, one process per
worker, and clean failures. No server is started on the network: sockets are bound to
loopback and closed, and uvicorn's runner is replaced where a test would start it."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner

import api.serve as serve_module
from api.serve import bind_socket, nodelay_protocol, serve, set_nodelay
from api.settings import Settings
from ledger.keys import save_private_key
from tests.factory import new_chain


def test_socket_has_reuseport_and_nodelay() -> None:
    sock = bind_socket("127.0.0.1", 0, reuse_port=True)
    try:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        port = sock.getsockname()[1]
        twin = bind_socket("127.0.0.1", port, reuse_port=True)  # a second worker's socket
        twin.close()
    finally:
        sock.close()


def test_without_reuseport_a_taken_port_fails() -> None:
    sock = bind_socket("127.0.0.1", 0, reuse_port=False)
    try:
        with pytest.raises(OSError, match="in use"):
            bind_socket("127.0.0.1", sock.getsockname()[1], reuse_port=False)
    finally:
        sock.close()


class _Transport(asyncio.Transport):
    def __init__(self, sock: socket.socket | None) -> None:
        super().__init__()
        self.sock = sock

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.sock if name == "socket" else default


def test_every_connection_gets_nodelay() -> None:
    left, right = socket.socketpair(socket.AF_UNIX)  # not TCP: left alone
    set_nodelay(_Transport(left))
    set_nodelay(_Transport(None))
    left.close()
    right.close()
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        assert tcp.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        set_nodelay(_Transport(tcp))
        assert tcp.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        tcp.close()
    protocol = nodelay_protocol()
    assert issubclass(protocol, asyncio.Protocol)
    assert "connection_made" in vars(protocol)


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    chain = new_chain(home / "ledger.db")
    chain.ledger.close()
    save_private_key(home / "keys" / "operator.pem", chain.operator)
    return home


def test_serve_one_worker_runs_uvicorn_on_its_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _home(tmp_path)
    ran: list[tuple[Any, list[socket.socket]]] = []

    def fake_run(self: Any, sockets: list[socket.socket]) -> None:
        ran.append((self.config, sockets))
        for sock in sockets:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
            sock.close()

    monkeypatch.setenv("FAIRLEDGER_HOME", str(home))
    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    result = CliRunner().invoke(serve, ["--port", "0"])
    assert result.exit_code == 0, result.output
    [(config, sockets)] = ran
    assert len(sockets) == 1
    assert config.http.__name__ == "NoDelayHTTPProtocol"
    assert config.access_log is True
    ran.clear()
    result = CliRunner().invoke(serve, ["--port", "0", "--no-access-log"])
    assert result.exit_code == 0, result.output
    [(config, _)] = ran
    assert config.access_log is False


def test_serve_many_workers_starts_one_process_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _home(tmp_path)
    calls: list[tuple[Settings, str, int, int]] = []

    def fake_workers(
        settings: Settings, host: str, port: int, workers: int, level: str, *, access_log: bool
    ) -> int:
        assert access_log is False
        calls.append((settings, host, port, workers))
        return 0

    monkeypatch.setenv("FAIRLEDGER_HOME", str(home))
    monkeypatch.setattr(serve_module, "run_workers", fake_workers)
    result = CliRunner().invoke(serve, ["--workers", "3", "--port", "0", "--no-access-log"])
    assert result.exit_code == 0, result.output
    [(settings, host, port, workers)] = calls
    assert (host, port, workers) == ("127.0.0.1", 0, 3)
    assert settings.home == home


def test_serve_without_a_ledger_fails_with_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAIRLEDGER_HOME", str(tmp_path / "empty"))
    for workers in ("1", "2"):
        result = CliRunner().invoke(serve, ["--workers", workers])
        assert result.exit_code == 3
        assert "error:" in result.output


@pytest.mark.parametrize("args", [["--workers", "0"], ["--port", "70000"], ["--bogus"]])
def test_serve_refuses_bad_flags(args: list[str]) -> None:
    assert CliRunner().invoke(serve, args).exit_code == 2


def test_serve_help() -> None:
    result = CliRunner().invoke(serve, ["--help"])
    assert result.exit_code == 0
    assert "--workers" in result.output
    assert "SO_REUSEPORT" in result.output


def _worker_exits(
    settings: dict[str, Any], host: str, port: int, level: str, access_log: bool
) -> None:
    """Stands in for a server process: exits with a code only its arguments can produce."""
    raise SystemExit(len(Path(settings["home"]).name) + port + access_log)


def test_run_workers_spawns_each_process_and_reports_its_exit(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    assert serve_module.run_workers(settings, "127.0.0.1", 0, 2, "info", target=_worker_exits) == 5
    assert (
        serve_module.run_workers(
            settings, "127.0.0.1", 0, 2, "info", access_log=False, target=_worker_exits
        )
        == 4
    )

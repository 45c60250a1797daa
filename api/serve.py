"""``fairledger serve``: run the HTTP API under uvicorn.

DESIGN §6: ``uvicorn --workers N`` leaves TCP_NODELAY off on keep-alive connections and may
hand one worker every connection. So with ``--workers N`` (N > 1) this starts N independent
server processes, each binding its own listening socket with ``SO_REUSEPORT`` so the kernel
spreads connections across them, and every accepted connection gets ``TCP_NODELAY`` (set on
the listening socket, which Linux copies to accepted sockets, and again per connection by the
protocol class). Each process opens the ledger itself; appends from several processes are
serialised by the database's append lock (DESIGN §6), group-committed within each process.

The command is registered on the ``fairledger`` group by ``api.cli``; it reads the group's
settings (``--home``, ``--database-url``) from the click context when there are any.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click
import uvicorn

from api.app import create_app, open_ledger
from api.settings import Settings, load_settings
from ledger.errors import LedgerError

BACKLOG = 2048
#: The CLI's exit code for a database or file that cannot be used.
EXIT_UNAVAILABLE = 3


def bind_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A listening TCP socket on ``host:port`` with TCP_NODELAY (and SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    """Turn Nagle's algorithm off on a TCP connection (no-op for other transports)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def nodelay_protocol() -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol class, setting TCP_NODELAY on every connection."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    class NoDelayHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            set_nodelay(transport)
            super().connection_made(transport)

    return NoDelayHTTPProtocol


def _config(settings: Settings, *, log_level: str, access_log: bool = True) -> uvicorn.Config:
    """uvicorn's configuration for the app over the ledger ``settings`` names (opened here:
    raises ``LedgerError`` if it cannot be)."""
    app = create_app(settings)
    return uvicorn.Config(
        app,
        http=nodelay_protocol(),
        log_level=log_level,
        access_log=access_log,
        lifespan="on",
        timeout_keep_alive=30,
    )


def run_single(
    settings: Settings, host: str, port: int, log_level: str = "info", *, access_log: bool = True
) -> None:
    """Serve in this process until interrupted (raises ``LedgerError``/``OSError``)."""
    config = _config(settings, log_level=log_level, access_log=access_log)
    sock = bind_socket(host, port, reuse_port=False)
    uvicorn.Server(config).run(sockets=[sock])


def run_worker(
    settings_data: dict[str, Any], host: str, port: int, log_level: str, access_log: bool = True
) -> None:
    """One server process: its own SO_REUSEPORT socket, its own app and ledger."""
    from api.routes.deps import ApiSettings

    settings = ApiSettings(**settings_data)
    sock = bind_socket(host, port, reuse_port=True)
    config = _config(settings, log_level=log_level, access_log=access_log)
    uvicorn.Server(config).run(sockets=[sock])


def run_workers(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    log_level: str,
    *,
    access_log: bool = True,
    target: Callable[..., None] = run_worker,
) -> int:
    """Start ``workers`` processes running ``target`` (a server each, called with the
    settings as a dict, host, port, log level and ``access_log``) and wait for them;
    SIGINT/SIGTERM stop them all.

    Returns the first non-zero exit code of a worker (0 if all exited cleanly).
    """
    probe = bind_socket(host, port, reuse_port=True)  # fail fast if the port is taken
    probe.close()
    context = multiprocessing.get_context("spawn")
    data = settings.model_dump(mode="json")
    processes = [
        context.Process(
            target=target,
            args=(data, host, port, log_level, access_log),
            name=f"fairledger-worker-{i}",
        )
        for i in range(workers)
    ]
    for process in processes:
        process.start()

    def stop(signum: int, _frame: object) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            process.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    codes = [p.exitcode or 0 for p in processes]
    return next((c for c in codes if c not in (0, -signal.SIGTERM)), 0)


def _settings_from_context() -> Settings:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root().obj if ctx is not None else None
    found = getattr(root, "settings", None)
    return found if isinstance(found, Settings) else load_settings()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes, each with its own SO_REUSEPORT socket.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="Log every request (at info level); off saves a little CPU per request.",
)
def serve(host: str, port: int, workers: int, log_level: str, access_log: bool) -> None:
    """Serve the HTTP API (DESIGN §8) with uvicorn."""
    settings = _settings_from_context()
    try:
        if workers == 1:
            run_single(settings, host, port, log_level, access_log=access_log)
            return
        open_ledger(settings).close()  # fail here, not in every worker
        code = run_workers(settings, host, port, workers, log_level, access_log=access_log)
    except LedgerError as exc:
        _fail(exc.message)
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    sys.exit(code)


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_UNAVAILABLE)

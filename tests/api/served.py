"""Waiting for a ``fairledger serve``/``demo`` subprocess to serve, without polling.

The server binds and listens on its socket before uvicorn starts, and uvicorn logs
``Application startup complete.`` (at log level info) once the app is up: from then on a
request is served, at worst after waiting in the listen backlog. A thread copies the process's
combined output into the log file and signals that line; the test blocks on the signal.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import IO

READY_LINE = b"Application startup complete."


def start_logged(
    command: list[str], *, cwd: Path, env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[bytes], threading.Event]:
    """Start ``command`` with stdout and stderr copied into ``log``; the event is set when
    the server logs that it is ready (or when its output ends, so a crash is not waited
    out)."""
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    ready = threading.Event()
    assert process.stdout is not None
    threading.Thread(target=_copy, args=(process.stdout, log, ready), daemon=True).start()
    return process, ready


def _copy(stream: IO[bytes], log: Path, ready: threading.Event) -> None:
    with log.open("wb") as out:
        for line in stream:
            out.write(line)
            out.flush()
            if READY_LINE in line:
                ready.set()
    ready.set()


def wait_until_serving(
    process: subprocess.Popen[bytes], ready: threading.Event, log: Path, *, within: float
) -> None:
    """Block until the server is ready; fail with its log if it exited or never got there."""
    assert ready.wait(within), f"the server was not ready within {within} s:\n{log.read_text()}"
    assert process.poll() is None, log.read_text()

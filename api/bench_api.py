"""HTTP figures for ``fairledger bench --api``: a real server on loopback, real clients.

Starts ``fairledger serve --workers N`` (N processes with SO_REUSEPORT) on 127.0.0.1 over a
scratch ledger (SQLite by default, or the PostgreSQL URL given), then measures with
pre-signed statements so that only the server's work is timed:

* single-statement POSTs from 32 concurrent clients (statements/s accepted);
* the batch endpoint, 100 statements per batch, from 4 concurrent clients;
* provenance-free read latency (``GET /v1/records/{seq}``, p50).

The load generator shares the machine's two cores with the server, so the figures are a
floor for what the server alone can do.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from api.bench import _Builder
from ledger.keys import save_private_key

CLIENTS = 32
BATCH = 100


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _serve(home: Path, url: str, port: int, workers: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRLEDGER_")}
    env.update(FAIRLEDGER_HOME=str(home), FAIRLEDGER_DATABASE_URL=url, PYTHONUNBUFFERED="1")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "info",
        ],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert server.stderr is not None
    ready = 0
    for line in server.stderr:
        if "Application startup complete" in line:
            ready += 1
            if ready == workers:
                break
    else:
        raise RuntimeError(f"the server exited with {server.wait()}")
    threading.Thread(target=server.stderr.read, daemon=True).start()
    return server


def _post_all(port: int, bodies: list[bytes], path: str, clients: int) -> float:
    """POST every body from ``clients`` threads, each with one keep-alive connection
    (``http.client``: a light generator, so the server, not the client, is measured);
    returns elapsed seconds. Raises on any non-2xx answer."""
    failures: list[str] = []

    def worker(part: list[bytes]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            for body in part:
                conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                data = response.read()
                if response.status not in (200, 201):
                    failures.append(f"{path}: {response.status} {data[:300]!r}")
                    return
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(bodies[k::clients],)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(failures[0])
    return elapsed


def run_api_bench(
    *,
    statements: int,
    workers: int,
    database_url: str | None,
    echo: Callable[[str], None] | None,
) -> dict[str, float | int | str]:
    say = echo or (lambda _line: None)
    figures: dict[str, float | int | str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{tmp}/api-bench.db"
        builder = _Builder(url)
        home = Path(tmp) / "home"
        save_private_key(home / "keys" / "operator.pem", builder.operator)
        singles = [json.dumps(s.to_json()).encode() for s in builder.make(statements)]
        batches = [
            json.dumps({"submissions": [s.to_json() for s in builder.make(BATCH)]}).encode()
            for _ in range(max(1, statements // BATCH))
        ]
        builder.ledger.close()
        port = _free_port()
        server = _serve(home, url, port, workers)
        base = f"http://127.0.0.1:{port}"
        backend = url.split(":", 1)[0]
        try:
            elapsed = _post_all(port, singles, "/v1/statements", CLIENTS)
            figures["api_single_post_per_s"] = round(len(singles) / elapsed)
            say(
                f"API ({backend}, {workers} server processes): single POSTs from {CLIENTS} "
                f"clients: {len(singles) / elapsed:,.0f} statements/s"
            )
            elapsed = _post_all(port, batches, "/v1/statements/batch", 4)
            rate = len(batches) * BATCH / elapsed
            figures["api_batch_per_s"] = round(rate)
            say(
                f"API ({backend}, {workers} server processes): batch endpoint ({BATCH} per "
                f"batch, 4 clients): {rate:,.0f} statements/s"
            )
            latencies = []
            with httpx.Client(base_url=base) as http:
                for seq in range(1, 300):
                    start = time.perf_counter()
                    http.get(f"/v1/records/{seq}").raise_for_status()
                    latencies.append(time.perf_counter() - start)
            figures["api_record_get_p50_ms"] = round(statistics.median(latencies) * 1000, 2)
            say(f"API: GET /v1/records/{{seq}} p50 {statistics.median(latencies) * 1000:.2f} ms")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    return figures

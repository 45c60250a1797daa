"""Child process for the stress test.

``writer URL N SEED``: appends N rounds (a batch or single submits, sizes from SEED) as the
mill, printing each receipt as JSON when its append returns. ``reader URL N VKEY``: runs N full
audits of the live ledger, printing one JSON line per audit.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import timedelta

from ledger.log import Ledger
from ledger.verify import audit_database
from tests.factory import T0, Chain, key_for


def writer(url: str, rounds: int, seed: int) -> None:
    ledger = Ledger.open(url, operator_key=key_for("operator"))
    chain = Chain(ledger, url, {"operator": key_for("operator"), "mill": key_for("mill")})
    chain.clock = T0 + timedelta(hours=1)
    rng = random.Random(seed)
    for n in range(rounds):
        subs = [
            chain.statement(
                "mill",
                "sale.report",
                {"lot": "L", "quantity": "1"},
                nonce=f"w{seed}-{n:05d}-{i:03d}",
            )
            for i in range(rng.randint(1, 20))
        ]
        if n % 2:
            results = ledger.append(subs, now=chain.tick())
        else:
            results = [ledger.submit(s, now=chain.tick()) for s in subs]
        for r in results:
            sys.stdout.write(json.dumps(r.receipt.to_json()) + "\n")
        sys.stdout.flush()
    ledger.close()


def reader(url: str, rounds: int, vkey: str) -> None:
    for _ in range(rounds):
        report = audit_database(url, operator_vkey=vkey, parallel=False)
        sys.stdout.write(
            json.dumps(
                {
                    "ok": report.ok,
                    "size": report.size,
                    "findings": [f.message for f in report.findings],
                }
            )
            + "\n"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    mode, url, rounds, extra = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    if mode == "writer":
        writer(url, rounds, int(extra))
    else:
        reader(url, rounds, extra)

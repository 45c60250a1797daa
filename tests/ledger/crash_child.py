"""Child process for the crash test: appends batches forever, printing each receipt as soon
as ``append`` returns it (stdout is line-buffered and flushed), until it is SIGKILLed."""

from __future__ import annotations

import json
import sys
from datetime import timedelta

from ledger.log import Ledger
from tests.factory import T0, Chain, key_for


def main() -> None:
    url, start = sys.argv[1], int(sys.argv[2])
    ledger = Ledger.open(url, operator_key=key_for("operator"))
    chain = Chain(ledger, url, {"operator": key_for("operator"), "mill": key_for("mill")})
    chain.clock = T0 + timedelta(hours=1 + start)
    batch = 0
    while True:
        subs = [
            chain.statement(
                "mill",
                "sale.report",
                {"lot": "L", "quantity": "1"},
                nonce=f"crash-{start:03d}-{batch:06d}-{i}",
            )
            for i in range(1 + batch % 7)
        ]
        if batch % 3 == 0:
            results = [ledger.submit(s, now=chain.tick()) for s in subs]
        else:
            results = ledger.append(subs, now=chain.tick())
        for r in results:
            sys.stdout.write(json.dumps(r.receipt.to_json()) + "\n")
        sys.stdout.flush()
        batch += 1


if __name__ == "__main__":
    main()

"""A buyer's offline check of one lot, standalone (DESIGN §7).

    python scripts/verify_lot.py BUNDLE --vkey VKEY [--witness VKEY ...] [--min-witnesses K]
    python scripts/verify_lot.py --url URL --lot LOT --vkey VKEY [--save FILE] ...

BUNDLE is a lot proof bundle (``GET /v1/lots/bundle?lot=``, format
``fairledger-lot-bundle/v1``). Every record of the lot's provenance is checked against the one
signed checkpoint in the bundle (its canonical bytes, entry hash and inclusion proof), every
signature against the key its author held at that seq (replaying the key records included),
and the provenance is rebuilt from those records and compared with what the bundle claims,
trusting nothing but VKEY (the operator's key, as printed by ``fairledger init``) and the
``--witness`` keys. Prints the verified provenance tree (``--json`` for machines).

Exit codes: 0 everything holds, 1 the bundle failed a check, 2 usage, 3 the file or server
could not be used.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from api.bundle_cli import run_verify_lot  # noqa: E402


def main(argv: Sequence[str] | None = None, *, http: httpx.Client | None = None) -> int:
    """Parse the arguments, verify, print the report; returns the exit code. ``http``
    replaces the network (for tests)."""
    parser = argparse.ArgumentParser(
        prog="verify_lot.py", description="Check a FairLedger lot proof bundle offline."
    )
    parser.add_argument("bundle", nargs="?", type=Path, help="the bundle file")
    parser.add_argument("--vkey", required=True, help="the operator vkey you trust")
    parser.add_argument(
        "--witness", action="append", default=[], help="a witness vkey you trust (repeatable)"
    )
    parser.add_argument("--min-witnesses", type=int, default=0, help="witnesses required")
    parser.add_argument("--url", help="fetch the bundle from this server")
    parser.add_argument("--lot", help="with --url: the lot")
    parser.add_argument("--save", type=Path, help="with --url: keep the fetched bundle here")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return run_verify_lot(
        args.bundle,
        args.vkey,
        args.witness,
        args.min_witnesses,
        args.json,
        url=args.url,
        lot=args.lot,
        save=args.save,
        http=http,
    )


if __name__ == "__main__":
    sys.exit(main())

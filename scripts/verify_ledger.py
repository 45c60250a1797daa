"""An auditor's check of a FairLedger, standalone (DESIGN §7).

    python scripts/verify_ledger.py URL-or-FILE --vkey VKEY --state STATE.json [--json]

SOURCE is a server URL (``https://ledger.example.coop``), an export file
(``fairledger export``) or a database URL. Every record, link, signature, key validity,
authorship rule, Merkle root and checkpoint signature is re-checked with the FairLedger library,
trusting nothing but VKEY (the operator's key, as printed by ``fairledger init``). With
``--state``, the last verified checkpoint is kept per ledger and the next run checks only the
new records plus a consistency proof from it; a rewritten, truncated, rolled-back or forked
history is reported, and the evidence (both signed checkpoints and the failed proof) is written
to ``--evidence`` (default: beside the state file).

Exit codes: 0 everything holds, 1 something failed, 2 usage, 3 the source or a file could not
be used.
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

from api.audit_cli import run_verify  # noqa: E402


def main(argv: Sequence[str] | None = None, *, http: httpx.Client | None = None) -> int:
    """Parse the arguments, audit, print the report; returns the exit code. ``http`` replaces
    the network (for tests)."""
    parser = argparse.ArgumentParser(
        prog="verify_ledger.py",
        description="Re-verify a FairLedger from a server URL, an export file or a database.",
    )
    parser.add_argument("source", help="server URL, export file or database URL")
    parser.add_argument("--vkey", help="the operator vkey you trust (as printed by init)")
    parser.add_argument(
        "--state", type=Path, help="state file: resume from the last verified checkpoint"
    )
    parser.add_argument("--evidence", type=Path, help="where to write evidence of a failure")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return run_verify(args.source, args.state, args.vkey, args.evidence, args.json, http=http)


if __name__ == "__main__":
    sys.exit(main())

"""The whole test command: lint, format, types, then every test.

Run through the README's second Quickstart command. Exits non-zero at the first failing step.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*command: str) -> None:
    print(f"$ {' '.join(command)}", flush=True)
    done = subprocess.run(command, cwd=ROOT, check=False)
    if done.returncode != 0:
        sys.exit(done.returncode)


def main() -> None:
    run(str(BIN / "ruff"), "check", ".")
    run(str(BIN / "ruff"), "format", "--check", ".")
    run(str(BIN / "mypy"), "--strict")
    workers = os.environ.get("FAIRLEDGER_TEST_WORKERS", "2")
    run(str(BIN / "pytest"), "-n", workers, "--dist", "loadgroup", *sys.argv[1:])


if __name__ == "__main__":
    main()

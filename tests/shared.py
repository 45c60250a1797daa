"""Where the read-only shared material (vectors, EPCIS schema and examples) lives."""

from __future__ import annotations

import os
from pathlib import Path

#: ``../shared`` beside the checkout, or ``$FAIRLEDGER_SHARED`` when set.
SHARED_DIR = Path(
    os.environ.get("FAIRLEDGER_SHARED", Path(__file__).resolve().parents[2] / "shared")
)
VECTORS_DIR = SHARED_DIR / "vectors"
EPCIS_DIR = SHARED_DIR / "epcis"

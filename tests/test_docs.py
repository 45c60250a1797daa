"""The threat model cites tests: every file (and test function) it names must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_threat_model_cites_real_tests() -> None:
    text = (ROOT / "docs" / "threat-model.md").read_text()
    cited = re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?", text)
    assert len(cited) > 15
    missing = []
    for path, function in cited:
        file = ROOT / path
        if not file.exists():
            missing.append(path)
        elif function and f"def {function}" not in file.read_text():
            missing.append(f"{path}::{function}")
    assert not missing, f"the threat model cites tests that do not exist: {missing}"

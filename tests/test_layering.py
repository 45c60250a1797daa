"""DESIGN §1 and STYLE §1: dependencies point one way (api → contracts → ledger), only
``ledger.storage`` imports SQLAlchemy, only ``ledger.keys`` imports cryptography.hazmat,
only api/ and the CLI read the clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ledger", "contracts", "api")
FORBIDDEN = {
    "ledger": {"contracts", "api", "fastapi", "uvicorn", "starlette", "httpx", "openpyxl"},
    "contracts": {
        "api",
        "fastapi",
        "uvicorn",
        "starlette",
        "sqlalchemy",
        "cryptography",
        "openpyxl",
    },
    "api": set(),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_dependencies_point_one_way(package: str) -> None:
    bad = []
    for path in _modules(package):
        for name in _imports(path):
            if name.split(".")[0] in FORBIDDEN[package]:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_only_storage_imports_sqlalchemy() -> None:
    bad = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in _modules(package)
        if any(n.split(".")[0] in {"sqlalchemy", "alembic"} for n in _imports(path))
        and "storage" not in path.relative_to(ROOT).parts
    ]
    assert not bad, f"only ledger/storage may import SQLAlchemy: {bad}"


def test_only_keys_module_touches_hazmat() -> None:
    bad = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in _modules(package)
        if any(n.startswith("cryptography") for n in _imports(path))
        and path != ROOT / "ledger" / "keys.py"
    ]
    assert not bad, f"only ledger/keys.py may import cryptography: {bad}"


def test_ledger_and_contracts_never_read_the_clock() -> None:
    bad = []
    for package in ("ledger", "contracts"):
        for path in _modules(package):
            text = path.read_text()
            for call in ("datetime.now(", "datetime.utcnow(", "time.time(", "date.today("):
                if call in text:
                    bad.append(f"{path.relative_to(ROOT)}: {call}")
    assert not bad, "time is a parameter in ledger/ and contracts/: " + ", ".join(bad)

"""``fairledger bench`` sections run end to end at small sizes and measure what they claim.

Benchmarks print figures and never assert speed; these tests check that each section still
builds its workload and measures the answer the issue's figure is about (a 1,000-node trace,
a 200-record bundle, a verified provenance page), so the benchmark cannot silently rot.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from api import bench_web
from api.bench import run_bench
from api.bench_bundle import run_bundle_bench
from api.bench_trace import run_trace_bench
from tests.api.test_cli import FAIRLEDGER

pytestmark = pytest.mark.xdist_group("bench")


def test_core_section_audits_fully_then_incrementally_from_the_saved_state(
    tmp_path: Path,
) -> None:
    figures = run_bench(records=1_200, batch=100, directory=tmp_path, echo=None)
    size = figures["records"]
    assert isinstance(size, int)
    assert size >= 1_100
    # the incremental run resumed from the full audit's state: only the new records
    assert figures["incremental_audit_records"] == max(100, size // 10)
    for name in ("append_per_s_early", "append_per_s_late", "verify_per_s", "inclusion_proof_ms"):
        assert isinstance(figures[name], int | float), name


def test_trace_section_measures_thousand_node_answers(tmp_path: Path) -> None:
    lines: list[str] = []
    figures = run_trace_bench(
        echo=lines.append,
        records=6_000,
        lots=3_000,
        query_runs=2,
        overhead_rounds=1,
        directory=tmp_path,
    )
    assert isinstance(figures["records"], int)
    assert figures["records"] >= 6_000
    for direction in ("trace_back", "trace_forward"):
        nodes = figures[f"{direction}_nodes"]
        assert isinstance(nodes, int)
        assert nodes >= 1_000, (direction, nodes)
        assert f"{direction}_ms" in figures
    assert "mass_balance_overhead_percent" in figures
    assert any("trace back" in line for line in lines)
    assert list(tmp_path.iterdir()) == []  # the scratch ledger is removed


def test_bundle_section_verifies_a_two_hundred_record_bundle(tmp_path: Path) -> None:
    figures = run_bundle_bench(runs=1, directory=tmp_path)
    records = figures["bundle_records"]
    assert isinstance(records, int)
    assert records >= 200
    size = figures["bundle_bytes"]
    assert isinstance(size, int)
    assert size > records * 100


def test_web_section_renders_a_verified_hundred_node_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in (("RUNS", 2), ("CHANGED_RUNS", 1), ("BUNDLE_RUNS", 1), ("WARMUP", 1)):
        monkeypatch.setattr(bench_web, name, value)
    lines: list[str] = []
    figures = bench_web.run_web_bench(echo=lines.append)
    assert figures["web_page_nodes"] == 100
    for name in ("", "unrelated_", "full_", "bundle_"):
        assert isinstance(figures[f"web_page_{name}median_ms"], float)
    assert any("provenance page (100 nodes" in line for line in lines)


def test_api_section_without_statements_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [FAIRLEDGER, "bench", "--section", "api"],
        env={"FAIRLEDGER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "--api N" in done.stderr

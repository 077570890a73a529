"""Smoke test of the benchmark: ``bench/run.py --quick`` runs to the end and prints every figure.

Skipped unless ``BENCH_SMOKE=1``: the quick run takes 15-35 s on 2 cores, depending on load,
and starts a dozen pytest subprocesses (some with ``-n 2``), which would compete with the
project's own ``-n 2`` test run in CI. No timing is asserted: a slow figure is never a failure.

    BENCH_SMOKE=1 python -m pytest tests/test_bench_smoke.py -q
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Every figure the bench prints, by id (bench/README.md says what each one is).
FIGURE_IDS = [
    *(f"1.{i}" for i in range(1, 7)),
    *(f"2.{i}" for i in range(1, 8)),
    *(f"3.{i}" for i in range(1, 9)),
    *(f"4.{i}" for i in range(1, 5)),
    *(f"5.{i}" for i in range(1, 6)),
]

pytestmark = pytest.mark.skipif(
    os.environ.get("BENCH_SMOKE") != "1", reason="benchmark smoke run: set BENCH_SMOKE=1 (takes 15-35 s)"
)


def test_quick_bench_prints_every_figure():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick"],
        cwd=str(ROOT),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    printed = set(re.findall(r"^(\d\.\d)\s", proc.stdout, re.MULTILINE))
    missing = [fid for fid in FIGURE_IDS if fid not in printed]
    assert not missing, f"figures not printed: {missing}\n{proc.stdout[-4000:]}"
    summary = re.search(r"^-- \d+ figures, \d+ of \d+ targets met", proc.stdout, re.MULTILINE)
    assert summary, proc.stdout[-2000:]

"""The README's demo command works: both example DAGs end to end against the sandbox, a table of videos."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# `make demo` runs on the newest Airflow: CI runs this once, there.
pytestmark = [pytest.mark.slow, pytest.mark.once]

ROOT = Path(__file__).parent.parent


def test_demo_prints_a_video_for_every_prompt() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("example_")]
    assert len(rows) == 5
    assert all(" succeeded " in row and "/_sandbox/videos/" in row for row in rows)
    assert "5 paid submits (one per prompt)" in result.stdout
    [kept] = [line for line in result.stdout.splitlines() if line.startswith("Kept file://")]
    stored = Path(kept.split()[1].removeprefix("file://"))
    assert stored.is_file()
    assert stored.read_bytes()[4:8] == b"ftyp"  # an MP4
    assert "example_keep_videos_consumer: success" in result.stdout
    assert "AIRFLOW_CONN_HAILUO_DEFAULT" in result.stdout  # how to point it at the real vendors

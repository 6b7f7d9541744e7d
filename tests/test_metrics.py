"""Every metric of ``metrics.py`` reaches a real StatsD listener with its documented tags.

The runs happen in a fresh Python process with ``[metrics] statsd_on`` (Airflow makes its ``Stats``
client once per process), sending to a UDP socket this test reads: what a StatsD server receives.
Tags travel in the InfluxDB line style (``[metrics] statsd_influxdb_enabled``): ``name,tag=value:1|c``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_provider_videotask.sandbox import Sandbox
from tests.conftest import SENTINEL_TOKEN

pytestmark = pytest.mark.usefixtures("airflow_db")

ROOT = Path(__file__).resolve().parents[1]

# The documented names (docs/metrics.md) and their tags.
EXPECTED: dict[str, set[str]] = {
    "videotask.submit.accepted": {"vendor", "conn_id", "model"},
    "videotask.submit.refused": {"vendor", "conn_id", "model"},
    "videotask.submit.rejected": {"vendor", "conn_id", "model"},
    "videotask.submit.unknown": {"vendor", "conn_id", "model"},
    "videotask.poll.requests": {"vendor", "conn_id"},
    "videotask.poll.errors.auth": {"vendor", "conn_id"},
    "videotask.task.finished.succeeded": {"vendor", "conn_id", "source"},
    "videotask.task.finished.failed": {"vendor", "conn_id", "source"},
    "videotask.task.finished.rejected": {"vendor", "conn_id", "source"},
    "videotask.task.generation_time": {"vendor", "conn_id", "source"},
    "videotask.task.detection_delay": {"vendor", "conn_id", "source"},
    "videotask.poller.waiters": {"vendor", "conn_id"},  # and hostname, and module for HiDream
}

# Each run after the faults it needs (POST /_sandbox/faults), in a fresh process.
STEPS = [
    ("metrics_hailuo_deferred", [{"kind": "rate_limit", "only": "submits", "retry_after": 0.1}]),
    ("metrics_hidream_ends_badly", []),
    ("metrics_submit_rejected", [{"kind": "server_error", "status": 400, "only": "submits"}]),
    ("metrics_submit_unknown", [{"kind": "server_error", "status": 500, "only": "submits"}]),
    ("metrics_poll_refused", [{"kind": "unauthorized", "only": "reads"}]),
]
RUNS = """
import json, sys
import requests
from tests.dags.metrics_dags import DAGS
url, steps = sys.argv[1], json.loads(sys.argv[2])
for dag_id, faults in steps:
    for fault in faults:
        requests.post(url + "/_sandbox/faults", json=fault, timeout=5).raise_for_status()
    state = DAGS[dag_id].test().state
    print(dag_id, state, flush=True)
"""


def parse(line: str) -> tuple[str, dict[str, str], str]:
    """``airflow.videotask.x,tag=v:1|c`` -> ("videotask.x", {"tag": "v"}, "c")."""
    stat, _, value = line.rpartition(":")
    name, *tags = stat.split(",")
    return name.removeprefix("airflow."), dict(tag.split("=", 1) for tag in tags), value.split("|")[1]


def statsd_env(port: int) -> dict[str, str]:
    """A fresh process's environment with Airflow's StatsD on, to the listener on ``port`` (tags InfluxDB-style)."""
    return {
        **os.environ,
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(port),
        "AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED": "True",
    }


def test_every_metric_is_emitted_with_its_documented_tags(statsd: tuple[int, Callable[[], list[str]]]) -> None:
    port, drained = statsd
    with Sandbox(duration=0) as sandbox:
        env = statsd_env(port)
        for conn_id, conn_type in (("metrics_hailuo", "hailuo"), ("metrics_hidream", "hidream")):
            document = {"conn_type": conn_type, "host": sandbox.url, "password": SENTINEL_TOKEN}
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(document)
        run = subprocess.run(
            [sys.executable, "-c", RUNS, sandbox.url, json.dumps(STEPS)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        finished = dict(line.split() for line in run.stdout.splitlines() if line.startswith("metrics_"))
        assert finished == {
            "metrics_hailuo_deferred": "success",
            "metrics_hidream_ends_badly": "failed",
            "metrics_submit_rejected": "failed",
            "metrics_submit_unknown": "failed",
            "metrics_poll_refused": "failed",
        }
        assert sandbox.counts()["tasks_created"] == 4  # the deferred one, the two HiDream, the poll refused
    ours = [parse(line) for line in drained() if line.startswith("airflow.videotask.")]
    seen: dict[str, list[dict[str, str]]] = {}
    for name, tags, _kind in ours:
        seen.setdefault(name, []).append(tags)
    assert set(seen) == set(EXPECTED), f"missing {set(EXPECTED) - set(seen)}, undocumented {set(seen) - set(EXPECTED)}"
    for name, tag_sets in seen.items():
        for tags in tag_sets:
            extra = set()
            if name == "videotask.poller.waiters":
                extra = {"hostname", "module"} if tags.get("vendor") == "hidream" else {"hostname"}
            assert set(tags) == EXPECTED[name] | extra, (name, tags)
            assert tags["vendor"] in ("hailuo", "hidream"), tags
            assert tags["conn_id"].startswith("metrics_"), tags
    kinds = {name: kind for name, _tags, kind in ours}
    assert kinds["videotask.task.generation_time"] == kinds["videotask.task.detection_delay"] == "ms"
    assert kinds["videotask.poller.waiters"] == "g"
    assert kinds["videotask.submit.accepted"] == "c"
    # Counted once per submit: refused once, then accepted, for the deferred run.
    accepted = [tags for tags in seen["videotask.submit.accepted"] if tags["conn_id"] == "metrics_hailuo"]
    assert all(tags["model"] == "minimax-t2v" for tags in accepted)
    assert len(seen["videotask.submit.refused"]) == 1
    assert {tags["vendor"] for tags in seen["videotask.task.finished.failed"]} == {"hidream"}

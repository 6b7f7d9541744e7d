"""The whole stack: a real scheduler, triggerer, DAG processor and API server (LocalExecutor, SQLite).

The sensor pokes once on a worker, defers to the real triggerer, and resumes on a worker when the
trigger fires; the downstream task receives the URLs. Sandbox tasks take 20 s, so the trigger fires
well after deferral.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_videotask.sandbox import Sandbox

pytestmark = pytest.mark.slow

DAG_ID = "e2e_video_sensor"
TASK_SECONDS = 20
DEADLINE_SECONDS = 170
COMPONENTS = ("api-server", "scheduler", "triggerer", "dag-processor")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Stack:
    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def airflow(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *args], env=self.env, capture_output=True, text=True, timeout=180
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    def start(self, component: str, *args: str) -> None:
        log = open(self.home / f"{component}.log", "wb")  # noqa: SIM115 - closed with the process
        self.processes[component] = subprocess.Popen(
            [sys.executable, "-m", "airflow", component, *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            assert process.poll() is None, f"airflow {name} exited: {self.log_tail(name)}"

    def api_server_answers(self) -> bool:
        """Workers report through the API server's execution API: nothing may run before it is up."""
        try:
            answer = requests.get(f"{self.env['AIRFLOW__CORE__EXECUTION_API_SERVER_URL']}health", timeout=2)
        except requests.RequestException:
            return False
        return answer.status_code == 200

    def log_tail(self, component: str, size: int = 3000) -> str:
        return (self.home / f"{component}.log").read_text(errors="replace")[-size:]

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read Airflow's database while it runs (read-only; retried if a writer holds the lock)."""
        for _ in range(20):
            try:
                with sqlite3.connect(f"file:{self.home / 'airflow.db'}?mode=ro", uri=True, timeout=5) as db:
                    return db.execute(sql, params).fetchall()
            except sqlite3.OperationalError:
                time.sleep(0.1)
        raise AssertionError(f"database stayed locked for: {sql}")


@pytest.fixture
def stack(tmp_path: Path, sandbox_for_stack: Sandbox) -> Iterator[Stack]:
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    shutil.copy(Path(__file__).parent / "dags" / "e2e_sensor_dag.py", home / "dags")
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API_AUTH__JWT_SECRET": "full-stack-test-secret",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW_CONN_E2E_HIDREAM": json.dumps(
            {"conn_type": "hidream", "host": sandbox_for_stack.url, "password": "stack-token"}
        ),
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent), os.environ.get("PYTHONPATH", "")]),
    }
    running = Stack(home, env)
    running.airflow("db", "migrate")
    try:
        for component in COMPONENTS:
            running.start(component)
        yield running
    finally:
        running.stop()


@pytest.fixture
def sandbox_for_stack() -> Iterator[Sandbox]:
    with Sandbox() as server:
        yield server


@pytest.mark.integration
def test_sensor_defers_to_the_real_triggerer_and_resumes(stack: Stack, sandbox_for_stack: Sandbox) -> None:
    started = time.monotonic()

    def wait_for(what: str, condition: Any) -> Any:
        while time.monotonic() - started < DEADLINE_SECONDS:
            stack.check_alive()
            if found := condition():
                return found
            time.sleep(0.5)
        logs = "\n".join(f"--- {name}\n{stack.log_tail(name)}" for name in COMPONENTS)
        raise AssertionError(f"timed out waiting for {what}\n{logs}")

    wait_for("the API server", stack.api_server_answers)
    wait_for("the DAG to be parsed", lambda: stack.query("select 1 from dag where dag_id = ?", DAG_ID))
    stack.airflow("dags", "trigger", DAG_ID, "--conf", json.dumps({"duration": TASK_SECONDS}))

    seen: set[str] = set()

    def run_finished() -> str | None:
        seen.update(s for (s,) in stack.query("select state from task_instance where task_id = 'wait'") if s)
        rows = stack.query("select state from dag_run where dag_id = ?", DAG_ID)
        return rows[0][0] if rows and rows[0][0] in ("success", "failed") else None

    assert wait_for("the DAG run to finish", run_finished) == "success", stack.log_tail("scheduler")
    assert "deferred" in seen
    states = dict(stack.query("select task_id, state from task_instance"))
    assert states == {"submit": "success", "wait": "success", "use_videos": "success"}

    [(raw,)] = stack.query("select value from xcom where task_id = 'use_videos' and key = 'return_value'")
    received = json.loads(raw)
    assert received["count"] == 3
    assert all(url.startswith(f"{sandbox_for_stack.url}/_sandbox/videos/") for url in received["urls"])

    counts = sandbox_for_stack.counts()
    assert counts["hidream_submit"] == 3
    assert counts["hidream_batch"] >= 2  # the sensor's first look, then the trigger's polls
    assert counts["ids_queried"] == 3 * counts["hidream_batch"]  # batches, not one request per task

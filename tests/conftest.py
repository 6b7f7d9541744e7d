"""Shared fixtures. Airflow is pointed at a throw-away home before anything imports it."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="videotask-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
# Airflow 3.3's dag.test() looks its DAG up in the DAGs folder: give it copies of every DAG the tests run.
_DAGS = _HOME / "dags"
_DAGS.mkdir()
for _source in [
    *Path(__file__).parent.joinpath("dags").glob("*.py"),
    *Path(__file__).parent.parent.joinpath("example_dags").glob("*.py"),
]:
    shutil.copy(_source, _DAGS / _source.name)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_DAGS)

from airflow_provider_videotask.hooks import base as hook_base  # noqa: E402
from airflow_provider_videotask.sandbox import Sandbox  # noqa: E402

# A token that must never show up anywhere it could leak: logs, errors, reprs, events, XCom.
SENTINEL_TOKEN = "sk-SENTINEL-7f3a9c-do-not-leak"


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, conn_type: str, host: str, **extra: object) -> None:
    """Define an Airflow connection through the environment, as users of AIRFLOW_CONN_* do."""
    document = {"conn_type": conn_type, "host": host, "password": SENTINEL_TOKEN, "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(document))


class RecordingTI:
    """The task instance a context needs outside Airflow: records XCom pushes."""

    dag_id, task_id, run_id, map_index = "dag", "task", "manual__1", -1

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


class StateStore(dict[str, Any]):
    """Airflow 3.3's task_state_store, as far as the ledger uses it (get, set, delete)."""

    def set(self, key: str, value: Any) -> None:
        self[key] = value

    def delete(self, key: str) -> None:
        self.pop(key, None)


def operator_context(store: StateStore | None = None, **more: Any) -> dict[str, Any]:
    """What a video operator's execute needs outside Airflow: a task instance and a store for its ledger."""
    return {"ti": RecordingTI(), "task_state_store": StateStore() if store is None else store, **more}


class FakeClock:
    """The trigger's and poller's clock: a wait is recorded and moves time on, instantly."""

    def __init__(self) -> None:
        self.now = time.time()
        self.waits: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.waits.append(delay)
        self.now += delay
        await asyncio.sleep(0)  # still let the other coroutines run

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from airflow_provider_videotask.triggers import poller, video_task

        for module in (video_task, poller):
            monkeypatch.setattr(module, "_sleep", self.sleep)
            monkeypatch.setattr(module, "_now", self.time)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch, sleeps: list[float]) -> FakeClock:
    """Runs triggers and pollers on a fake clock; the hooks' retry waits are recorded too (``sleeps``)."""
    fake = FakeClock()
    fake.install(monkeypatch)
    return fake


async def first_event(trigger: Any) -> dict[str, Any]:
    """Run a trigger to its (one) event."""
    async for event in trigger.run():
        return dict(event.payload)
    raise AssertionError("the trigger fired no event")


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait (bounded, 10 s) for a condition that the running event loop will bring about."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture(autouse=True)
def fresh_process() -> Iterator[None]:
    """Each test starts as a new process would: no HiDream token exchanged yet, no submits paced."""
    from airflow_provider_videotask.hooks import hidream, pacing

    for cache in (hidream._TOKENS, pacing._GATES):
        cache.clear()
    yield
    for cache in (hidream._TOKENS, pacing._GATES):
        cache.clear()


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata database (SQLite), created once per test session."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, timeout=300)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(duration=0) as server:
        yield server


@pytest.fixture
def sandbox_conns(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """``hidream_default``, ``hailuo_default`` and ``acedatacloud_default`` pointing at a fresh sandbox."""
    set_connection(monkeypatch, "hidream_default", "hidream", sandbox.url)
    set_connection(monkeypatch, "hailuo_default", "hailuo", sandbox.url)
    set_connection(monkeypatch, "acedatacloud_default", "acedatacloud", sandbox.url)
    return sandbox


class LogCapture:
    """Everything logged, whichever way the Airflow version routes it (stdlib logging, or structlog to stderr)."""

    def __init__(self, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
        self._caplog = caplog
        self._capfd = capfd
        self._seen = ""
        caplog.set_level(logging.DEBUG)

    @property
    def text(self) -> str:
        out, err = self._capfd.readouterr()
        self._seen += out + err
        return self._caplog.text + self._seen

    def count(self, line: str) -> int:
        """How many times ``line`` was logged (a version that routes a line both ways counts it once)."""
        self.text  # noqa: B018 - reads what was printed so far
        return max(self._caplog.text.count(line), self._seen.count(line))


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> LogCapture:
    return LogCapture(caplog, capfd)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The hooks' waits between retries, recorded instead of slept."""
    recorded: list[float] = []

    async def record_async(delay: float) -> None:
        recorded.append(delay)

    monkeypatch.setattr(hook_base, "_sleep", recorded.append)
    monkeypatch.setattr(hook_base, "_asleep", record_async)
    return recorded


@pytest.fixture
def statsd() -> Iterator[tuple[int, Callable[[], list[str]]]]:
    """A UDP socket standing in for a StatsD server: its port, and a call that stops it once everything
    sent has been read (a quiet second after the senders are done) and returns every line."""
    received: list[str] = []
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(1.0)
    stop = threading.Event()

    def listen() -> None:
        while True:
            try:
                received.extend(server.recv(65535).decode().splitlines())
            except TimeoutError:
                if stop.is_set():
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()

    def drained() -> list[str]:
        stop.set()
        listener.join(timeout=30)
        return received

    yield server.getsockname()[1], drained
    stop.set()
    listener.join(timeout=30)
    server.close()

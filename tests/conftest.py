"""Shared fixtures. Airflow is pointed at a throw-away home before anything imports it."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

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


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait (bounded, 10 s) for a condition that the running event loop will bring about."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


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
    """``hidream_default`` and ``hailuo_default`` pointing at a fresh sandbox."""
    set_connection(monkeypatch, "hidream_default", "hidream", sandbox.url)
    set_connection(monkeypatch, "hailuo_default", "hailuo", sandbox.url)
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

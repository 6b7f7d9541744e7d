"""The secret sweep: with a sentinel token, every path and every failure, and the token shows up nowhere."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_videotask.hooks.hailuo import HailuoHook
from airflow_provider_videotask.hooks.hidream import HiDreamHook
from airflow_provider_videotask.operators.hailuo import HailuoVideoOperator
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.sensors.video_task import VideoTaskSensor
from airflow_provider_videotask.triggers.video_task import VideoTaskTrigger
from tests.conftest import SENTINEL_TOKEN, FakeClock, LogCapture, RecordingTI, StateStore, set_connection

FAILURES = {
    "401": {"kind": "unauthorized", "count": -1},
    "403": {"kind": "used_up", "count": -1},
    "5xx exhausted": {"kind": "server_error", "count": -1},
    "timeout": {"kind": "slow", "count": 6, "delay": 1.2},
    "malformed body": {"kind": "malformed", "count": -1},
    "none (success)": None,
}


def run_everything(sandbox: Sandbox) -> list[str]:
    """Drive hooks, trigger, sensor and operator; return every text they produced (errors, events, XCom, reprs)."""
    seen: list[str] = []

    def attempt(call: Any) -> Any:
        try:
            return call()
        except BaseException as error:
            seen.extend([str(error), repr(error)])
            return None

    hailuo, hidream = HailuoHook("secret"), HiDreamHook("secret_hidream")
    seen += [repr(hailuo), repr(hidream)]
    attempt(lambda: seen.append(repr(hailuo.get_tasks(["a"]))))
    attempt(lambda: seen.append(repr(hidream.get_tasks(["a"]))))
    seen += [repr(hailuo.test_connection()), repr(hidream.test_connection())]
    attempt(lambda: seen.append(repr(hailuo.get_settings())))

    async def async_paths() -> None:
        hook = HailuoHook("secret")
        try:
            seen.append(repr(await hook.aget_tasks(["a"])))
        except Exception as error:
            seen.extend([str(error), repr(error)])
        finally:
            await hook.aclose()
        trigger = VideoTaskTrigger("secret", ["a"], poll_interval=1, max_consecutive_errors=1, unknown_grace_period=0)
        seen.append(json.dumps(trigger.serialize()))
        async for event in trigger.run():
            seen.append(json.dumps(event.payload))

    asyncio.run(async_paths())
    ti = RecordingTI()
    sensor = VideoTaskSensor(task_id="s", video_task_ids=["a"], conn_id="secret", poke_interval=0.01, timeout=5,
                             max_consecutive_errors=1, unknown_grace_period=0)  # fmt: skip
    attempt(lambda: sensor.execute({"ti": ti, "task_state_store": StateStore()}))
    operator = HailuoVideoOperator(task_id="o", prompt="boat", hailuo_conn_id="secret", poll_interval=0.01, timeout=5,
                                   max_consecutive_errors=1)  # fmt: skip
    attempt(lambda: operator.execute({"ti": ti, "task_state_store": StateStore()}))
    # Deferring: what goes into Airflow's database is the trigger's serialized kwargs.
    for deferring in (
        VideoTaskSensor(task_id="ds", video_task_ids=["a"], conn_id="secret", deferrable=True, timeout=5,
                        unknown_grace_period=600),
        HailuoVideoOperator(task_id="do", prompt="boat", hailuo_conn_id="secret", deferrable=True, timeout=5),
    ):  # fmt: skip
        try:
            deferring.execute({"ti": ti, "task_state_store": StateStore()})
        except TaskDeferred as deferred:
            seen.append("TRIGGER " + json.dumps([deferred.trigger.serialize(), deferred.kwargs]))
        except Exception as error:
            seen.extend([str(error), repr(error)])
    seen += [json.dumps(ti.xcom), repr(sensor), repr(operator)]
    return seen


@pytest.mark.parametrize("failure", list(FAILURES))
def test_the_token_appears_nowhere(
    failure: str, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, logs: LogCapture, sleeps: list[float]
) -> None:
    FakeClock().install(monkeypatch)
    set_connection(monkeypatch, "secret", "hailuo", sandbox.url, request_timeout=1)
    set_connection(monkeypatch, "secret_hidream", "hidream", sandbox.url, request_timeout=1)
    if FAILURES[failure] is not None:
        sandbox.add_fault(**FAILURES[failure])  # type: ignore[arg-type]
    texts = run_everything(sandbox)
    log_text = logs.text
    assert sandbox.counts()["requests"] > 0
    assert "Hailuo" in log_text  # the capture really saw the provider's logs
    if FAILURES[failure] is None:
        assert sum(text.startswith("TRIGGER ") for text in texts) == 2  # both deferred: their kwargs were swept
    for text in [*texts, log_text]:
        assert SENTINEL_TOKEN not in text

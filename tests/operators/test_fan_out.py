"""A mapped fan-out beyond the vendors' rate limit succeeds, and pays exactly once per prompt.

Each vendor's sandbox takes 5 submits per 10 s (HTTP 429 with Retry-After beyond). Under dag.test() the
mapped instances run one after another and a refused one defers to a timer trigger, as in a deployment,
so the run takes at least 20 / 5 * 10 = 40 s per vendor: the vendor's limit. (dag.test() runs about one
instance a second, so fewer are refused than in a deployment: see benchmarks/bench_fan_out.py.)
"""

from __future__ import annotations

import pytest

from airflow_provider_videotask.hooks.hailuo import HailuoHook
from airflow_provider_videotask.hooks.hidream import HiDreamHook
from airflow_provider_videotask.sandbox import Sandbox, SubmitLimit
from tests.conftest import SENTINEL_TOKEN, LogCapture, set_connection
from tests.dag_runs import task_states
from tests.dags.fan_out_dag import DAGS, PROMPTS, SUBJECT

# Twenty mapped instances per vendor wait out the limit (about 70 s each): CI runs them once, on the
# newest Airflow (the refused submit's wait in a timer trigger is the same on the floor).
pytestmark = [pytest.mark.slow, pytest.mark.once]

FIVE_PER_TEN_SECONDS = SubmitLimit(per_window=5, window=10)


@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize("vendor", ["hidream", "hailuo"])
def test_twenty_mapped_prompts_succeed_past_the_rate_limit(
    vendor: str, monkeypatch: pytest.MonkeyPatch, logs: LogCapture
) -> None:
    with Sandbox(duration=0, limits={(vendor, "*"): FIVE_PER_TEN_SECONDS}) as sandbox:
        set_connection(monkeypatch, f"fan_{vendor}", vendor, sandbox.url)
        # Another pipeline of the same account has just used this window up, so the fan-out starts refused
        # whatever pace dag.test() keeps.
        hook = HiDreamHook(f"fan_{vendor}") if vendor == "hidream" else HailuoHook(f"fan_{vendor}")
        for _ in range(5):
            hook.submit(prompt="earlier")
        dag_run = DAGS[vendor].test()
        assert task_states(dag_run) == {vendor: "success"}
        accepted = sandbox.submits_by_account()[SENTINEL_TOKEN]
        # Every prompt was accepted exactly once; the ones past the limit were refused first.
        prompts = sorted(
            task.request["prompt"] for task in sandbox.state.tasks.values() if task.request["prompt"] != "earlier"
        )
        assert prompts == sorted(f"{SUBJECT[vendor]} {n}" for n in range(PROMPTS))
        assert accepted["accepted"] == PROMPTS + 5
        assert accepted["refused"] > 0  # the limit was reached, and waited out
    assert "refused, nothing billed" in logs.text

"""Spend guards, before anything is paid: a fan-out past max_videos_per_run, a submit over max_cost."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_videotask.api.errors import VideoTaskValidationError
from airflow_provider_videotask.operators.hailuo import HailuoVideoOperator
from airflow_provider_videotask.operators.hidream import HiDreamVideoOperator
from airflow_provider_videotask.sandbox import Sandbox
from tests.conftest import LogCapture, RecordingTI, StateStore, operator_context, set_connection


class MappedTI(RecordingTI):
    """One instance of a mapped task, as Airflow's task runner gives it: it counts its siblings as the
    execution API's ``/task-instances/count`` does (``states`` filters, "null" for not scheduled yet)."""

    dag_id, task_id, run_id = "content", "generate", "manual__1"

    def __init__(self, map_index: int, instances: int = 0, states: list[str | None] | None = None) -> None:
        super().__init__()
        self.map_index = map_index
        self.states = states if states is not None else [None] * instances

    def get_ti_count(
        self, *, dag_id: str, task_ids: list[str], run_ids: list[str], states: list[str] | None = None
    ) -> int:
        assert (dag_id, task_ids, run_ids) == (self.dag_id, [self.task_id], [self.run_id])
        if not states:
            return len(self.states)
        return sum(("null" if state is None else state) in states for state in self.states)


def hailuo(**kwargs: Any) -> HailuoVideoOperator:
    return HailuoVideoOperator(**{"task_id": "generate", "prompt": "a boat", "poll_interval": 0.05, **kwargs})


def test_a_fan_out_past_max_videos_per_run_submits_nothing(sandbox_conns: Sandbox) -> None:
    for map_index in range(3):  # every instance refuses, the first as the last
        with pytest.raises(AirflowFailException, match=r"mapped over 3 prompts, more than max_videos_per_run=2"):
            hailuo(max_videos_per_run=2).execute(
                {"ti": MappedTI(map_index, instances=3), "task_state_store": StateStore()}
            )
    assert sandbox_conns.counts()["hailuo_submit"] == 0


def test_a_fan_out_within_the_limit_submits(sandbox_conns: Sandbox) -> None:
    [url] = hailuo(max_videos_per_run=3).execute({"ti": MappedTI(0, instances=3), "task_state_store": StateStore()})
    assert url.startswith(sandbox_conns.url)
    assert sandbox_conns.counts()["hailuo_submit"] == 1


def test_instances_a_shrunk_expansion_removed_do_not_count(sandbox_conns: Sandbox) -> None:
    # Cleared with 2 prompts after a first expansion over 5: Airflow keeps the 3 extra instances, "removed".
    ti = MappedTI(0, states=["running", None, "removed", "removed", "removed"])
    [url] = hailuo(max_videos_per_run=2).execute({"ti": ti, "task_state_store": StateStore()})
    assert url.startswith(sandbox_conns.url)
    assert sandbox_conns.counts()["hailuo_submit"] == 1


def priced(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox, conn_type: str, prices: Any) -> str:
    conn_id = f"priced_{conn_type}"
    set_connection(monkeypatch, conn_id, conn_type, sandbox.url, prices=prices)
    return conn_id


def test_the_estimate_is_logged_and_pushed(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    conn_id = priced(monkeypatch, sandbox, "hailuo", json.dumps({"minimax-t2v": 0.25}))  # as the UI stores it
    context: dict[str, Any] = operator_context()
    hailuo(hailuo_conn_id=conn_id, max_cost=0.3).execute(context)
    assert context["ti"].xcom["estimated_cost"] == 0.25
    assert sandbox.counts()["hailuo_submit"] == 1


def test_max_cost_refuses_a_submit_estimated_above_it(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    conn_id = priced(monkeypatch, sandbox, "hidream", {"txt2video": 0.5, "img2video": 0.2})
    operator = HiDreamVideoOperator(task_id="generate", prompt="fox", hidream_conn_id=conn_id, max_cost=0.4)
    with pytest.raises(AirflowFailException, match=r"estimated cost 0.5 of 'txt2video' exceeds max_cost=0.4"):
        operator.execute(operator_context())
    assert sandbox.counts()["hidream_submit"] == 0


def test_max_cost_without_a_price_refuses_rather_than_guess(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    conn_id = priced(monkeypatch, sandbox, "hailuo", {"minimax-i2v": 0.3})
    with pytest.raises(AirflowFailException, match=r"no price for 'minimax-t2v' in its extra 'prices'"):
        hailuo(hailuo_conn_id=conn_id, max_cost=1).execute(operator_context())
    assert sandbox.counts()["hailuo_submit"] == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_videos_per_run": 0}, "max_videos_per_run must be a whole number above 0"),
        ({"max_videos_per_run": 2.5}, "max_videos_per_run must be a whole number above 0"),
        ({"max_cost": -1}, "max_cost must be a number above 0"),
    ],
)
def test_bad_guards_name_the_argument(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(VideoTaskValidationError, match=message):
        hailuo(**kwargs)


def test_a_bad_price_table_names_the_extra_and_blocks_only_a_budget(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, logs: LogCapture
) -> None:
    conn_id = priced(monkeypatch, sandbox, "hailuo", {"minimax-t2v": "cheap"})
    with pytest.raises(VideoTaskValidationError, match=r"extra 'prices' must map a model or module"):
        hailuo(hailuo_conn_id=conn_id, max_cost=1).execute(operator_context())
    assert sandbox.counts()["hailuo_submit"] == 0
    hailuo(hailuo_conn_id=conn_id).execute(operator_context())  # no budget to check: warned, and goes on
    assert "extra 'prices' must map a model or module" in logs.text
    assert sandbox.counts()["hailuo_submit"] == 1


RESOLUTION_PRICES = {"txt2video": {"resolution_ratio": {"4096": 1.6, "2048": 0.8, "*": 0.4}}}


@pytest.mark.parametrize(
    ("resolution_ratio", "estimate"),
    [(4096, 1.6), (2048, 0.8), (None, 0.4)],  # None: the vendor's default, priced by "*"
)
def test_a_price_may_depend_on_a_submit_field(
    resolution_ratio: int | None, estimate: float, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = priced(monkeypatch, sandbox, "hidream", json.dumps(RESOLUTION_PRICES))
    context: dict[str, Any] = operator_context()
    HiDreamVideoOperator(
        task_id="generate", prompt="fox", resolution_ratio=resolution_ratio, hidream_conn_id=conn_id, poll_interval=0.05
    ).execute(context)
    assert context["ti"].xcom["estimated_cost"] == estimate


def test_max_cost_names_the_field_value_it_priced(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    conn_id = priced(monkeypatch, sandbox, "hidream", RESOLUTION_PRICES)
    operator = HiDreamVideoOperator(
        task_id="generate", prompt="fox", resolution_ratio=4096, hidream_conn_id=conn_id, max_cost=1
    )
    with pytest.raises(
        AirflowFailException, match=r"estimated cost 1.6 of 'txt2video' with resolution_ratio=4096 exceeds max_cost=1"
    ):
        operator.execute(operator_context())
    assert sandbox.counts()["hidream_submit"] == 0


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"txt2video": {"resolution_ratio": 0.4}}, r"prices\['txt2video'\] must be one field name mapped to"),
        ({"txt2video": {"a": {"1": 1}, "b": {"2": 2}}}, r"prices\['txt2video'\] must be one field name mapped to"),
        (
            {"txt2video": {"resolution_ratio": {"4096": "dear"}}},
            r"prices\['txt2video'\]\['resolution_ratio'\]\['4096'\]",
        ),
    ],
)
def test_a_bad_nested_price_is_named_by_its_path(table: dict[str, Any], problem: str) -> None:
    from airflow_provider_videotask.spend import prices_of

    with pytest.raises(VideoTaskValidationError, match=problem):
        prices_of(table, "priced")


@pytest.mark.usefixtures("airflow_db")
def test_a_mapped_fan_out_past_the_limit_fails_every_instance_in_a_real_run(
    monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox
) -> None:
    """Through Airflow's own task runner: the instances count themselves with the execution API."""
    from tests.dag_runs import task_states
    from tests.dags.fan_out_dag import guarded

    set_connection(monkeypatch, "fan_guarded", "hailuo", sandbox.url)
    assert task_states(guarded.test()) == {"generate": "failed"}
    assert sandbox.counts()["hailuo_submit"] == 0

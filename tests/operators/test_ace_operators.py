"""Each Ace Data Cloud service's operator through Airflow's own runner (dag.test), deferred to the
triggerer, against the sandbox speaking that service; and the sensor reading each service."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_videotask.api.errors import VideoTaskValidationError
from airflow_provider_videotask.hooks.ace import AceDataCloudHook
from airflow_provider_videotask.operators.ace import AceVideoOperator, KlingVideoOperator
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.sensors.video_task import VideoTaskSensor
from tests.conftest import operator_context
from tests.dag_runs import task_states, xcoms

SERVICES = ["kling", "veo", "luma", "wan", "seedance"]


@pytest.mark.slow
@pytest.mark.usefixtures("airflow_db")
def test_every_service_runs_through_its_operator_and_an_extend_takes_the_video_id(sandbox_conns: Sandbox) -> None:
    from tests.dags.ace_dags import dag

    dag_run = dag.test()
    assert task_states(dag_run) == {name: "success" for name in [*SERVICES, "kling_extend"]}
    counts = sandbox_conns.counts()
    assert {name: counts[f"{name}_submit"] for name in SERVICES} == {**dict.fromkeys(SERVICES, 1), "kling": 2}
    for name in SERVICES:
        [url] = xcoms(dag_run, name)["return_value"]
        assert url.startswith(f"{sandbox_conns.url}/_sandbox/videos/"), name
    [first] = xcoms(dag_run, "kling")["tasks"]
    extended = next(task for task in sandbox_conns.state.tasks.values() if task.request.get("action") == "extend")
    assert extended.request["video_id"] == first["video_ids"][0]  # the upstream video, from XCom


@pytest.mark.parametrize("service", SERVICES)
def test_the_sensor_reads_each_service_through_one_connection(service: str, sandbox_conns: Sandbox) -> None:
    task_id = AceDataCloudHook().submit(service, prompt="a lighthouse")
    sensor = VideoTaskSensor(
        task_id="wait", video_task_ids=[task_id], conn_id="acedatacloud_default", service=service, poke_interval=0.01
    )
    [url] = sensor.execute(operator_context())
    assert url.startswith(f"{sandbox_conns.url}/_sandbox/videos/")
    assert sandbox_conns.counts()[f"{service}_retrieve_batch"] >= 1


def test_an_acedatacloud_sensor_must_name_its_service(sandbox_conns: Sandbox) -> None:
    sensor = VideoTaskSensor(task_id="wait", video_task_ids=["t"], conn_id="acedatacloud_default", poke_interval=0.01)
    with pytest.raises(VideoTaskValidationError, match=r"name one with service=\.\.\. \(e\.g\. sora, luma, veo"):
        sensor.execute(operator_context())


@pytest.mark.parametrize("service", SERVICES)
def test_the_generic_operator_runs_any_service(service: str, sandbox_conns: Sandbox) -> None:
    context: dict[str, Any] = operator_context()
    operator = AceVideoOperator(task_id="generate", service=service, prompt="a fox", poll_interval=0.05)
    [url] = operator.execute(context)
    assert url.startswith(f"{sandbox_conns.url}/_sandbox/videos/")
    assert sandbox_conns.counts()[f"{service}_submit"] == 1


def test_a_literal_the_service_refuses_fails_at_parse_time() -> None:
    with pytest.raises(VideoTaskValidationError, match="Kling image2video needs a non-empty 'start_image_url'"):
        KlingVideoOperator(task_id="generate", action="image2video", prompt="x")
    with pytest.raises(VideoTaskValidationError, match="serves every Ace Data Cloud video service"):
        AceVideoOperator(task_id="generate", service="sora/videos", prompt="x")


def test_a_failed_video_fails_the_task_without_retries(sandbox_conns: Sandbox) -> None:
    with pytest.raises(AirflowFailException, match="no channel available"):
        KlingVideoOperator(task_id="generate", prompt="a boat [fail]", poll_interval=0.05).execute(operator_context())


def test_the_test_button_works_for_an_acedatacloud_connection(sandbox_conns: Sandbox) -> None:
    ok, message = AceDataCloudHook().test_connection()
    assert ok, message
    assert sandbox_conns.counts()["hailuo_retrieve_batch"] == 1  # one free status query


def test_a_hailuo_connection_reads_the_other_services_of_its_token(sandbox_conns: Sandbox) -> None:
    """A hailuo and an acedatacloud connection of one account share their pacing and its reads."""
    from airflow_provider_videotask.hooks.hailuo import HailuoHook

    task_id = AceDataCloudHook().submit("kling", prompt="a boat")
    [task] = HailuoHook().get_tasks([task_id], "kling")
    assert task.video_urls


def test_the_price_is_looked_up_under_the_model_the_request_names(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_videotask.operators.ace import VeoVideoOperator
    from tests.conftest import set_connection

    set_connection(monkeypatch, "priced_ace", "acedatacloud", sandbox.url, prices={"veo31-fast-ingredients": 0.5})
    context: dict[str, Any] = operator_context()
    VeoVideoOperator(
        task_id="generate",
        action="ingredients2video",  # the service takes only this model for it, whatever was asked
        prompt="a cat",
        image_urls=["https://i/1.png"],
        acedatacloud_conn_id="priced_ace",
        max_cost=1,
        poll_interval=0.05,
    ).execute(context)
    assert context["ti"].xcom["estimated_cost"] == 0.5


def test_a_services_operator_keeps_its_service() -> None:
    with pytest.raises(VideoTaskValidationError, match=r"submits to kling: use AceVideoOperator\(service='veo'\)"):
        KlingVideoOperator(task_id="generate", prompt="x", service="veo")

"""The vendor decides what it serves (issue: an open world). Through Airflow's own runner (dag.test),
deferred to the triggerer, against the sandbox, which like Ace knows models newer than the provider's
sources and serves any service by name."""

from __future__ import annotations

import pytest

from airflow_provider_videotask.hooks.ace import AceDataCloudHook
from airflow_provider_videotask.sandbox import Sandbox
from tests.conftest import LogCapture
from tests.dag_runs import task_states, xcoms

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("airflow_db")]


def test_new_models_options_and_services_run_to_success(sandbox_conns: Sandbox, logs: LogCapture) -> None:
    from tests.dags.open_world_dags import dag

    sora_task_id = AceDataCloudHook().submit("sora", prompt="a lighthouse at dusk")  # submitted elsewhere
    dag_run = dag.test(run_conf={"sora_task_id": sora_task_id})

    assert task_states(dag_run) == {"kling_new_model": "success", "any_service": "success", "wait_on_sora": "success"}
    [kling] = [task for task in sandbox_conns.state.tasks.values() if task.vendor == "kling"]
    assert (kling.request["model"], kling.request["aspect_ratio"]) == ("kling-v3-turbo", "21:9")
    # One warning per value the sources do not list, naming what they list and where that comes from.
    assert logs.count("model='kling-v3-turbo' is not among the documented values (kling-v1, kling-v1-6") == 1
    assert logs.count("aspect_ratio='21:9' is not among the documented values (16:9, 9:16, 1:1;") == 1
    assert "source: https://platform.acedata.cloud/documents/kling-videos" in logs.text

    counts = sandbox_conns.counts()
    assert [counts[f"{name}_submit"] for name in ("sora", "pika", "pixverse")] == [2, 1, 1]  # sora: 1 elsewhere
    for map_index, url in enumerate(xcoms(dag_run, "any_service").get("return_value") or []):
        assert url.startswith(f"{sandbox_conns.url}/_sandbox/videos/"), map_index
    [sensed] = xcoms(dag_run, "wait_on_sora")["return_value"]
    assert sensed.startswith(f"{sandbox_conns.url}/_sandbox/videos/")
    assert counts["sora_retrieve_batch"] >= 1


def test_a_model_the_vendor_refuses_fails_at_once_after_one_submit(sandbox_conns: Sandbox, logs: LogCapture) -> None:
    from tests.dags.open_world_dags import refused

    dag_run = refused.test()

    assert task_states(dag_run) == {"kling_unknown_model": "failed"}
    counts = sandbox_conns.counts()
    assert (counts["kling_submit"], counts["tasks_created"]) == (1, 0)
    assert "model is invalid." in logs.text  # the vendor's own message
    assert "nothing was billed" in logs.text

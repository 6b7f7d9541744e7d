"""HiDream's v3 and v4 through the hook, the shared poller and the sensor, against the sandbox.

Neither version documents a batch read, so every waiting task is one /results read per cycle, run
``parallel_reads`` at a time by the poller; v2 connections keep their batch reads.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from airflow_provider_videotask.api.errors import (
    SubmitFate,
    VideoTaskApiError,
    VideoTaskRequestError,
    VideoTaskValidationError,
    submit_fate,
)
from airflow_provider_videotask.hooks.hidream import HiDreamHook
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.sensors.video_task import VideoTaskSensor
from airflow_provider_videotask.triggers.video_task import VideoTaskTrigger
from tests.conftest import FakeClock, LogCapture, RecordingTI, first_event, set_connection
from tests.test_fault_matrix import MATRIX, assert_outcome

# (api_version, module, submit fields)
TASKS = [
    pytest.param("v3", "txt2video", {"prompt": "a harbour", "resolution": "1280*720"}, id="v3-txt2video"),
    pytest.param("v3", "keyframe2video", {"images": ["https://a/1.png", "https://a/2.png"]}, id="v3-keyframe2video"),
    pytest.param("v4", "hidream-Q2", {"version": "Q2.5T-std", "prompt": "a harbour"}, id="v4-kling"),
    pytest.param("v4", "hidream-R", {"prompt": "a harbour"}, id="v4-seedance"),
    pytest.param("v4", "hidream-R2-Audio", {"prompt": "a harbour", "generate_audio": True}, id="v4-seedance-audio"),
]


@pytest.fixture
def sandbox_limited(monkeypatch: pytest.MonkeyPatch) -> Any:
    with Sandbox(duration=0) as server:  # HiDream's documented limits, as by default
        set_connection(monkeypatch, "hidream_v3", "hidream", server.url, api_version="v3")
        yield server


@pytest.fixture
def versions(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    for api_version in ("v2", "v3", "v4"):
        set_connection(monkeypatch, f"hidream_{api_version}", "hidream", sandbox.url, api_version=api_version)
    return sandbox


@pytest.mark.parametrize(("api_version", "module", "fields"), TASKS)
def test_a_task_is_submitted_and_read_on_its_api_version(
    api_version: str, module: str, fields: dict[str, Any], versions: Sandbox
) -> None:
    hook = HiDreamHook(f"hidream_{api_version}")
    task_id = hook.submit(module, **fields)
    [task] = hook.get_tasks([task_id], module)
    assert task.state.value == "succeeded"
    assert task.video_urls[0].startswith(f"{versions.url}/_sandbox/videos/")
    assert hook.get_task(task_id, module).video_urls == task.video_urls
    [stored] = versions.state.tasks.values()
    assert stored.module == module
    if api_version == "v4":
        assert stored.request["module"] == module  # in the body too, as HiDream's client sends it
    counts = versions.counts()
    assert counts["hidream_batch"] == 0  # no batch endpoint is documented for v3 or v4
    assert counts["hidream_result"] == 2


def test_v2_still_reads_in_batches_and_v3_reads_one_task_per_request(versions: Sandbox) -> None:
    ids = {v: [HiDreamHook(f"hidream_{v}").submit(prompt=f"clip {n}") for n in range(3)] for v in ("v2", "v3")}
    HiDreamHook("hidream_v2").get_tasks(ids["v2"])
    assert (versions.counts()["hidream_batch"], versions.counts()["hidream_result"]) == (1, 0)
    HiDreamHook("hidream_v3").get_tasks(ids["v3"])
    assert (versions.counts()["hidream_batch"], versions.counts()["hidream_result"]) == (1, 3)


def test_a_module_of_another_version_goes_to_the_vendor_with_a_warning_and_its_refusal_is_free(
    versions: Sandbox, logs: LogCapture
) -> None:
    """Whether vivago.ai serves a module is vivago.ai's to say: its refusal (code 2031) makes no task."""
    with pytest.raises(VideoTaskApiError, match="code 2031") as caught:
        HiDreamHook("hidream_v4").submit("video_edit", video_name="https://v", style="anime")
    assert submit_fate(caught.value) is SubmitFate.REJECTED
    assert logs.count("module 'video_edit' is not among the documented modules") == 1
    assert "(documented on v2: use a connection of that api_version)" in logs.text
    assert versions.counts()["tasks_created"] == 0
    with pytest.raises(VideoTaskValidationError, match="needs a 'version'"):  # a required field: never sent
        HiDreamHook("hidream_v4").submit("hidream-Q2", prompt="x")
    assert versions.counts()["hidream_submit"] == 1


def test_an_unknown_api_version_names_the_connection_and_the_extra(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_connection(monkeypatch, "hidream_bad", "hidream", sandbox.url, api_version="v9")
    with pytest.raises(VideoTaskValidationError, match=r"connection 'hidream_bad': extra 'api_version' must be one of"):
        HiDreamHook("hidream_bad").submit(prompt="x")


def test_each_version_defaults_to_its_own_host_and_first_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_HIDREAM_V4_NOHOST", '{"conn_type": "hidream", "password": "k", "extra": {"api_version": "v4"}}'
    )
    hook = HiDreamHook("hidream_v4_nohost")
    settings = hook.get_settings()
    assert settings.base_url == "https://vivago.ai"
    assert settings.batch_size == 1
    assert hook.resolve_module(None, settings) == "hidream-Q2"


@pytest.mark.parametrize(("api_version", "module", "fields"), TASKS)
async def test_waits_share_the_poller_with_one_read_per_task(
    api_version: str, module: str, fields: dict[str, Any], versions: Sandbox
) -> None:
    hook = HiDreamHook(f"hidream_{api_version}")
    ids = [await asyncio.to_thread(hook.submit, module, **fields) for _ in range(3)]
    triggers = [
        VideoTaskTrigger(f"hidream_{api_version}", [task_id], module=module, poll_interval=0.05) for task_id in ids
    ]
    events = await asyncio.wait_for(asyncio.gather(*(first_event(t) for t in triggers)), timeout=30)
    assert [event["status"] for event in events] == ["success"] * 3
    assert all(event["tasks"][0]["video_urls"] for event in events)
    counts = versions.counts()
    assert counts["hidream_batch"] == 0
    assert counts["hidream_result"] >= 3  # every task read on its own


@pytest.mark.parametrize("api_version", ["v3", "v4"])
def test_the_sensor_waits_on_each_version(api_version: str, versions: Sandbox) -> None:
    module = "txt2video" if api_version == "v3" else "hidream-R"
    task_id = HiDreamHook(f"hidream_{api_version}").submit(module, prompt="a lighthouse")
    sensor = VideoTaskSensor(
        task_id="wait", video_task_ids=[task_id], conn_id=f"hidream_{api_version}", module=module, poke_interval=0.01
    )
    [url] = sensor.execute({"ti": RecordingTI()})
    assert url.startswith(f"{versions.url}/_sandbox/videos/")


def test_a_refused_single_read_is_a_failed_read_never_a_failed_task(versions: Sandbox) -> None:
    """A 4xx on v3's one-task read raises (bounded by the waiting rules) and is not remembered; on v2 the
    same refusal of an id in a batch fails that task, as the batch page allows."""
    v3, v2 = HiDreamHook("hidream_v3"), HiDreamHook("hidream_v2")
    ids = {hook: hook.submit(prompt="a boat") for hook in (v3, v2)}
    versions.refuse_ids(*ids.values())
    with pytest.raises(VideoTaskRequestError, match="HTTP 400"):
        v3.get_tasks([ids[v3]])
    [task] = v2.get_tasks([ids[v2]])
    assert task.state.value == "failed"
    versions.state.refused_ids.clear()
    [task] = v3.get_tasks([ids[v3]])  # read again, not remembered as refused
    assert task.state.value == "succeeded"


async def test_a_refused_single_read_ends_only_its_own_wait_as_an_error(versions: Sandbox) -> None:
    hook = HiDreamHook("hidream_v4")
    bad, good = [await asyncio.to_thread(hook.submit, "hidream-R", prompt=f"clip {n}") for n in range(2)]
    versions.refuse_ids(bad)

    failed, succeeded = await asyncio.wait_for(
        asyncio.gather(
            *(
                first_event(
                    VideoTaskTrigger(
                        "hidream_v4", [i], module="hidream-R", poll_interval=0.05, max_consecutive_errors=2
                    )
                )
                for i in (bad, good)
            )
        ),
        timeout=30,
    )
    assert failed["status"] == "error"
    assert "HTTP 400" in failed["message"]
    assert succeeded["status"] == "success"


def test_a_v4_connection_with_only_a_vivago_token_needs_no_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """As HiDream's own v4 client runs: the token sent as it is (no exchange), and nothing in the password."""
    with Sandbox(duration=0, token="vivago-token") as sandbox:
        document = {
            "conn_type": "hidream",
            "host": sandbox.url,
            "extra": {"api_version": "v4", "token": "vivago-token"},
        }
        monkeypatch.setenv("AIRFLOW_CONN_HIDREAM_TOKEN_ONLY", json.dumps(document))
        hook = HiDreamHook("hidream_token_only")
        [task] = hook.get_tasks([hook.submit("hidream-Q2", version="Q2.5T-pro", prompt="a boat")])
        assert task.state.value == "succeeded"
        assert sandbox.counts()["hidream_token"] == 0


def test_v2_limits_do_not_apply_to_other_versions(sandbox_limited: Sandbox) -> None:
    """The sandbox's documented per-minute limits are v2's (10 txt2video a minute); v3 has none documented."""
    hook = HiDreamHook("hidream_v3")
    for n in range(12):
        hook.submit(prompt=f"clip {n}")
    assert sandbox_limited.counts()["hidream_submit"] == 12


# The fault matrix's rows of the reader (not of the auth rules, which are v2's and tested there), on the
# single-task reads of v3 and v4 through the shared poller.
READER_ROWS = [name for name in MATRIX if "401" not in name and "403" not in name]


@pytest.mark.parametrize("api_version", ["v3", "v4"])
@pytest.mark.parametrize("fault", READER_ROWS)
async def test_fault_matrix_of_single_task_reads(
    fault: str, api_version: str, versions: Sandbox, monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    FakeClock().install(monkeypatch)  # waits between retries and polls are recorded, not slept
    set_connection(monkeypatch, "faulty", "hidream", versions.url, api_version=api_version, request_timeout=1)
    module = "txt2video" if api_version == "v3" else "hidream-R"
    row = MATRIX[fault]
    task_id = await asyncio.to_thread(HiDreamHook("faulty").submit, module, prompt="a boat")
    versions.add_fault(only="reads", **row.options)
    trigger = VideoTaskTrigger("faulty", [task_id], module=module, poll_interval=0.05, max_consecutive_errors=2)
    assert_outcome(row, await asyncio.wait_for(first_event(trigger), timeout=60))

"""output_path on the operators and the sensor, and StoreVideosOperator: the videos kept, recorded in XCom,
announced as an asset event; the vendor URLs only when no output is asked for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import Asset
from airflow.sdk.execution_time.context import OutletEventAccessors

from airflow_provider_videotask.api.errors import VideoTaskValidationError
from airflow_provider_videotask.operators.hailuo import HailuoVideoOperator
from airflow_provider_videotask.operators.hidream import HiDreamVideoOperator
from airflow_provider_videotask.operators.store_videos import StoreVideosOperator
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.sandbox.server import CLIP
from airflow_provider_videotask.sensors.video_task import VideoTaskSensor
from tests.conftest import SENTINEL_TOKEN, StateStore, operator_context


def context_with_events(store: StateStore | None = None) -> dict[str, Any]:
    return operator_context(store, outlet_events=OutletEventAccessors())


def test_an_operator_with_output_path_returns_the_stored_videos(sandbox_conns: Sandbox, tmp_path: Path) -> None:
    output = tmp_path.as_uri() + "/{{ ds }}/"
    operator = HailuoVideoOperator(task_id="generate", prompt="a paper boat", poll_interval=0.05, output_path=output)
    assert operator.output_asset == Asset(uri=tmp_path.as_uri() + "/")  # the folder before the template
    assert operator.output_asset in operator.outlets
    operator.output_path = tmp_path.as_uri() + "/2026-12-02/"  # as Airflow renders it
    context = context_with_events()

    [stored] = operator.execute(context)

    [task_id] = context["ti"].xcom["video_task_ids"]
    assert stored == (tmp_path / "2026-12-02" / "hailuo" / f"{task_id}.mp4").as_uri()
    assert Path(stored.removeprefix("file://")).read_bytes() == CLIP
    [record] = context["ti"].xcom["videos"]
    assert record["stored_uri"] == stored
    assert record["video_task_id"] == task_id
    assert record["parameters"] == {"prompt": "a paper boat", "model": "minimax-t2v"}
    assert record["source_url"].startswith(sandbox_conns.url)
    assert context["outlet_events"][operator.output_asset].extra == {"videos": [record]}
    # Nothing secret anywhere the record goes.
    everything = json.dumps([context["ti"].xcom, context["outlet_events"][operator.output_asset].extra])
    assert SENTINEL_TOKEN not in everything


def test_several_videos_of_one_hidream_task_each_get_a_number(sandbox_conns: Sandbox, tmp_path: Path) -> None:
    operator = HiDreamVideoOperator(
        task_id="generate", prompt="a fox [videos=2]", poll_interval=0.05, output_path=tmp_path.as_uri()
    )
    stored = operator.execute(context_with_events())
    assert [Path(uri).name.split("-")[-1] for uri in stored] == ["1.mp4", "2.mp4"]


def test_without_output_path_the_vendor_urls_are_returned(sandbox_conns: Sandbox) -> None:
    operator = HailuoVideoOperator(task_id="generate", prompt="a paper boat", poll_interval=0.05)
    context = context_with_events()
    [url] = operator.execute(context)
    assert url.startswith(sandbox_conns.url)
    assert "videos" not in context["ti"].xcom
    assert operator.outlets == []


def test_the_sensor_stores_what_it_waited_for(sandbox_conns: Sandbox, tmp_path: Path) -> None:
    ids = [sandbox_conns.state.create("hailuo", "minimax-t2v", {}, f"clip {n} [duration=0]").task_id for n in range(2)]
    sensor = VideoTaskSensor(
        task_id="wait", video_task_ids=ids, conn_id="hailuo_default", poke_interval=0.05, output_path=tmp_path.as_uri()
    )
    context = context_with_events()
    stored = sensor.execute(context)
    assert stored == [(tmp_path / "hailuo" / f"{task_id}.mp4").as_uri() for task_id in ids]
    assert [record["video_task_id"] for record in context["ti"].xcom["videos"]] == ids


def test_store_videos_operator_keeps_urls_from_elsewhere(sandbox: Sandbox, tmp_path: Path) -> None:
    urls = [f"{sandbox.url}/_sandbox/videos/output.mp4", f"{sandbox.url}/_sandbox/other/output.mp4?sig=1"]
    operator = StoreVideosOperator(task_id="keep", video_urls=urls[:1], output_path=tmp_path.as_uri())
    context = context_with_events()
    [stored] = operator.execute(context)
    assert Path(stored.removeprefix("file://")).read_bytes() == CLIP
    assert Path(stored).parent.name == "videos"  # the default {vendor}
    assert Path(stored).name.startswith("output-")  # the URL's file name, and a digest: CDNs reuse names
    assert context["outlet_events"][operator.output_asset].extra["videos"][0]["stored_uri"] == stored


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"output_path": "/data/videos/"}, "output_path must be an object storage URI"),
        ({"output_path": "file:///data/", "file_name": "{video_task_id}.mp4"}, "must contain"),
    ],
)
def test_a_literal_bad_output_fails_when_the_dag_is_parsed(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(VideoTaskValidationError, match=message):
        HailuoVideoOperator(task_id="generate", prompt="x", **kwargs)


def test_store_videos_operator_names_a_bad_url(tmp_path: Path) -> None:
    operator = StoreVideosOperator(task_id="keep", video_urls=["ftp://x/y.mp4"], output_path=tmp_path.as_uri())
    with pytest.raises(VideoTaskValidationError, match=r"video_urls\[0\] must be an http\(s\) URL"):
        operator.execute(context_with_events())


def test_records_and_logs_keep_no_signed_query(sandbox: Sandbox, tmp_path: Path) -> None:
    url = f"{sandbox.url}/_sandbox/videos/signed.mp4?X-Amz-Signature=deadbeef&bytes=20000"
    operator = StoreVideosOperator(task_id="keep", video_urls=[url], output_path=tmp_path.as_uri())
    context = context_with_events()
    operator.execute(context)
    assert "deadbeef" not in json.dumps(context["ti"].xcom)
    assert context["ti"].xcom["videos"][0]["bytes"] == 20000  # the query was used to download


def test_the_same_url_twice_is_kept_twice_not_overwritten(sandbox: Sandbox, tmp_path: Path) -> None:
    url = f"{sandbox.url}/_sandbox/videos/output.mp4"
    stored = StoreVideosOperator(task_id="keep", video_urls=[url, url], output_path=tmp_path.as_uri()).execute(
        context_with_events()
    )
    assert len(set(stored)) == 2


def test_output_path_needs_the_wait() -> None:
    with pytest.raises(VideoTaskValidationError, match="output_path needs wait_for_completion=True"):
        HailuoVideoOperator(task_id="t", prompt="x", wait_for_completion=False, output_path="file:///tmp/v/")


def test_an_output_path_whose_place_is_templated_declares_no_asset() -> None:
    operator = HailuoVideoOperator(task_id="t", prompt="x", output_path="s3://{{ var.value.bucket }}/videos/")
    assert operator.output_asset is None
    assert operator.outlets == []


def test_keeping_failing_after_the_paid_wait_never_leads_to_a_second_submit(
    sandbox_conns: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_videotask import storage

    monkeypatch.setattr(storage, "_sleep", lambda seconds: None)
    sandbox_conns.add_fault("expired", count=-1, only="videos")
    operator = HailuoVideoOperator(task_id="t", prompt="x", poll_interval=0.05, output_path=tmp_path.as_uri())
    context = context_with_events()
    with pytest.raises(storage.VideoDownloadError, match="has expired"):  # retried: the retry reattaches
        operator.execute(context)
    sandbox_conns.clear_faults()
    retry = context_with_events(context["task_state_store"])
    [stored] = HailuoVideoOperator(task_id="t", prompt="x", poll_interval=0.05, output_path=tmp_path.as_uri()).execute(
        retry
    )
    assert stored.startswith(tmp_path.as_uri())
    assert sandbox_conns.counts()["hailuo_submit"] == 1

"""What the page shows of each video task, from the XComs the operators, the sensor and StoreVideosOperator push
(``gallery/tiles.py``): hand-made task instances whose XCom values come from the provider's own producers."""

from __future__ import annotations

import random
from typing import Any

import pytest

from airflow_provider_videotask.api.models import TaskState, VideoTask
from airflow_provider_videotask.gallery.tiles import Clip, Instance, Tile, summary_of, tiles_of
from airflow_provider_videotask.storage import MAX_PARAMETER_CHARS, StoredVideo
from airflow_provider_videotask.xcoms import MAX_PROMPT_CHARS, REQUEST_XCOM_KEY, item_record, request_record
from tests.conftest import SENTINEL_TOKEN

VENDOR_URL = "https://cdn.example/videos/t1.mp4?X-Amz-Signature=abc123&X-Amz-Expires=3600"
KLING_FIELDS = {"prompt": "a paper boat", "model": "kling-v1", "action": "text2video", "mode": None, "duration": 5}


def request(prompt: str = "a paper boat", **fields: Any) -> dict[str, Any]:
    """XCom ``video_request`` as a Kling operator pushes it."""
    return request_record("acedatacloud", "kling", {**KLING_FIELDS, "prompt": prompt, **fields})


def finished(task_id: str = "t1", state: TaskState = TaskState.SUCCEEDED, **fields: Any) -> dict[str, Any]:
    """One entry of XCom ``tasks``."""
    urls = (VENDOR_URL,) if state is TaskState.SUCCEEDED else ()
    return VideoTask(task_id=task_id, state=state, video_urls=urls, **fields).to_dict()


def stored(video_task_id: str = "t1", *, vendor: str = "acedatacloud", n: int = 0, **parameters: Any) -> dict[str, Any]:
    """One entry of XCom ``videos``."""
    return StoredVideo(
        vendor=vendor,
        video_task_id=video_task_id,
        n=n,
        source_url=VENDOR_URL,
        stored_uri=f"file:///data/videos/{vendor}/{video_task_id}.mp4",
        conn_id=None,
        bytes=123_456,
        sha256="ab" * 32,
        content_type="video/mp4",
        parameters=parameters,
        finished_at="2026-12-04T10:00:00+00:00",
        stored_at="2026-12-04T10:00:01+00:00",
    ).to_dict()


def kept_instance(task_id: str = "kling", map_index: int = 0, prompt: str = "a paper boat") -> Instance:
    return Instance(
        task_id,
        map_index,
        "success",
        {
            REQUEST_XCOM_KEY: request(prompt),
            "video_task_ids": ["t1"],
            "estimated_cost": 0.25,
            "tasks": [finished(seconds=42.4)],
            "videos": [stored(prompt=prompt, model="kling-v1")],
            "return_value": ["file:///data/videos/acedatacloud/t1.mp4"],
        },
    )


def test_a_succeeded_task_that_kept_its_video_plays_the_kept_copy() -> None:
    [tile] = tiles_of([kept_instance()])
    assert tile == Tile(
        task_id="kling",
        map_index=0,
        state="succeeded",
        reason=None,
        prompt="a paper boat",
        vendor="acedatacloud",
        service="kling",
        model="kling-v1",
        seconds=42.4,
        cost=0.25,
        video_task_ids=("t1",),
        clips=(
            Clip(
                kept_uri="file:///data/videos/acedatacloud/t1.mp4",
                conn_id=None,
                bytes=123_456,
                sha256="ab" * 32,
                vendor_url=VENDOR_URL,
                content_type="video/mp4",
            ),
        ),
    )
    assert tile.label == "kling[0]"


def test_a_succeeded_task_that_did_not_keep_its_video_plays_the_vendors_link() -> None:
    instance = Instance(
        "kling", -1, "success", {REQUEST_XCOM_KEY: request(), "video_task_ids": ["t1"], "tasks": [finished()]}
    )
    [tile] = tiles_of([instance])
    assert (tile.state, tile.label, tile.reason) == ("succeeded", "kling", None)
    assert tile.clips == (Clip(kept_uri=None, conn_id=None, bytes=None, sha256=None, vendor_url=VENDOR_URL),)


def test_every_video_of_a_task_is_a_clip_in_order() -> None:
    two = VideoTask(task_id="t1", state=TaskState.SUCCEEDED, video_urls=("https://cdn/a.mp4", "https://cdn/b.mp4"))
    [tile] = tiles_of([Instance("kling", -1, "success", {"tasks": [two.to_dict()]})])
    assert [clip.vendor_url for clip in tile.clips] == ["https://cdn/a.mp4", "https://cdn/b.mp4"]
    [kept] = tiles_of([Instance("kling", -1, "success", {"videos": [stored(n=1), stored(n=2)]})])
    assert len(kept.clips) == 2


def test_a_task_the_vendor_failed_says_the_vendors_reason() -> None:
    failed = finished(state=TaskState.FAILED, error="the prompt breaks the content policy", seconds=3.0)
    instance = Instance(
        "kling", 1, "failed", {REQUEST_XCOM_KEY: request(), "video_task_ids": ["t1"], "tasks": [failed]}
    )
    [tile] = tiles_of([instance])
    assert (tile.state, tile.reason) == ("failed", "failed: the prompt breaks the content policy")
    assert tile.clips == ()
    assert tile.seconds == 3.0


def test_a_rejected_task_without_an_error_text_says_how_it_ended() -> None:
    rejected = finished(state=TaskState.REJECTED)
    [tile] = tiles_of([Instance("kling", -1, "failed", {"tasks": [rejected]})])
    assert tile.reason == "rejected"


def test_a_task_that_failed_before_the_vendor_reported_an_end_points_to_its_log() -> None:
    instance = Instance("kling", 2, "failed", {REQUEST_XCOM_KEY: request(), "video_task_ids": ["t9"]})
    [tile] = tiles_of([instance])
    assert tile.state == "failed"
    assert tile.reason == "the task failed before the vendor reported an end: see its log"
    assert tile.video_task_ids == ("t9",)


@pytest.mark.parametrize("state", ["deferred", "running", "queued", "up_for_retry", "up_for_reschedule", None])
def test_a_task_still_at_work_is_waiting(state: str | None) -> None:
    instance = Instance("kling", 0, state, {REQUEST_XCOM_KEY: request("a fox"), "video_task_ids": ["t1"]})
    [tile] = tiles_of([instance])
    assert (tile.state, tile.reason, tile.clips, tile.prompt) == ("waiting", None, (), "a fox")


def test_store_videos_operator_has_only_videos_and_shows_them_with_their_vendor() -> None:
    instance = Instance("keep", -1, "success", {"videos": [stored("boat", vendor="videos")], "return_value": []})
    [tile] = tiles_of([instance])
    assert (tile.state, tile.vendor, tile.prompt, tile.cost) == ("succeeded", "videos", None, None)
    assert [clip.kept_uri for clip in tile.clips] == ["file:///data/videos/videos/boat.mp4"]


def test_the_sensor_shows_its_vendor_and_the_kept_videos() -> None:
    xcoms = {
        REQUEST_XCOM_KEY: request_record("hailuo", None, {}),
        "video_task_ids": ["a", "b"],
        "tasks": [finished("a", seconds=10.0), finished("b", seconds=12.5)],
        "videos": [stored("a", vendor="hailuo"), stored("b", vendor="hailuo")],
    }
    [tile] = tiles_of([Instance("wait", -1, "success", xcoms)])
    assert (tile.vendor, tile.service, tile.prompt, tile.seconds) == ("hailuo", None, None, 12.5)
    assert tile.video_task_ids == ("a", "b")
    assert len(tile.clips) == 2


def test_a_task_without_a_video_xcom_is_no_tile() -> None:
    others = [
        Instance("use_videos", -1, "success", {"return_value": {"count": 3}}),
        Instance("estimate", -1, "success", {}),
        Instance("approve", -1, "failed", {"task_ids": ["legacy key only"]}),
    ]
    assert tiles_of(others) == []


def test_tiles_come_in_task_then_map_index_order() -> None:
    keys = [("b", 0), ("a", 10), ("a", 2), ("a", 1), ("a", 0), ("a", -1), ("c", -1)]
    instances = [kept_instance(task_id, map_index) for task_id, map_index in keys]
    random.Random(7).shuffle(instances)
    labels = [tile.label for tile in tiles_of(instances)]
    assert labels == ["a", "a[0]", "a[1]", "a[2]", "a[10]", "b[0]", "c"]


def test_the_summary_counts_states_and_sums_the_estimates() -> None:
    instances = [
        kept_instance("kling", 0),
        kept_instance("kling", 1),
        Instance("kling", 2, "failed", {REQUEST_XCOM_KEY: request(), "estimated_cost": 0.5}),
        Instance("kling", 3, "deferred", {REQUEST_XCOM_KEY: request()}),
    ]
    summary = summary_of(tiles_of(instances))
    assert (summary.succeeded, summary.failed, summary.waiting) == (2, 1, 1)
    assert summary.cost == pytest.approx(1.0)


def test_the_summary_has_no_cost_when_no_task_had_a_price() -> None:
    instances = [
        Instance("kling", n, "success", {REQUEST_XCOM_KEY: request(), "tasks": [finished()]}) for n in range(3)
    ]
    summary = summary_of(tiles_of(instances))
    assert (summary.succeeded, summary.cost) == (3, None)
    assert summary_of([]).cost is None


def test_odd_xcom_values_make_a_tile_without_failing() -> None:
    xcoms = {
        REQUEST_XCOM_KEY: "not a mapping",
        "estimated_cost": True,  # not a price
        "tasks": ["?", {"state": "succeeded", "video_urls": "not a list"}, None],
        "videos": [{"stored_uri": ""}, 3],
        "video_task_ids": "t1",
    }
    [tile] = tiles_of([Instance("odd", -1, "success", xcoms)])
    assert (tile.prompt, tile.cost, tile.clips, tile.video_task_ids) == (None, None, (), ())


def test_request_record_keeps_what_was_asked_and_drops_secrets_and_blobs() -> None:
    blob = "iVBORw0KGgo" + "A" * 40_000  # an image sent inline, as base64
    fields = {
        "prompt": "a paper boat",
        "model": "kling-v1",
        "mode": None,
        "negative_prompt": "",
        "api_key": SENTINEL_TOKEN,
        "callback_token": SENTINEL_TOKEN,
        "client_secret": SENTINEL_TOKEN,
        "Authorization": f"Bearer {SENTINEL_TOKEN}",
        "start_image_url": f"https://cdn.example/first.png?X-Amz-Signature={SENTINEL_TOKEN}",
        "image_base64": blob,
        "duration": 5,
    }
    record = request_record("acedatacloud", "kling", fields)
    assert record == {
        "prompt": "a paper boat",
        "model": "kling-v1",
        "start_image_url": "https://cdn.example/first.png",
        "image_base64": f"<{len(blob)} characters>",
        "duration": 5,
        "vendor": "acedatacloud",
        "module": "kling",
    }
    assert SENTINEL_TOKEN not in repr(record)


def test_request_record_keeps_a_long_prompt_whole_but_not_a_huge_one() -> None:
    long_prompt = "a very detailed scene, " * (MAX_PARAMETER_CHARS // 10)
    assert MAX_PARAMETER_CHARS < len(long_prompt) <= MAX_PROMPT_CHARS
    huge = "x" * (MAX_PROMPT_CHARS + 1)
    record = request_record("hailuo", None, {"prompt": long_prompt, "negative_prompt": huge})
    assert record["prompt"] == long_prompt
    assert record["negative_prompt"] == f"<{len(huge)} characters>"
    [tile] = tiles_of([Instance("hailuo", -1, "deferred", {REQUEST_XCOM_KEY: record})])
    assert tile.prompt == long_prompt


def test_a_batch_tile_plays_each_items_kept_copy() -> None:
    kept = "file:///k/t1.mp4"
    stored = StoredVideo("hailuo", "t1", 0, VENDOR_URL, kept, None, 10, "ab" * 32, "video/mp4", {}, None, "now")
    task = {"task_id": "t1", "state": "succeeded", "video_urls": [VENDOR_URL]}
    records = [
        item_record(0, "a boat", task, None, [stored.to_dict()], 0.25),
        item_record(1, "a fox", None, "the submit's fate is unknown", [], None),
    ]
    [tile] = tiles_of([Instance("batch", -1, "success", {"videos": records, "tasks": [task]})])
    assert [clip.kept_uri for clip in tile.clips] == [kept]

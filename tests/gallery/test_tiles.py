"""What the page shows of each video task, from the XComs the operators, the sensor and StoreVideosOperator push
(``gallery/tiles.py``): hand-made task instances whose XCom values come from the provider's own producers, and
a batch's as its operator pushes them against the sandbox."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_videotask.api.models import TaskState, VideoTask
from airflow_provider_videotask.gallery.tiles import Clip, Instance, Summary, Tile, clip_of, summary_of, tiles_of
from airflow_provider_videotask.operators.ace import KlingVideoOperator
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.storage import MAX_PARAMETER_CHARS, StoredVideo
from airflow_provider_videotask.xcoms import MAX_PROMPT_CHARS, REQUEST_XCOM_KEY, item_record, request_record
from tests.conftest import SENTINEL_TOKEN, operator_context

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


def batch_request(size: int, first: str = "a paper boat") -> dict[str, Any]:
    """XCom ``video_request`` of a batch, as the operators push it: its first item's fields, a batch's prompt."""
    return {**request(first), "prompt": f"{size} videos: {first}", "videos": size}


def kept_at(video_task_id: str) -> dict[str, Any]:
    return stored(video_task_id, prompt="the item's own", model="kling-v1")


def batch_xcoms() -> dict[str, Any]:
    """A finished batch of four, as the operator pushes it: a kept video, a failed one, one whose submit never
    got a vendor task, and a video not kept."""
    tasks = [
        finished("v0", seconds=40.0),
        finished("v1", state=TaskState.FAILED, error="content rejected by review", seconds=3.0),
        finished("v3", seconds=44.0),
    ]
    records = [
        item_record(0, "a paper boat", tasks[0], None, [kept_at("v0")], 0.25),
        item_record(1, "a fox", tasks[1], "failed: content rejected by review", [], 0.25),
        item_record(2, "an owl", None, "the submit's fate is unknown: see the log", [], 0.25),
        item_record(3, "a whale", tasks[2], None, [], 0.25),
    ]
    return {
        REQUEST_XCOM_KEY: batch_request(4),
        "video_task_ids": ["v0", "v1", "v3"],
        "estimated_cost": 1.0,
        "tasks": tasks,
        "videos": records,
    }


def test_a_finished_batch_is_a_tile_per_item_in_order() -> None:
    instances = [Instance("batch", -1, "success", batch_xcoms()), kept_instance("alone", -1)]
    tiles = tiles_of(instances)
    assert [tile.label for tile in tiles] == ["alone", "batch #0", "batch #1", "batch #2", "batch #3"]
    items = tiles[1:]
    assert [tile.item for tile in items] == [0, 1, 2, 3]
    assert [tile.prompt for tile in items] == ["a paper boat", "a fox", "an owl", "a whale"]
    assert [tile.state for tile in items] == ["succeeded", "failed", "failed", "succeeded"]
    assert [tile.reason for tile in items] == [
        None,
        "failed: content rejected by review",
        "the submit's fate is unknown: see the log",
        None,
    ]
    assert [tile.video_task_ids for tile in items] == [("v0",), ("v1",), (), ("v3",)]
    assert [tile.seconds for tile in items] == [40.0, 3.0, None, 44.0]
    assert [tile.cost for tile in items] == [0.25] * 4
    assert {(tile.vendor, tile.service, tile.model) for tile in items} == {("acedatacloud", "kling", "kling-v1")}
    # Its kept copy, else its vendor's link; nothing for an item without a video.
    assert [[clip.kept_uri for clip in tile.clips] for tile in items] == [
        ["file:///data/videos/acedatacloud/v0.mp4"],
        [],
        [],
        [None],
    ]
    assert items[3].clips[0].vendor_url == VENDOR_URL
    # A task of one video beside it stays one tile, as it always was.
    assert tiles[0] == tiles_of([kept_instance("alone", -1)])[0]
    assert tiles[0].item is None


def test_the_summary_counts_a_batchs_items_and_sums_their_costs() -> None:
    task = finished("v", seconds=30.0)
    records = [
        item_record(n, f"shot {n}", task, None, [], 0.28)
        if n % 200
        else item_record(n, f"shot {n}", None, "rejected: content rejected by review", [], 0.28)
        for n in range(2000)
    ]
    xcoms = {REQUEST_XCOM_KEY: batch_request(2000), "videos": records, "estimated_cost": 560.0}
    tiles = tiles_of([Instance("generate", -1, "success", xcoms), kept_instance("alone", -1)])
    assert len(tiles) == 2001
    summary = summary_of(tiles)
    assert (summary.succeeded, summary.failed, summary.waiting) == (1991, 10, 0)
    assert summary.cost == pytest.approx(2000 * 0.28 + 0.25)


def test_a_waiting_batch_is_a_tile_per_vendor_task() -> None:
    xcoms = {REQUEST_XCOM_KEY: batch_request(4), "video_task_ids": ["v0", "v1", "v3"], "estimated_cost": 1.0}
    tiles = tiles_of([Instance("batch", -1, "deferred", xcoms)])
    assert [(tile.label, tile.state, tile.video_task_ids) for tile in tiles] == [
        ("batch #0", "waiting", ("v0",)),
        ("batch #1", "waiting", ("v1",)),
        ("batch #2", "waiting", ("v3",)),
    ]
    assert {(tile.prompt, tile.reason, tile.clips, tile.vendor) for tile in tiles} == {(None, None, (), "acedatacloud")}
    assert [tile.cost for tile in tiles] == [0.25] * 3  # each its share of the batch's estimate
    assert summary_of(tiles).waiting == 3


def test_a_batch_that_failed_before_its_records_shows_what_the_vendor_said_else_the_log() -> None:
    ended = [finished("v0"), finished("v1", state=TaskState.REJECTED, error="content rejected by review")]
    xcoms = {REQUEST_XCOM_KEY: batch_request(3), "video_task_ids": ["v0", "v1", "v2"], "tasks": ended}
    tiles = tiles_of([Instance("batch", -1, "failed", xcoms)])
    assert [(tile.state, tile.reason) for tile in tiles] == [
        ("succeeded", None),
        ("failed", "rejected: content rejected by review"),
        ("failed", "the task failed before the vendor reported an end: see its log"),
    ]
    assert [clip.vendor_url for clip in tiles[0].clips] == [VENDOR_URL]


def test_one_video_and_several_sensed_ids_stay_one_tile() -> None:
    # The sensor waits on several ids, without a batch's request: one tile, as before.
    sensed = {REQUEST_XCOM_KEY: request_record("hailuo", None, {}), "video_task_ids": ["a", "b"]}
    # A prompt that reads like a batch's, on one vendor task: one video.
    one = {REQUEST_XCOM_KEY: request("3 videos: a joke"), "video_task_ids": ["t1"]}
    tiles = tiles_of([Instance("sense", -1, "deferred", sensed), Instance("one", -1, "deferred", one)])
    assert [(tile.label, tile.item, tile.video_task_ids) for tile in tiles] == [
        ("one", None, ("t1",)),
        ("sense", None, ("a", "b")),
    ]


def kept_uri(clip: Clip | None) -> str | None:
    return None if clip is None else clip.kept_uri


def test_an_items_clip_is_found_by_its_index_and_an_old_address_numbers_across_items() -> None:
    xcoms = batch_xcoms()
    xcoms["videos"][3]["kept"] = [kept_at("v3")]
    instance = Instance("batch", -1, "success", xcoms)
    assert clip_of(instance, 0, 0) == tiles_of([instance])[0].clips[0]
    assert kept_uri(clip_of(instance, 3, 0)) == "file:///data/videos/acedatacloud/v3.mp4"
    assert clip_of(instance, 1, 0) is None  # failed: no video
    assert (clip_of(instance, 0, 1), clip_of(instance, 9, 0), clip_of(instance, 0, -1)) == (None, None, None)
    # Without an item (an address made before items had tiles): the items' kept copies one after another.
    assert [kept_uri(clip_of(instance, None, n)) for n in range(3)] == [
        "file:///data/videos/acedatacloud/v0.mp4",
        "file:///data/videos/acedatacloud/v3.mp4",
        None,
    ]
    [one] = tiles_of([kept_instance()])
    assert clip_of(kept_instance(), None, 0) == one.clips[0]
    assert clip_of(kept_instance(), 0, 0) is None  # a task of one video has no items


def test_a_batch_the_operator_ran_is_a_tile_per_item(sandbox_conns: Sandbox, tmp_path: Path) -> None:
    """XComs as the real operator pushes them, against the sandbox: a batch of three, the second rejected."""
    context = operator_context()
    prompts = ["a paper boat", "a fox [reject]", "an owl"]
    KlingVideoOperator(
        task_id="batch", prompts=prompts, allowed_failures=1, poll_interval=0.05, output_path=tmp_path.as_uri() + "/"
    ).execute(context)
    tiles = tiles_of([Instance("batch", -1, "success", context["ti"].xcom)])
    assert [(tile.label, tile.prompt, tile.state) for tile in tiles] == [
        ("batch #0", "a paper boat", "succeeded"),
        ("batch #1", "a fox [reject]", "failed"),
        ("batch #2", "an owl", "succeeded"),
    ]
    assert tiles[1].reason == "failed: api_error: content rejected by review"  # the sandbox's Kling says so
    assert [len(tile.clips) for tile in tiles] == [1, 0, 1]
    for tile in (tiles[0], tiles[2]):
        [clip] = tile.clips
        assert clip.kept_uri is not None
        assert clip.kept_uri.startswith(tmp_path.as_uri())
        assert tile.video_task_ids == (context["ti"].xcom["videos"][tile.item]["video_task_id"],)
    assert summary_of(tiles) == Summary(succeeded=2, failed=1, waiting=0, cost=None)

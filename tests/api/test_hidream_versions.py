"""HiDream's v3 pages and v4 gateway: requests built from their documented examples, answers read.

Sources: v3, https://hidreamai.com/doc/txt2video/request, /doc/img2video/request,
/doc/keyframe2video/request and /doc/txt2video/result; v4, HiDream's own client (HiDream-ai/hidream-api-gen,
scripts/kling.py, seedance_1_0_pro.py, seedance_1_5_pro.py, common/base_video.py, common/task_client.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_videotask.api import hidream, hidream_submit
from airflow_provider_videotask.api.errors import VideoTaskResponseError, VideoTaskValidationError
from airflow_provider_videotask.api.models import TaskState

# The body of each page's (or the client's) example, as it builds it.
DOCUMENTED_REQUESTS = [
    pytest.param(
        "v3",
        "txt2video",
        # /doc/txt2video/request: prompt, negative_prompt, version "v2", resolution "宽*高", camera moves, strength.
        {
            "prompt": "a cat walking on the beach",
            "negative_prompt": "blurry",
            "version": "v2",
            "resolution": "1280*720",
            "camera_move_horizontal": 0,
            "motion_strength": 9.0,
        },
        id="v3-txt2video",
    ),
    pytest.param(
        "v3",
        "img2video",
        # /doc/img2video/request: one image (URL or base64), prompt optional.
        {"image": "https://example.com/first.png", "version": "v2", "resolution": "960*960"},
        id="v3-img2video",
    ),
    pytest.param(
        "v3",
        "keyframe2video",
        # /doc/keyframe2video/request: {"images": [url1, url2], "version": "v1.0-standard", "resolution": "keep"}
        {
            "images": ["https://example.com/first.png", "https://example.com/last.png"],
            "version": "v1.0-standard",
            "resolution": "keep",
            "duration": 10,
        },
        id="v3-keyframe2video",
    ),
    pytest.param(
        "v4",
        "hidream-Q2",
        # scripts/kling.py: module, version, prompt, negative_prompt, images, sound, wh_ratio, duration.
        {
            "version": "Q2.5T-std",
            "prompt": "A flying car",
            "negative_prompt": "",
            "images": [],
            "sound": "off",
            "wh_ratio": "16:9",
            "duration": 5,
        },
        id="v4-kling",
    ),
    pytest.param(
        "v4",
        "hidream-R",
        # scripts/seedance_1_0_pro.py: version R1, prompt, duration, wh_ratio, resolution, generate_audio.
        {"version": "R1", "prompt": "a lighthouse", "duration": 5, "wh_ratio": "adaptive", "resolution": "480p"},
        id="v4-seedance-1.0",
    ),
    pytest.param(
        "v4",
        "hidream-R2-Audio",
        # scripts/seedance_1_5_pro.py: version R2-Audio, en_prompt, wh_ratio adds "keep", generate_audio.
        {
            "version": "R2-Audio",
            "prompt": "a lighthouse",
            "en_prompt": "a lighthouse",
            "images": ["https://example.com/first.png"],
            "wh_ratio": "keep",
            "resolution": "720p",
            "generate_audio": True,
        },
        id="v4-seedance-1.5",
    ),
]


@pytest.mark.parametrize(("api_version", "module", "fields"), DOCUMENTED_REQUESTS)
def test_each_documented_request_is_built_as_its_source_sends_it(
    api_version: str, module: str, fields: dict[str, Any]
) -> None:
    request = hidream_submit.submit_request(module, fields, api_version)
    assert request.method == "POST"
    assert request.path == f"/api-pub/gw/{api_version}/video/{module}/async"
    assert request.paid
    expected = {**fields, "module": module} if api_version == "v4" else fields
    assert request.json == expected


def test_v4_fills_in_the_only_version_of_a_module_and_keeps_the_path_module_in_the_body() -> None:
    request = hidream_submit.submit_request("hidream-R", {"prompt": "x", "module": "hidream-Q2"}, "v4")
    assert request.json == {"version": "R1", "prompt": "x", "module": "hidream-R"}


def test_results_are_read_one_task_at_a_time_on_v3_and_v4() -> None:
    for api_version, module in (("v3", "keyframe2video"), ("v4", "hidream-Q2")):
        request = hidream.result_request(module, "t-1", api_version)
        assert (request.method, request.path, request.params) == (
            "GET",
            f"/api-pub/gw/{api_version}/video/{module}/async/results",
            {"task_id": "t-1"},
        )
    assert not hidream.GATEWAYS["v3"].batch_reads
    assert not hidream.GATEWAYS["v4"].batch_reads
    assert hidream.GATEWAYS["v4"].base_url == "https://vivago.ai"


@pytest.mark.parametrize(
    ("api_version", "module", "fields", "names"),
    [
        pytest.param("v3", "img2video", {"prompt": "x"}, "image", id="v3-image-required"),
        pytest.param("v3", "keyframe2video", {"images": ["https://a"]}, "images", id="keyframe-one-frame"),
        pytest.param("v4", "hidream-Q2", {"prompt": "x"}, "version", id="kling-version-required"),
        pytest.param("v4", "hidream-Q2", {"version": "Q2.5T-pro", "sound": "on", "images": ["a"]}, "sound", id="sound"),
        pytest.param("v4", "hidream-Q2", {"version": "Q2.6-pro", "sound": "on"}, "images", id="sound-needs-images"),
        pytest.param("v4", "hidream-R", {"prompt": ""}, "prompt", id="seedance-prompt"),
    ],
)
def test_what_each_source_refuses_is_refused_before_paying(
    api_version: str, module: str, fields: dict[str, Any], names: str
) -> None:
    with pytest.raises(VideoTaskValidationError, match=names):
        hidream_submit.submit_request(module, fields, api_version)


def test_a_module_of_another_version_names_the_version_serving_it() -> None:
    [warning] = hidream_submit.unlisted("video_edit", {"video_name": "https://v", "style": "anime"}, "v3")
    assert "(documented on v2: use a connection of that api_version)" in warning
    assert "(txt2video, img2video, keyframe2video)" in warning


@pytest.mark.parametrize(
    ("api_version", "module", "fields", "names"),
    [
        pytest.param("v3", "txt2video", {"prompt": "x", "resolution": "1920*1080"}, "resolution", id="v3-size"),
        pytest.param("v3", "txt2video", {"prompt": "x", "version": "v3"}, "version", id="v3-version"),
        pytest.param("v3", "keyframe2video", {"images": ["a", "b"], "duration": 7}, "duration", id="keyframe-7s"),
        pytest.param(
            "v3", "keyframe2video", {"images": ["a", "b"], "resolution": "1280*720"}, "resolution", id="kf-res"
        ),
        pytest.param("v4", "hidream-Q2", {"version": "Q3"}, "version", id="kling-unknown-version"),
        pytest.param("v4", "hidream-Q2", {"version": "Q2.5T-std", "wh_ratio": "4:3"}, "wh_ratio", id="kling-ratio"),
        pytest.param("v4", "hidream-R", {"prompt": "x", "wh_ratio": "keep"}, "wh_ratio", id="keep-is-1.5-only"),
        pytest.param("v4", "hidream-R2-Audio", {"prompt": "x", "resolution": "4k"}, "resolution", id="seedance-res"),
        pytest.param("v4", "hidream-R", {"prompt": "x", "version": "R2-Audio"}, "version", id="seedance-version"),
        pytest.param("v3", "video_edit", {"video_name": "https://v"}, "module 'video_edit'", id="module-of-v2"),
        pytest.param("v2", "hidream-Q2", {"version": "Q2.5T-std"}, "module 'hidream-Q2'", id="module-of-v4"),
    ],
)
def test_a_value_the_source_does_not_list_goes_to_the_vendor_with_a_warning(
    api_version: str, module: str, fields: dict[str, Any], names: str
) -> None:
    """What the sources list is what HiDream served when they were written: a value it may have added
    since is sent, and its refusal (free) fails the task at once."""
    request = hidream_submit.submit_request(module, fields, api_version)
    assert {key: value for key, value in (request.json or {}).items() if key in fields} == fields
    [warning] = hidream_submit.unlisted(module, fields, api_version)
    assert names in warning
    assert "sent as given" in warning


@pytest.mark.parametrize(("api_version", "module", "fields"), DOCUMENTED_REQUESTS)
def test_before_the_connection_is_read_every_documented_request_passes(
    api_version: str, module: str, fields: dict[str, Any]
) -> None:
    """A DAG being parsed checks a task by its module's first version (v2 for txt2video and img2video):
    that must never refuse a valid task of another version."""
    hidream_submit.validate_submit(module, fields, api_version=None)


def test_before_the_connection_is_read_the_modules_first_version_checks() -> None:
    with pytest.raises(VideoTaskValidationError, match="prompt"):
        hidream_submit.validate_submit("txt2video", {"aspect_ratio": "16:9"}, api_version=None)
    with pytest.raises(VideoTaskValidationError, match="images"):
        hidream_submit.validate_submit("keyframe2video", {"images": ["a"], "duration": 5}, api_version=None)
    hidream_submit.validate_submit("video-of-2027", {"anything": 1}, api_version=None)  # the vendor judges it
    with pytest.raises(VideoTaskValidationError, match="version"):
        hidream_submit.validate_submit("hidream-Q2", {"prompt": "x"}, api_version=None)


def test_an_unknown_api_version_names_the_extra_and_the_choices() -> None:
    with pytest.raises(VideoTaskValidationError, match=r"extra 'api_version' must be one of v2, v3, v4, got 'v5'"):
        hidream.gateway_of("v5")
    assert hidream.gateway_of(None).api_version == "v2"
    assert hidream.gateway_of("").api_version == "v2"


# /doc/txt2video/result: {code, message, request_id, result: {task_id, sub_task_results: [{sub_task_id,
# task_status, task_completion, video}]}} (the page's example prints result['video'] as the video URL).
def result(status: int, video: str = "") -> dict[str, Any]:
    sub = {"sub_task_id": "s-1", "task_status": status, "task_completion": 1.0 if status == 1 else 0.4}
    return {"task_id": "t-1", "sub_task_results": [{**sub, "video": video}]}


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (0, TaskState.QUEUED),
        (2, TaskState.RUNNING),
        (-1, TaskState.RUNNING),
        (3, TaskState.FAILED),
        (4, TaskState.REJECTED),
    ],
)
def test_a_single_result_reads_every_documented_status(status: int, state: TaskState) -> None:
    [task] = hidream.parse_one(result(status), "t-1", hidream.GATEWAYS["v3"]).tasks
    assert task.state is state


def test_a_single_result_reads_the_video_url() -> None:
    url = "https://media.example/s-1.mp4"
    [task] = hidream.parse_one(result(1, url), "t-1", hidream.GATEWAYS["v3"]).tasks
    assert (task.task_id, task.state, task.video_urls) == ("t-1", TaskState.SUCCEEDED, (url,))


@pytest.mark.parametrize(
    ("video", "url"),
    [
        ("v_abc123", "https://media.vivago.ai/abc123.mp4"),
        ("abc123.mp4", "https://media.vivago.ai/abc123.mp4"),
        ("https://media.vivago.ai/x.mp4", "https://media.vivago.ai/x.mp4"),
    ],
)
def test_a_v4_video_given_as_a_bare_id_is_read_as_its_media_url(video: str, url: str) -> None:
    # vivago-agent-cli internal/artifact/url.go and hidream-model-gen scripts/cli_utils.py build it so.
    [task] = hidream.parse_one(result(1, video), "t-1", hidream.GATEWAYS["v4"]).tasks
    assert task.video_urls == (url,)


def test_a_bare_id_is_not_made_into_a_url_where_no_media_host_is_known() -> None:
    [task] = hidream.parse_one(result(1, "v_abc123"), "t-1", hidream.GATEWAYS["v3"]).tasks
    assert task.video_urls == ("v_abc123",)


@pytest.mark.parametrize("answer", [None, {}], ids=["null", "empty"])
def test_no_result_is_a_task_not_known_yet(answer: Any) -> None:
    [task] = hidream.parse_one(answer, "t-3", hidream.GATEWAYS["v3"]).tasks
    assert (task.task_id, task.state) == ("t-3", TaskState.UNKNOWN)


def test_an_answer_without_the_task_id_is_the_task_asked_for() -> None:
    [task] = hidream.parse_one({"sub_task_results": []}, "t-9", hidream.GATEWAYS["v4"]).tasks
    assert (task.task_id, task.state) == ("t-9", TaskState.UNKNOWN)


def test_a_single_result_of_the_wrong_shape_is_worth_another_read() -> None:
    with pytest.raises(VideoTaskResponseError, match="should be an object") as caught:
        hidream.parse_one("oops", "t-1", hidream.GATEWAYS["v3"])
    assert caught.value.retryable

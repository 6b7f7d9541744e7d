"""Each Ace Data Cloud service: its request from the documented examples, its result read from the
documented task documents (each fixture names its page), and what is refused before paying."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_videotask.api import ace, kling, luma, seedance, veo, wan
from airflow_provider_videotask.api.errors import VideoTaskValidationError
from airflow_provider_videotask.api.models import TaskState
from airflow_provider_videotask.api.services import SERVICES, service_named


def document(response: dict[str, Any]) -> dict[str, Any]:
    """A finished task document around a documented ``response`` (the envelope of every tasks page)."""
    return {
        "id": "20068983-0cc9-4c6a-aeb6-9c6a3c668be0",
        "created_at": 1752000000.0,
        "finished_at": 1752000090.5,
        "request": {},
        "response": response,
    }


# The retrieve examples of each service's tasks page (AceDataCloud/APIs, <service>/docs/<service>_tasks.md),
# shortened, and the URL and video id a reader must find in each.
DOCUMENTED = {
    "kling": (  # kling/docs/kling_tasks.md
        {
            "success": True,
            "video_id": "030bb06d-98d4-4044-9042-0aa0822e8c8c",
            "video_url": "https://cdn.acedata.cloud/assets/examples/gemini/04a043bd.mp4",
            "duration": "5.1",
            "state": "succeed",
            "task_id": "20068983-0cc9-4c6a-aeb6-9c6a3c668be0",
        },
        "https://cdn.acedata.cloud/assets/examples/gemini/04a043bd.mp4",
        ("030bb06d-98d4-4044-9042-0aa0822e8c8c",),
    ),
    "veo": (  # veo/docs/veo_tasks.md
        {
            "success": True,
            "task_id": "1ebe4f2b-59ba-4385-a4ea-0ce8a3fe12ed",
            "data": [
                {
                    "id": "2f43ceed37944b4d836e1a1899dad0a1",
                    "video_url": "https://platform.cdn.acedata.cloud/veo/1ebe4f2b.mp4",
                    "created_at": "2025-07-25 17:19:20",
                    "complete_at": "2025-07-25 17:21:45",
                    "state": "succeeded",
                }
            ],
        },
        "https://platform.cdn.acedata.cloud/veo/1ebe4f2b.mp4",
        ("2f43ceed37944b4d836e1a1899dad0a1",),
    ),
    "luma": (  # luma/docs/luma_tasks.md
        {
            "success": True,
            "task_id": "50fc6182",
            "video_id": "4b088fc8-2bbc-4706-80a6-a0fb118adc1a",
            "prompt": "Astronauts shuttle from space to volcano",
            "video_url": "https://platform.cdn.acedata.cloud/luma/50fc6182.mp4",
            "state": "completed",
            "thumbnail_url": "https://platform.cdn.acedata.cloud/luma/50fc6182.jpg",
        },
        "https://platform.cdn.acedata.cloud/luma/50fc6182.mp4",
        ("4b088fc8-2bbc-4706-80a6-a0fb118adc1a",),
    ),
    "wan": (  # wan/docs/wan_tasks_api_integration_guide.md
        {
            "success": True,
            "video_url": "https://cdn.acedata.cloud/43a57990c0.mp4",
            "state": "completed",
            "task_id": "a4bca552",
        },
        "https://cdn.acedata.cloud/43a57990c0.mp4",
        (),
    ),
    "wan, newest tasks page": (  # wan/docs/wan_tasks.md: "response.data.video_url"
        {"success": True, "task_id": "a4bca552", "data": {"video_url": "https://cdn.acedata.cloud/w3.mp4"}},
        "https://cdn.acedata.cloud/w3.mp4",
        None,  # no state word, but finished_at and a video: succeeded
    ),
    "seedance": (  # seedance/docs/seedance_tasks.md: data is one object, the word under "status"
        {
            "success": True,
            "task_id": "9462ca25",
            "data": {
                "task_id": "cgt-20251221230356-sxgt7",
                "status": "succeeded",
                "video_url": "https://platform.cdn.acedata.cloud/seedance/d1c2e49e.mp4",
                "last_frame_url": None,
                "model": "doubao-seedance-1-0-pro-250528",
            },
        },
        "https://platform.cdn.acedata.cloud/seedance/d1c2e49e.mp4",
        (),
    ),
    "seedance, platform spec": (  # AceDataCloud/SDK scripts/specs/0083b874-*.json: data a list, content.video_url
        {
            "success": True,
            "task_id": "9462ca25",
            "data": [{"id": "cgt-1", "status": "succeeded", "content": {"video_url": "https://ark.example/v.mp4"}}],
        },
        "https://ark.example/v.mp4",
        (),  # Ark's task id (cgt-1) is no video id
    ),
}


@pytest.mark.parametrize("shape", list(DOCUMENTED))
def test_the_documented_result_of_each_service_is_read(shape: str) -> None:
    response, url, video_ids = DOCUMENTED[shape]
    task = ace.parse_task(document(response))
    assert task.state is TaskState.SUCCEEDED
    assert task.video_urls == (url,)
    if video_ids is not None:
        assert task.video_ids == video_ids
    assert (task.created_at, task.finished_at) == (1752000000.0, 1752000090.5)


@pytest.mark.parametrize(
    ("response", "state"),
    [
        ({"success": True, "task_id": "t", "state": "processing"}, TaskState.RUNNING),  # Kling, Luma, Wan
        ({"success": True, "task_id": "t", "data": [{"id": "v", "state": "running"}]}, TaskState.RUNNING),  # Veo
        ({"success": True, "task_id": "t", "data": {"status": "pending"}}, TaskState.QUEUED),  # Seedance
        ({"success": True, "task_id": "t"}, TaskState.RUNNING),  # success alone is not done (the SDK's tests)
        ({"success": False, "error": {"code": "api_error", "message": "fetch failed"}}, TaskState.FAILED),
        ({"success": True, "task_id": "t", "data": {"status": "failed"}}, TaskState.FAILED),
    ],
)
def test_running_and_failed_tasks_of_every_shape(response: dict[str, Any], state: TaskState) -> None:
    doc = document(response)
    if state is not TaskState.FAILED:
        del doc["finished_at"]  # "not returned when the task is not completed"
    assert ace.parse_task(doc).state is state


# The request examples of each service's videos page (AceDataCloud/APIs, <service>/docs/<service>_videos.md).
REQUESTS = [
    (kling.SERVICE, {"action": "text2video", "prompt": "White ceramic coffee mug", "model": "kling-v1"}, {}),
    (
        kling.SERVICE,
        {"action": "extend", "video_id": "030bb06d-98d4-4044-9042-0aa0822e8c8c", "prompt": "go on", "duration": 10},
        {"model": "kling-v1"},
    ),
    (veo.SERVICE, {"action": "text2video", "prompt": "a whale", "model": "veo31-fast"}, {}),
    (veo.SERVICE, {"action": "ingredients2video", "prompt": "a cat", "image_urls": ["https://i/1.png"]},
     {"model": "veo31-fast-ingredients"}),
    (luma.SERVICE, {"action": "generate", "prompt": "Astronauts shuttle from space to volcano"}, {}),
    (luma.SERVICE, {"prompt": "a", "aspect_ratio": "16:9", "loop": False}, {"action": "generate"}),
    (wan.SERVICE, {"prompt": "a cat", "model": "wan2.6-i2v", "image_url": "https://i/1.png"},
     {"action": "image2video"}),
    (wan.SERVICE, {"prompt": "a cat"}, {"action": "text2video", "model": "wan2.6-t2v"}),
]  # fmt: skip


@pytest.mark.parametrize(("service", "fields", "added"), REQUESTS, ids=lambda value: getattr(value, "name", ""))
def test_each_request_is_the_documented_one_and_asynchronous(
    service: ace.Service, fields: dict[str, Any], added: dict[str, Any]
) -> None:
    request = ace.submit_request(service, fields)
    assert (request.method, request.path, request.paid) == ("POST", f"/{service.name}/videos", True)
    assert request.json == {**fields, **added, "async": True}


def test_seedance_builds_its_content_list() -> None:
    fields = {"prompt": "a girl holding a fox", "first_frame_url": "https://i/first.png", "ratio": "16:9"}
    request = ace.submit_request(seedance.SERVICE, fields)
    assert request.json == {
        "model": seedance.DEFAULT_MODEL,
        "ratio": "16:9",
        "content": [
            {"type": "text", "text": "a girl holding a fox"},
            {"type": "image_url", "image_url": {"url": "https://i/first.png"}, "role": "first_frame"},
        ],
        "async": True,
    }


@pytest.mark.parametrize(
    ("service", "fields", "named"),
    [
        (kling.SERVICE, {"action": "text2video"}, "Kling text2video needs a non-empty 'prompt'"),
        (kling.SERVICE, {"action": "image2video", "prompt": "x"}, "'start_image_url'"),
        (kling.SERVICE, {"action": "extend"}, "'video_id'"),
        (veo.SERVICE, {"action": "image2video", "prompt": "x"}, "needs image_urls: a list of 1 to 2"),
        (veo.SERVICE, {"action": "get1080p"}, "'video_id'"),
        (veo.SERVICE, {"prompt": "x", "image_urls": ["data:image/png;base64,AAA"], "action": "image2video"}, "base64"),
        (luma.SERVICE, {"action": "extend"}, "'video_id'"),
        (wan.SERVICE, {"prompt": "x", "model": "wan2.6-i2v"}, "'image_url'"),
        (seedance.SERVICE, {}, "needs a 'prompt' or a first frame"),
        (seedance.SERVICE, {"prompt": "x", "first_frame_url": "https://i/1", "reference_image_urls": ["https://i/2"]},
         "do not mix"),
    ],
)  # fmt: skip
def test_what_a_service_refuses_is_refused_before_paying(
    service: ace.Service, fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(VideoTaskValidationError, match=named):
        ace.submit_request(service, fields)


@pytest.mark.parametrize(
    ("service", "fields", "named"),
    [
        pytest.param(kling.SERVICE, {"prompt": "x", "model": "kling-v3-turbo"}, "model='kling-v3-turbo'", id="model"),
        pytest.param(kling.SERVICE, {"prompt": "x", "aspect_ratio": "21:9"}, "aspect_ratio='21:9'", id="ratio"),
        pytest.param(luma.SERVICE, {"prompt": "x", "model": "ray-2"}, "model='ray-2' is not among the documented "
                     "values (none;", id="luma-model"),
        pytest.param(wan.SERVICE, {"prompt": "x", "resolution": "720p"}, "resolution='720p'", id="wan-resolution"),
        pytest.param(seedance.SERVICE, {"prompt": "x", "model": "doubao-seedance-2-5-260628"},
                     "model='doubao-seedance-2-5-260628'", id="seedance-model"),
        pytest.param(veo.SERVICE, {"prompt": "x", "action": "text2audio"}, "action='text2audio'", id="veo-action"),
    ],
)  # fmt: skip
def test_a_value_the_sources_do_not_list_goes_to_ace_with_one_warning(
    service: ace.Service, fields: dict[str, Any], named: str
) -> None:
    """Ace adds models and options every month, and refuses an unknown one for free (HTTP 400, no task):
    the value is sent as given, and one warning names the documented values and their source."""
    request = ace.submit_request(service, fields)
    assert request.json is not None
    sent = {key: value for key, value in fields.items() if key != "prompt"}  # Seedance's prompt goes in content
    assert {key: request.json[key] for key in sent} == sent
    [warning] = ace.unlisted(service, request.json)
    assert named in warning
    assert service.source in warning
    assert "a refusal costs nothing" in warning


def test_the_documented_values_raise_no_warning() -> None:
    request = ace.submit_request(kling.SERVICE, {"prompt": "x", "model": "kling-v2-6", "aspect_ratio": "9:16"})
    assert ace.unlisted(kling.SERVICE, request.json or {}) == []


@pytest.mark.parametrize("name", ["sora", "pika", "pixverse"])
def test_any_service_the_sdk_names_is_served_by_the_generic_request(name: str) -> None:
    service = service_named(name)
    assert service.name == name
    assert service not in SERVICES.values()
    request = ace.submit_request(service, {"prompt": "a fox", "model": "m-1", "size": "large"})
    assert (request.method, request.path, request.paid) == ("POST", f"/{name}/videos", True)
    assert request.json == {"prompt": "a fox", "model": "m-1", "size": "large", "async": True}
    assert ace.unlisted(service, request.json) == []
    assert ace.batch_request(name, ["a"]).path == f"/{name}/tasks"


def test_a_service_no_source_names_is_sent_with_a_warning() -> None:
    [warning] = ace.unlisted(service_named("hunyuan"), {"prompt": "x"})
    assert "service 'hunyuan' is not among the video services Ace's SDK names (sora, luma, veo" in warning


@pytest.mark.parametrize("name", ["Sora", "sora/../kling", "", "a b", 7, None])
def test_a_service_name_must_be_one_path_segment(name: Any) -> None:
    with pytest.raises(VideoTaskValidationError, match="service must be an Ace Data Cloud video service's name"):
        service_named(name)


def test_every_service_cites_its_page() -> None:
    assert set(SERVICES) == {"hailuo", "kling", "veo", "luma", "wan", "seedance"}
    for service in SERVICES.values():
        assert service.source.startswith("https://platform.acedata.cloud/documents/"), service.name
        assert service.videos_path == f"/{service.name}/videos"

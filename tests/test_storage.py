"""Keeping the videos: streamed from the sandbox's real MP4 links into object storage (file:// here; s3://
against a real S3 server in test_storage_s3.py), checked, moved into place, never downloaded twice."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from airflow_provider_videotask import storage
from airflow_provider_videotask.api.errors import VideoTaskValidationError
from airflow_provider_videotask.api.models import TaskState, VideoTask
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.sandbox.server import CLIP, video_bytes
from airflow_provider_videotask.storage import VideoDownloadError, VideoStore, VideoToStore, videos_of


@pytest.fixture
def retry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(storage, "_sleep", waits.append)
    return waits


def video(sandbox: Sandbox, name: str = "t1", *, size: int | None = None, n: int = 0) -> VideoToStore:
    url = f"{sandbox.url}/_sandbox/videos/{name}.mp4" + (f"?bytes={size}" if size else "")
    return VideoToStore(
        "hailuo", name, url, n, {"prompt": "a boat", "model": "minimax-t2v"}, "2026-12-02T01:00:00+00:00"
    )


def files_under(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_a_video_is_streamed_checked_and_recorded(sandbox: Sandbox, tmp_path: Path) -> None:
    [record] = VideoStore(tmp_path.as_uri() + "/").keep([video(sandbox)])
    stored = tmp_path / "hailuo" / "t1.mp4"
    assert stored.read_bytes() == CLIP  # the real, playable clip
    assert record.stored_uri == stored.as_uri()
    assert (record.bytes, record.sha256) == (len(CLIP), hashlib.sha256(CLIP).hexdigest())
    assert record.content_type == "video/mp4"
    assert record.parameters == {"prompt": "a boat", "model": "minimax-t2v"}
    manifest = json.loads((tmp_path / "hailuo" / "t1.json").read_text())
    assert manifest == [record.to_dict()]
    assert files_under(tmp_path) == ["hailuo/t1.json", "hailuo/t1.mp4"]  # no temporary file left


def test_a_large_video_arrives_whole(sandbox: Sandbox, tmp_path: Path) -> None:
    size = 5 * 1024 * 1024 + 3
    [record] = VideoStore(tmp_path.as_uri()).keep([video(sandbox, size=size)])
    expected = hashlib.sha256(b"".join(video_bytes(size))).hexdigest()
    assert (record.bytes, record.sha256) == (size, expected)
    assert (tmp_path / "hailuo" / "t1.mp4").stat().st_size == size


def test_a_task_with_several_videos_numbers_them(sandbox: Sandbox, tmp_path: Path) -> None:
    task = VideoTask("multi", TaskState.SUCCEEDED, video_urls=tuple(video(sandbox, f"m{n}").url for n in (1, 2)))
    records = VideoStore(tmp_path.as_uri()).keep(videos_of("hidream", [task], {"prompt": "fox", "api_key": "k"}))
    assert [Path(r.stored_uri).name for r in records] == ["multi-1.mp4", "multi-2.mp4"]
    assert all(r.parameters == {"prompt": "fox"} for r in records)  # a secret-looking field is never kept


def test_a_rerun_finds_the_video_stored_and_does_not_download_it_again(sandbox: Sandbox, tmp_path: Path) -> None:
    store = VideoStore(tmp_path.as_uri())
    [first] = store.keep([video(sandbox)])
    [again] = store.keep([video(sandbox)])
    assert sandbox.counts()["video_downloads"] == 1
    assert again == first
    (tmp_path / "hailuo" / "t1.mp4").write_bytes(b"damaged")  # not the recorded size: stored anew
    [repaired] = store.keep([video(sandbox)])
    assert sandbox.counts()["video_downloads"] == 2
    assert (tmp_path / "hailuo" / "t1.mp4").read_bytes() == CLIP
    assert repaired.sha256 == first.sha256


def test_a_truncated_body_is_tried_again(sandbox: Sandbox, tmp_path: Path, retry_waits: list[float]) -> None:
    sandbox.add_fault("truncate", count=1, only="videos")
    [record] = VideoStore(tmp_path.as_uri()).keep([video(sandbox)])
    assert record.bytes == len(CLIP)
    assert sandbox.counts()["video_downloads"] == 2
    assert len(retry_waits) == 1


def test_a_body_truncated_every_time_fails_and_leaves_nothing_under_the_final_name(
    sandbox: Sandbox, tmp_path: Path, retry_waits: list[float]
) -> None:
    sandbox.add_fault("truncate", count=-1, only="videos")
    with pytest.raises(VideoDownloadError, match=rf"broke off before sending all {len(CLIP)} bytes") as raised:
        VideoStore(tmp_path.as_uri()).keep([video(sandbox)])
    assert raised.value.retryable
    assert len(retry_waits) == 4  # the read policy's retries, then the error
    assert files_under(tmp_path) == []  # neither the video nor a temporary file nor a manifest


def test_an_expired_url_fails_at_once_and_says_so(sandbox: Sandbox, tmp_path: Path, retry_waits: list[float]) -> None:
    sandbox.add_fault("expired", only="videos")
    with pytest.raises(VideoDownloadError) as raised:
        VideoStore(tmp_path.as_uri()).keep([video(sandbox)])
    message = str(raised.value)
    assert raised.value.expired
    assert "video URL of hailuo task t1 has expired" in message
    assert "HTTP 403" in message
    assert "the task was seen finished at 2026-12-02T01:00:00+00:00" in message
    assert retry_waits == []


def test_a_server_error_is_retried(sandbox: Sandbox, tmp_path: Path, retry_waits: list[float]) -> None:
    sandbox.add_fault("server_error", count=2, only="videos", status=503)
    [record] = VideoStore(tmp_path.as_uri()).keep([video(sandbox)])
    assert record.bytes == len(CLIP)
    assert len(retry_waits) == 2


@pytest.mark.parametrize(
    ("output_path", "file_name", "message"),
    [
        ("/data/videos", storage.DEFAULT_FILE_NAME, "output_path must be an object storage URI"),
        ("file:///data/", "{video_task_id}{ext}", "must contain {video_task_id} and {n}"),
        ("file:///data/", "{prompt}-{video_task_id}{n}{ext}", "may use {vendor}, {video_task_id}, {n} and {ext} only"),
    ],
)
def test_a_bad_output_names_the_field_and_the_fix(output_path: str, file_name: str, message: str) -> None:
    with pytest.raises(VideoTaskValidationError, match=message.replace("{", r"\{").replace("}", r"\}")):
        storage.check_output(output_path, file_name)


@pytest.mark.parametrize(
    ("content_type", "url", "ext"),
    [
        ("video/mp4", "https://cdn/x", ".mp4"),
        ("video/webm", "https://cdn/x.mp4", ".webm"),
        ("application/octet-stream", "https://cdn/a/clip.mov?sig=1", ".mov"),
        ("", "https://cdn/a/clip", ".mp4"),
    ],
)
def test_the_extension_follows_the_content_type_then_the_url(content_type: str, url: str, ext: str) -> None:
    assert storage.extension(content_type, url) == ext

"""Keep the videos: stream each finished video from its vendor URL into object storage, once.

Vendor URLs are temporary (Ace Data Cloud / MiniMax links last hours; HiDream documents no lifetime),
so a downstream task that runs late, a backfill or a rerun next week needs the video itself. The
operators' and the sensor's ``output_path`` and ``StoreVideosOperator`` all store through ``VideoStore``.

The rules, in one place:

- **Where.** ``<output_path>/<file_name>``; ``file_name`` defaults to ``{vendor}/{video_task_id}{n}{ext}``
  (``n`` is ``-1``, ``-2`` ... when a task has several videos, else empty; ``ext`` follows the
  content type). ``output_path`` is any Airflow ``ObjectStoragePath`` URI (``file://``, ``s3://`` ...).
- **Flat memory.** The body is streamed in 1 MiB chunks; SHA-256 and the byte count are computed on the way.
- **Never half a file.** It is written under a temporary name and moved into place only when its size
  equals the ``Content-Length`` the server sent; a truncated body is removed and tried again.
- **Once.** Each video task's records are kept beside its files in ``{vendor}/{video_task_id}.json``
  (the manifest); a rerun or retry whose object exists with the recorded size skips the download.
- **Faults.** Connection errors, 5xx, 429 and truncated bodies are retried as the hooks retry reads
  (``RetryPolicy``); 403/404/410 mean the vendor URL expired, and the error says when the task finished.
- **No secrets.** Downloads carry no credentials (vendor video URLs are public links), and records keep
  only the submit fields whose names do not look like secrets.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import mimetypes
import time
import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import requests

from airflow_provider_videotask.api.errors import VideoTaskError, VideoTaskValidationError
from airflow_provider_videotask.hooks.retry import RetryPolicy

log = logging.getLogger(__name__)

DEFAULT_FILE_NAME = "{vendor}/{video_task_id}{n}{ext}"
CHUNK_BYTES = 1024 * 1024
UPLOAD_PART_BYTES = 8 * 1024 * 1024
EXPIRED_STATUSES = frozenset({403, 404, 410})
_EXTENSIONS = {"video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov", "video/x-matroska": ".mkv"}
MAX_PARAMETER_CHARS = 2000
_SECRET_WORDS = ("token", "secret", "password", "key", "auth", "signature", "credential")

# Indirection so tests can observe the waits between download retries without waiting.
_sleep = time.sleep


class VideoDownloadError(VideoTaskError):
    """A video could not be stored. ``expired`` says the vendor URL no longer serves it."""

    def __init__(self, message: str, *, retryable: bool = False, expired: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.expired = expired
        self.retry_after: float | None = None  # what RetryPolicy reads


@dataclass(frozen=True)
class VideoToStore:
    """One finished video: where it is now, and what made it (for the manifest)."""

    vendor: str
    video_task_id: str
    url: str
    n: int = 0  # 1, 2 ... when its task has several videos; 0 when it has one
    parameters: Mapping[str, Any] = field(default_factory=dict)
    finished_at: str | None = None  # ISO time the wait saw the task finished (the vendor's own time is not read)


@dataclass(frozen=True)
class StoredVideo:
    """The manifest record of one stored video (XCom ``videos``, the manifest file, asset events)."""

    vendor: str
    video_task_id: str
    n: int
    source_url: str
    stored_uri: str  # without the connection id (``s3://bucket/key``): read it back with ``conn_id``
    conn_id: str | None
    bytes: int
    sha256: str
    content_type: str
    parameters: Mapping[str, Any]
    finished_at: str | None
    stored_at: str

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "parameters": dict(self.parameters)}


def videos_of(
    vendor: str, tasks: Iterable[Any], parameters: Mapping[str, Any] | None = None, finished_at: str | None = None
) -> list[VideoToStore]:
    """What to store for finished ``VideoTask``s: each of their videos, numbered when a task has several."""
    safe = public_parameters(parameters or {})
    return [
        VideoToStore(vendor, task.task_id, url, n if len(task.video_urls) > 1 else 0, safe, finished_at)
        for task in tasks
        for n, url in enumerate(task.video_urls, start=1)
    ]


def public_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The submit fields a record may keep: set ones, none whose name looks like a secret, URLs without
    their query (a signed link's signature), and long values (an image sent inline as base64) cut to a
    note of their length."""
    return {
        name: _public_value(value)
        for name, value in parameters.items()
        if value not in (None, "") and not any(word in name.lower() for word in _SECRET_WORDS)
    }


def _public_value(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if len(value) > MAX_PARAMETER_CHARS:
        return f"<{len(value)} characters>"
    return public_url(value) if value.startswith(("http://", "https://")) else value


class VideoStore:
    """Stores videos under ``output_path`` (see the module docstring for every rule).

    :param output_path: an ``ObjectStoragePath`` URI, e.g. ``file:///data/videos/`` or ``s3://bucket/videos/``.
    :param output_conn_id: the Airflow connection of that storage (e.g. an ``aws`` connection for ``s3://``).
    :param file_name: the name under ``output_path``, with ``{vendor}``, ``{video_task_id}``, ``{n}`` and ``{ext}``.
    :param timeout: seconds one download may wait for the server (connect, and between chunks).
    """

    def __init__(
        self,
        output_path: str,
        *,
        output_conn_id: str | None = None,
        file_name: str = DEFAULT_FILE_NAME,
        conn_id: str | None = None,
        timeout: float = 60.0,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        from airflow.sdk import ObjectStoragePath

        check_output(output_path, file_name)
        if conn_id is not None:
            warnings.warn(
                "VideoStore(conn_id=...) is deprecated: it is output_conn_id=..., as on the operators. It goes in 0.4.",
                DeprecationWarning,
                stacklevel=2,
            )
            output_conn_id = output_conn_id or conn_id
        self.root = ObjectStoragePath(output_path, conn_id=output_conn_id)
        self.output_conn_id = output_conn_id
        # Object stores buffer one multipart part in memory (s3fs: 50 MiB by default); 8 MiB keeps a
        # copy's memory flat (S3's minimum part is 5 MiB). Local files need no buffer of their own.
        self._write_options = {} if self.root.protocol in ("file", "local") else {"block_size": UPLOAD_PART_BYTES}
        self.file_name = file_name
        self.timeout = timeout
        self.retry_policy = retry_policy or RetryPolicy()
        self._session: requests.Session | None = None

    def keep(self, videos: Sequence[VideoToStore]) -> list[StoredVideo]:
        """Store each video (or find it stored by an earlier try); the records, in order."""
        stored: list[StoredVideo] = []
        by_task: dict[tuple[str, str], list[VideoToStore]] = {}
        for video in videos:
            by_task.setdefault((video.vendor, video.video_task_id), []).append(video)
        try:
            for (vendor, video_task_id), own in by_task.items():
                manifest = self.root / vendor / f"{video_task_id}.json"
                known = {record.get("n"): record for record in _read_json(manifest)}
                records = [self._keep_one(video, known.get(video.n)) for video in own]
                _write_json(manifest, [record.to_dict() for record in records])
                stored.extend(records)
        finally:
            if self._session is not None:
                self._session.close()
                self._session = None
        return stored

    def _keep_one(self, video: VideoToStore, known: Mapping[str, Any] | None) -> StoredVideo:
        if known is not None and (record := self._still_there(known)) is not None:
            log.info(
                "Video %s is already stored at %s (%d bytes): not downloaded again",
                public_url(video.url),
                record.stored_uri,
                record.bytes,
            )
            return record
        retries = 0
        while True:
            try:
                return self._download(video)
            except VideoDownloadError as error:
                what = f"Storing video {public_url(video.url)}"
                delay = self.retry_policy.next_delay(retries, error, what, log)  # type: ignore[arg-type]
                if delay is None:
                    raise
                retries += 1
                _sleep(delay)

    def _still_there(self, known: Mapping[str, Any]) -> StoredVideo | None:
        """The earlier record, if its object is still there with the recorded size."""
        try:
            record = StoredVideo(**known)
            target = type(self.root)(record.stored_uri, conn_id=self.output_conn_id)
            return record if target.exists() and target.stat().st_size == record.bytes else None
        except (TypeError, OSError, ValueError):
            return None  # an unreadable record, or storage that cannot say: download again

    def _download(self, video: VideoToStore) -> StoredVideo:
        response = self._open(video)
        with response:
            self._check_status(video, response)
            content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            target = self.root / self.file_name.format(
                vendor=video.vendor,
                video_task_id=video.video_task_id,
                n=f"-{video.n}" if video.n else "",
                ext=extension(content_type, video.url),
            )
            size, sha256 = self._copy(response, target, video)
        log.info(
            "Stored video %s at %s (%d bytes, sha256 %s)", public_url(video.url), plain_uri(target), size, sha256[:12]
        )
        return StoredVideo(
            vendor=video.vendor,
            video_task_id=video.video_task_id,
            n=video.n,
            source_url=public_url(video.url),
            stored_uri=plain_uri(target),
            conn_id=self.output_conn_id,
            bytes=size,
            sha256=sha256,
            content_type=content_type or "application/octet-stream",
            parameters=dict(video.parameters),
            finished_at=video.finished_at,
            stored_at=_now_iso(),
        )

    def _open(self, video: VideoToStore) -> requests.Response:
        if self._session is None:
            self._session = requests.Session()
        try:
            # identity: the bytes counted are the bytes sent, so Content-Length can be checked
            return self._session.get(
                video.url, stream=True, timeout=self.timeout, headers={"Accept-Encoding": "identity"}
            )
        except requests.RequestException as error:
            raise VideoDownloadError(
                f"could not reach {_host(video.url)}: {type(error).__name__}", retryable=True
            ) from None

    def _copy(self, response: requests.Response, target: Any, video: VideoToStore) -> tuple[int, str]:
        """Stream the body under a temporary name beside ``target`` and move it into place once whole: its
        size and SHA-256. Whatever goes wrong, the temporary file goes (never half a file)."""
        expected = _int_or_none(response.headers.get("Content-Length"))
        partial = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.part"
        target.parent.mkdir(parents=True, exist_ok=True)
        moved = False
        try:
            size, sha256 = self._write(response, partial)
            if expected is not None and size != expected:
                raise VideoDownloadError(
                    f"{_host(video.url)} sent {size} of {expected} bytes of {public_url(video.url)}", retryable=True
                )
            partial.rename(target)
            moved = True
        except requests.RequestException as error:
            promised = f"all {expected} bytes" if expected is not None else "the whole body"
            raise VideoDownloadError(
                f"{_host(video.url)} broke off before sending {promised} of {public_url(video.url)} "
                f"({type(error).__name__})",
                retryable=True,
            ) from None
        except OSError as error:  # the storage refused or dropped the write (a network store, a full disk)
            raise VideoDownloadError(f"writing {plain_uri(target)} failed: {error}", retryable=True) from None
        finally:
            if not moved:
                _remove(partial)
        return size, sha256

    def _write(self, response: requests.Response, partial: Any) -> tuple[int, str]:
        """The body into ``partial``, in chunks: its size and SHA-256. The digest of a chunk is computed
        while it is written (hashlib lets go of the GIL), so checking costs next to no time over a copy."""
        digest, size = hashlib.sha256(), 0
        with (
            partial.open("wb", **self._write_options) as out,  # type: ignore[no-untyped-call]
            ThreadPoolExecutor(1, thread_name_prefix="videotask-sha256") as hasher,
        ):
            for chunk in response.iter_content(CHUNK_BYTES):
                hashed = hasher.submit(digest.update, chunk)
                out.write(chunk)
                size += len(chunk)
                hashed.result()
        return size, digest.hexdigest()

    @staticmethod
    def _check_status(video: VideoToStore, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        if status in EXPIRED_STATUSES:
            when = (
                f"the task was seen finished at {video.finished_at}" if video.finished_at else "vendor links last hours"
            )
            raise VideoDownloadError(
                f"the video URL of {video.vendor} task {video.video_task_id} has expired: {_host(video.url)} answered "
                f"HTTP {status} ({when}). The vendor no longer serves it; generate it again, or store videos "
                "sooner (output_path on the operator that waits for them).",
                expired=True,
            )
        retryable = status >= 500 or status == 429
        raise VideoDownloadError(
            f"{_host(video.url)} answered HTTP {status} for {public_url(video.url)}", retryable=retryable
        )


def public_url(url: str) -> str:
    """A URL as logs and records may show it: without its query, where signed links keep their signature."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme and parts.netloc else url


def plain_uri(path: Any) -> str:
    """A storage path as a URI other tools read (``ObjectStoragePath`` prints ``s3://conn_id@bucket/key``)."""
    return f"{path.protocol}://{path.path}"


def check_output(output_path: str, file_name: str = DEFAULT_FILE_NAME) -> None:
    """Refuse, before anything is paid for, an output that cannot work."""
    if not isinstance(output_path, str) or "://" not in output_path:
        raise VideoTaskValidationError(
            f"output_path must be an object storage URI such as 'file:///data/videos/' or 's3://bucket/videos/', "
            f"got {output_path!r}"
        )
    try:
        file_name.format(vendor="v", video_task_id="t", n="", ext=".mp4")
    except (KeyError, IndexError, ValueError) as error:
        raise VideoTaskValidationError(
            f"file_name may use {{vendor}}, {{video_task_id}}, {{n}} and {{ext}} only; {file_name!r} failed: {error}"
        ) from None
    if "{video_task_id}" not in file_name or "{n}" not in file_name:
        raise VideoTaskValidationError(
            "file_name must contain {video_task_id} and {n}, so that two videos never share a name; "
            f"got {file_name!r}"
        )


def extension(content_type: str, url: str) -> str:
    """The file extension a video's content type (else its URL) calls for; ``.mp4`` when neither says."""
    if content_type in _EXTENSIONS:
        return _EXTENSIONS[content_type]
    suffix = "." + urlsplit(url).path.rsplit(".", 1)[-1].lower() if "." in urlsplit(url).path.rsplit("/", 1)[-1] else ""
    if suffix in _EXTENSIONS.values():
        return suffix
    guessed = mimetypes.guess_extension(content_type) if content_type.startswith("video/") else None
    return guessed or ".mp4"


def _read_json(path: Any) -> list[dict[str, Any]]:
    try:
        if not path.exists():
            return []
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return []  # unreadable: the videos are downloaded again and the manifest rewritten
    return [record for record in document if isinstance(record, dict)] if isinstance(document, list) else []


def _write_json(path: Any, document: Any) -> None:
    """Written under a temporary name and moved into place: a reader never sees half a manifest."""
    partial = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.part"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial.write_text(json.dumps(document, indent=2) + "\n")
    partial.rename(path)


def _remove(path: Any) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

"""Keeping the videos on S3: the same ObjectStoragePath code a user runs, against a real S3-compatible
server (moto in server mode, on a free port, started here) through an Airflow ``aws`` connection.

These need the ``test-s3`` extra (the Amazon provider, s3fs, moto's server), which scripts/bootstrap.sh
installs on every Airflow CI proves: without it this module fails to import rather than being skipped."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import s3fs  # noqa: F401  (the filesystem behind s3:// paths: missing, the module fails here, saying so)
from moto.server import ThreadedMotoServer

from airflow_provider_videotask.operators.store_videos import StoreVideosOperator
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.sandbox.server import CLIP
from airflow_provider_videotask.storage import VideoStore, VideoToStore
from tests.conftest import SENTINEL_TOKEN, operator_context

BUCKET = "videos"
ACCESS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh bucket, and the Airflow connection ``s3_test`` to it (as a user defines one)."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_S3_TEST",
        json.dumps(
            {
                "conn_type": "aws",
                "login": ACCESS["aws_access_key_id"],
                "password": ACCESS["aws_secret_access_key"],
                "extra": {"endpoint_url": s3_server, "region_name": ACCESS["region_name"]},
            }
        ),
    )
    client = boto3.client("s3", endpoint_url=s3_server, **ACCESS)
    for bucket in client.list_buckets().get("Buckets", []):
        for item in client.list_objects_v2(Bucket=bucket["Name"]).get("Contents", []):
            client.delete_object(Bucket=bucket["Name"], Key=item["Key"])
        client.delete_bucket(Bucket=bucket["Name"])
    client.create_bucket(Bucket=BUCKET)
    return client


def keys(client: Any) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_a_video_round_trips_through_s3(s3: Any, sandbox: Sandbox) -> None:
    url = f"{sandbox.url}/_sandbox/videos/s1.mp4?bytes=3000000"
    store = VideoStore(f"s3://{BUCKET}/runs/", output_conn_id="s3_test")
    [record] = store.keep([VideoToStore("hailuo", "s1", url)])

    assert record.stored_uri == f"s3://{BUCKET}/runs/hailuo/s1.mp4"
    body = s3.get_object(Bucket=BUCKET, Key="runs/hailuo/s1.mp4")["Body"].read()
    assert (len(body), hashlib.sha256(body).hexdigest()) == (record.bytes, record.sha256) == (3000000, record.sha256)
    assert body.startswith(CLIP)
    assert keys(s3) == ["runs/hailuo/s1.json", "runs/hailuo/s1.mp4"]  # no temporary object left
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key="runs/hailuo/s1.json")["Body"].read())
    assert manifest == [record.to_dict()]

    [again] = VideoStore(f"s3://{BUCKET}/runs/", output_conn_id="s3_test").keep([VideoToStore("hailuo", "s1", url)])
    assert again == record
    assert sandbox.counts()["video_downloads"] == 1  # the rerun found it stored


def test_a_truncated_download_leaves_nothing_on_s3(s3: Any, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_videotask import storage

    monkeypatch.setattr(storage, "_sleep", lambda seconds: None)
    sandbox.add_fault("truncate", count=-1, only="videos")
    with pytest.raises(storage.VideoDownloadError, match="broke off"):
        VideoStore(f"s3://{BUCKET}/runs/", output_conn_id="s3_test").keep(
            [VideoToStore("hailuo", "s2", f"{sandbox.url}/_sandbox/videos/s2.mp4")]
        )
    assert keys(s3) == []


def test_store_videos_operator_on_s3_records_no_secret(s3: Any, sandbox: Sandbox) -> None:
    operator = StoreVideosOperator(
        task_id="keep",
        video_urls=f"{sandbox.url}/_sandbox/videos/output.mp4",
        output_path=f"s3://{BUCKET}/kept/",
        output_conn_id="s3_test",
    )
    context: dict[str, Any] = operator_context()
    [stored] = operator.execute(context)
    assert stored.startswith(f"s3://{BUCKET}/kept/videos/output-")
    recorded = json.dumps(context["ti"].xcom)
    for secret in (ACCESS["aws_secret_access_key"], SENTINEL_TOKEN):
        assert f'"{secret}"' not in recorded

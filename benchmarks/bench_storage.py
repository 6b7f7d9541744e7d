"""Keeping a large video: VideoStore against a plain streaming copy of the same URL, same run.

The sandbox serves a playable MP4 padded to ``--megabytes`` (default 200). Each way copies it once, in
a fresh Python process so peak memory is its own:

- plain: ``requests.get(stream=True)`` + ``iter_content(1 MiB)`` written to the destination through
  ``ObjectStoragePath`` and nothing else: the limit of this machine's loopback, disk and S3 server.
- VideoStore: the provider's copy (SHA-256, Content-Length check, temporary name, move into place,
  manifest), into the same destination.

Destinations: a local folder (file://) and a real S3-compatible server (s3://, moto in server mode in
another process, so its CPU is not the copier's). Each copy runs after a small one of the same kind, in
a fresh process: a worker's imports and connections are paid once, not per video.

Figures (the median of ``--repeat`` copies per way, the ways taking turns): seconds, MB/s, the ratio
to the plain copy (goal >= 0.8), and the peak RSS increase of the
copying process (goal <= 32 MB). Writes ``benchmarks/results/storage.json`` and a Markdown table in
``benchmarks/results/storage.md`` (copied into docs/outputs.md).

    .venv/airflow-3.3.2/bin/python benchmarks/bench_storage.py              # ~1 minute
    .venv/airflow-3.3.2/bin/python benchmarks/bench_storage.py --megabytes 50
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MOTO = (
    "from moto.server import ThreadedMotoServer; import time; "
    "ThreadedMotoServer('127.0.0.1', {port}, verbose=False).start(); time.sleep(3600)"
)
MOTO_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # moto's
WAYS = ("file:// plain", "file:// VideoStore", "s3:// plain", "s3:// VideoStore")


def rss_now() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0


def child(way: str, url: str, folder: str, s3_endpoint: str) -> dict[str, Any]:
    """One copy, after a small one of the same kind (a worker's imports and connections are paid once)."""
    import requests

    os.environ["AIRFLOW_CONN_BENCH_S3"] = json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
        }
    )
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_videotask.storage import UPLOAD_PART_BYTES, VideoStore, VideoToStore

    destination, _, how = way.partition(" ")
    output = Path(folder).as_uri() + "/" if destination == "file://" else "s3://bench/"
    conn_id = None if destination == "file://" else "bench_s3"

    def plain_copy(source: str, name: str) -> int:
        """A streaming copy and nothing else: no digest, no check, no temporary name."""
        target = ObjectStoragePath(output, conn_id=conn_id) / name
        options = {} if destination == "file://" else {"block_size": UPLOAD_PART_BYTES}
        with requests.get(source, stream=True, timeout=60) as response, target.open("wb", **options) as out:
            for chunk in response.iter_content(1024 * 1024):
                out.write(chunk)
        return int(target.stat().st_size)

    def stored_copy(source: str, name: str) -> int:
        [record] = VideoStore(output, conn_id=conn_id).keep([VideoToStore("bench", name, source)])
        return record.bytes

    copy = plain_copy if how == "plain" else stored_copy
    copy(url.split("?")[0], "warm-up")  # the small clip: imports, connections
    baseline = rss_now()
    started = time.perf_counter()
    size = copy(url, "big")
    seconds = time.perf_counter() - started
    return {
        "way": way,
        "bytes": size,
        "seconds": round(seconds, 2),
        "peak_rss_increase_mb": round(max(0.0, peak_rss() - baseline) / 2**20, 1),
    }


MOTO = (
    "from moto.server import ThreadedMotoServer; import time; "
    "ThreadedMotoServer('127.0.0.1', {port}, verbose=False).start(); time.sleep(3600)"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def parent(args: argparse.Namespace) -> None:
    import boto3

    from airflow_provider_videotask.sandbox import Sandbox

    size = args.megabytes * 1024 * 1024
    port = free_port()
    moto = subprocess.Popen([sys.executable, "-c", MOTO.format(port=port)])
    s3_endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **MOTO_KEYS)
                client.create_bucket(Bucket="bench")
                break
            except Exception:  # not listening yet
                time.sleep(0.1)
        with Sandbox() as sandbox, tempfile.TemporaryDirectory() as folder:
            url = f"{sandbox.url}/_sandbox/videos/big.mp4?bytes={size}"
            env = {**os.environ, "AIRFLOW_HOME": folder, "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"}
            runs: dict[str, list[dict[str, Any]]] = {way: [] for way in WAYS}
            for _ in range(args.repeat):  # the ways take turns, so the disk's writeback hits each alike
                for way in WAYS:
                    out = Path(folder) / "out"
                    shutil.rmtree(out, ignore_errors=True)  # each copy starts from nothing stored
                    out.mkdir()
                    for item in client.list_objects_v2(Bucket="bench").get("Contents", []):
                        client.delete_object(Bucket="bench", Key=item["Key"])
                    command = [sys.executable, __file__, "--child", way, url, str(out), s3_endpoint]
                    output = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
                    if output.returncode != 0:
                        raise SystemExit(f"{way} failed:\n{output.stderr[-3000:]}")
                    runs[way].append(json.loads(output.stdout.strip().splitlines()[-1]))
                    print(f"{way}: {runs[way][-1]}", file=sys.stderr, flush=True)
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    results = [
        {
            "way": way,
            "bytes": done[0]["bytes"],
            "seconds": statistics.median(run["seconds"] for run in done),
            "peak_rss_increase_mb": max(run["peak_rss_increase_mb"] for run in done),
        }
        for way, done in runs.items()
    ]
    plain = {row["way"].split()[0]: row["seconds"] for row in results if row["way"].endswith("plain")}
    for row in results:
        row["mb_per_s"] = round(row["bytes"] / 2**20 / row["seconds"], 1)
        row["vs_plain"] = round(plain[row["way"].split()[0]] / row["seconds"], 2)
    table = ["| way | MB | seconds | MB/s | vs plain copy | peak RSS increase |", "|---|---:|---:|---:|---:|---:|"]
    table += [
        f"| {row['way']} | {row['bytes'] / 2**20:.0f} | {row['seconds']} | {row['mb_per_s']} | {row['vs_plain']} | "
        f"{row['peak_rss_increase_mb']} MB |"
        for row in results
    ]
    machine = f"{os.cpu_count()}-core {platform.machine()} Linux, Python {platform.python_version()}"
    table.append(f"\nMeasured on {time.strftime('%Y-%m-%d')}, {machine}, with `benchmarks/bench_storage.py`.")
    print("\n".join(table))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "storage.json").write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    (out / "storage.md").write_text("\n".join(table) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=int, default=200, help="video size (default: %(default)s)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="copies per way; the median counts (default: %(default)s)"
    )
    parser.add_argument("--child", nargs=4, metavar=("WAY", "URL", "FOLDER", "S3"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
    else:
        parent(args)


if __name__ == "__main__":
    main()

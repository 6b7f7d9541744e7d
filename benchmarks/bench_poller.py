"""Waiting at scale: N deferred VideoTaskTriggers in one event loop, shared batch poller vs each polling alone.

Runs the sandbox in its own process, then for each N and each mode starts a fresh Python process that
plays the triggerer: N triggers in one event loop, each waiting on one Hailuo task, the tasks finishing
at staggered times. Prints a table and writes the figures to JSON.

    .venv/airflow-3.3.2/bin/python benchmarks/bench_poller.py            # N = 10, 100, 1000; ~5 minutes
    .venv/airflow-3.3.2/bin/python benchmarks/bench_poller.py --sizes 10,100 --interval 2

Figures per run (the triggering process only; the sandbox is another process):
- requests: status reads the sandbox served during the wait; per cycle: reads / (wait time / interval)
- CPU s (and per cycle): user + system CPU of the triggering process during the wait
- peak RSS / trigger: (peak RSS - RSS before the triggers existed) / N
- loop lag max: the worst delay of a 50 ms timer on the event loop (Airflow warns above 0.2 s)
- detection p50 / p99: from a task finishing at the sandbox to its trigger's event
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
MODES = ("shared", "alone")


def rss_now() -> float:
    """Resident set size now, in bytes (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0  # kilobytes on Linux


def submit_tasks(n: int, interval: float, spread: float, sandbox: str) -> dict[str, float]:
    """Submit N tasks that finish after their trigger's first wait, spread over ``spread`` seconds."""
    from airflow_provider_videotask.hooks.hailuo import HailuoHook

    hook = HailuoHook("bench_hailuo")
    first_finish = time.time() + 1 + 0.01 * n + 2 * interval
    finishes: dict[str, float] = {}
    for index in range(n):
        finish = first_finish + spread * index / n
        task_id = hook.submit(f"bench {index} [duration={max(0.0, finish - time.time()):.3f}]")
        finishes[task_id] = finish
    hook.close()
    if time.time() > first_finish - interval:
        raise SystemExit(f"submitting {n} tasks took too long: the first would finish before its trigger's first wait")
    requests.post(f"{sandbox}/_sandbox/reset", timeout=10)
    return finishes


async def play_triggerer(finishes: dict[str, float], shared: bool, interval: float) -> dict[str, Any]:
    """Wait for every task with one trigger each, all in this event loop, as the triggerer runs them."""
    from airflow_provider_videotask.triggers import poller
    from airflow_provider_videotask.triggers.video_task import VideoTaskTrigger

    poller.SHARE_POLLERS = shared  # the seam for the naive way: each trigger polls alone
    lag_max = 0.0
    done = asyncio.Event()

    async def watch_lag() -> None:
        nonlocal lag_max
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.05)
            lag_max = max(lag_max, time.perf_counter() - started - 0.05)

    latencies: list[float] = []
    statuses: dict[str, int] = {}

    async def wait_for(trigger: VideoTaskTrigger, task_id: str) -> None:
        async for event in trigger.run():
            latencies.append(time.time() - finishes[task_id])
            statuses[event.payload["status"]] = statuses.get(event.payload["status"], 0) + 1

    n = len(finishes)
    baseline_rss = rss_now()
    cpu_start = time.process_time()
    started = time.time()
    watcher = asyncio.ensure_future(watch_lag())
    triggers = [
        VideoTaskTrigger("bench_hailuo", [task_id], poll_interval=interval, deadline=started + 900, conn_type="hailuo")
        for task_id in finishes
    ]
    await asyncio.gather(*(wait_for(trigger, task_id) for trigger, task_id in zip(triggers, finishes, strict=True)))
    elapsed = time.time() - started
    cpu = time.process_time() - cpu_start
    done.set()
    await watcher
    latencies.sort()
    return {
        "n": n,
        "mode": "shared" if shared else "alone",
        "interval_s": interval,
        "wait_s": round(elapsed, 2),
        "events": statuses,
        "cpu_s": round(cpu, 3),
        "cpu_per_cycle_ms": round(1000 * cpu / (elapsed / interval), 2),
        "peak_rss_per_trigger_kb": round(max(0.0, peak_rss() - baseline_rss) / n / 1024, 2),
        "loop_lag_max_s": round(lag_max, 4),
        "detection_p50_s": round(statistics.median(latencies), 3),
        "detection_p99_s": round(latencies[min(len(latencies) - 1, math.ceil(0.99 * len(latencies)) - 1)], 3),
    }


def child(args: argparse.Namespace) -> None:
    os.environ["AIRFLOW_CONN_BENCH_HAILUO"] = json.dumps(
        {"conn_type": "hailuo", "host": args.sandbox, "password": "bench", "extra": {"request_timeout": 30}}
    )
    finishes = submit_tasks(args.run, args.interval, args.spread, args.sandbox)
    result = asyncio.run(play_triggerer(finishes, args.mode == "shared", args.interval))
    reads = requests.get(f"{args.sandbox}/_sandbox/stats", timeout=10).json()["counts"].get("hailuo_retrieve_batch", 0)
    result["requests"] = reads
    result["requests_per_cycle"] = round(reads / (result["wait_s"] / args.interval), 2)
    print(json.dumps(result))


def start_sandbox(port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_videotask.sandbox", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.readline()  # the banner: it is listening
    return process


def parent(args: argparse.Namespace) -> None:
    sizes = [int(size) for size in args.sizes.split(",")]
    sandbox = start_sandbox(args.port)
    url = f"http://127.0.0.1:{args.port}"
    home = tempfile.mkdtemp(prefix="videotask-bench-")
    env = {**os.environ, "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    results = []
    try:
        for n in sizes:
            for mode in MODES:
                print(f"running N={n} {mode} ...", file=sys.stderr, flush=True)
                command = [
                    sys.executable, __file__, "--run", str(n), "--mode", mode, "--sandbox", url,
                    "--interval", str(args.interval), "--spread", str(args.spread),
                ]  # fmt: skip
                output = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800, check=False)
                if output.returncode != 0:
                    raise SystemExit(f"run N={n} {mode} failed:\n{output.stderr[-3000:]}")
                results.append(json.loads(output.stdout.strip().splitlines()[-1]))
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)

    print_table(results)
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "airflow": __import__("importlib.metadata").metadata.version("apache-airflow"),
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    print(f"\nfigures written to {out}; machine: {machine}")


def print_table(results: list[dict[str, Any]]) -> None:
    columns = [
        ("N", "n"), ("mode", "mode"), ("requests", "requests"), ("req/cycle", "requests_per_cycle"),
        ("CPU s", "cpu_s"), ("CPU ms/cycle", "cpu_per_cycle_ms"), ("RSS KB/trigger", "peak_rss_per_trigger_kb"),
        ("lag max s", "loop_lag_max_s"), ("detect p50 s", "detection_p50_s"), ("detect p99 s", "detection_p99_s"),
    ]  # fmt: skip
    print(" | ".join(f"{title:>14}" for title, _ in columns))
    for row in results:
        print(" | ".join(f"{row[key]!s:>14}" for _, key in columns))
    by = {(row["n"], row["mode"]): row for row in results}
    for n in sorted({row["n"] for row in results}):
        shared, alone = by.get((n, "shared")), by.get((n, "alone"))
        if shared and alone and shared["requests"] and shared["cpu_s"]:
            print(
                f"N={n}: {alone['requests'] / shared['requests']:.1f}x fewer requests, "
                f"{alone['cpu_s'] / shared['cpu_s']:.1f}x less CPU with the shared poller"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000", help="numbers of triggers (default: %(default)s)")
    parser.add_argument("--interval", type=float, default=5.0, help="poll interval, s (default: %(default)s)")
    parser.add_argument(
        "--spread", type=float, default=20.0, help="tasks finish over this many s (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=18090, help="sandbox port (default: %(default)s)")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "poller.json"))
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--sandbox", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        child(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()

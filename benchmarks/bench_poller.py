"""Waiting at scale: the provider's shared batch poller against per-task polling of the usual provider style.

For each workload and each way of waiting, a fresh Python process plays the triggerer: all the triggers
in one event loop, their tasks finishing at staggered times at the sandbox (which runs in this process,
in its own threads, so the measured process holds only the waiting). Prints a table and writes JSON.

    make bench                                                        # this and bench_fan_out.py
    .venv/airflow-3.3.2/bin/python benchmarks/bench_poller.py         # the four workloads below, ~10 minutes
    .venv/airflow-3.3.2/bin/python benchmarks/bench_poller.py --workloads 100x1 --interval 2

The per-task peer needs aiohttp (``make bench`` installs it; the provider itself does not use it).

Workloads: ``TRIGGERSxIDS``: 1000x1, 3000x1 and 10000x1 (one task per trigger), 1000x10 (Airflow's
default triggerer capacity, ten tasks each).

Ways of waiting:
- provider: ``VideoTaskTrigger``; the triggers of one connection share one batch poller.
- per-task: a trigger as most providers write one: every poll interval it opens a new HTTP client and
  asks for each of its tasks in turn, one ``retrieve`` request each.

Figures (the triggering process only):
- requests: status reads the sandbox answered during the wait, and per cycle (requests / cycles)
- connections: TCP connections the sandbox accepted, in all and after the first cycle
- detection p50 / p99: from the trigger's last task finishing to its event
- late p50 / p99: detection minus that of an on-time poll (the first tick of the trigger's own schedule,
  one interval after it started and every interval after, at or after the finish): the time the way of
  waiting adds to the poll interval
- detected: triggers that fired before the run gave up on the rest (20 intervals after the last finish)
- lag max: the worst delay of a 50 ms timer on the event loop (Airflow's triggerer warns above 0.1 s);
  w/o GC: the same less the pauses of CPython's garbage collector meanwhile; GC max: its longest pause
- CPU s: user + system CPU of the triggering process during the wait
- RSS KB/trigger: (peak RSS - RSS before the triggers existed) / triggers
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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
from collections.abc import AsyncIterator
from importlib import metadata
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
WAYS = ("provider", "per-task")
WORKLOADS = "1000x1,3000x1,10000x1,1000x10"
TOKEN = "bench-token"  # noqa: S105 - the sandbox's, not a secret


# ----- the triggering process ---------------------------------------------------------------------


def rss_now() -> float:
    """Resident set size now, in bytes (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0  # kilobytes on Linux


def per_task_trigger_class() -> type:
    """The peer, written as providers usually write a polling trigger, e.g. dbt Cloud's: the hook's async
    status call opens an ``aiohttp.ClientSession`` per call (defined late: it needs Airflow)."""
    import aiohttp
    from airflow.triggers.base import BaseTrigger, TriggerEvent

    from airflow_provider_videotask.api import ace

    class PerTaskTrigger(BaseTrigger):
        def __init__(self, base_url: str, task_ids: list[str], poll_interval: float) -> None:
            super().__init__()
            self.base_url, self.task_ids, self.poll_interval = base_url, task_ids, poll_interval

        def serialize(self) -> tuple[str, dict[str, Any]]:
            return "bench.PerTaskTrigger", {"base_url": self.base_url, "task_ids": self.task_ids}

        async def run(self) -> AsyncIterator[TriggerEvent]:
            pending = list(self.task_ids)
            while pending:
                await asyncio.sleep(self.poll_interval)
                for task_id in list(pending):
                    try:
                        if (await self.get_task(task_id)).state.is_terminal:
                            pending.remove(task_id)
                    except (aiohttp.ClientError, asyncio.TimeoutError):
                        pass  # poll again next interval
            yield TriggerEvent({"status": "success"})

        async def get_task(self, task_id: str) -> Any:
            request = ace.retrieve_request("hailuo", task_id)
            headers = {"Authorization": f"Bearer {TOKEN}"}
            timeout = aiohttp.ClientTimeout(total=60)
            async with (
                aiohttp.ClientSession(headers=headers, timeout=timeout) as session,
                session.post(self.base_url + request.path, json=request.json) as response,
            ):
                return ace.parse_task(await response.json())

    return PerTaskTrigger


async def play_triggerer(plan: dict[str, Any], way: str, interval: float, sandbox: str) -> dict[str, Any]:
    """Every trigger of the plan in this event loop, as the triggerer runs them; the figures of the wait."""
    from airflow_provider_videotask.triggers.video_task import VideoTaskTrigger

    groups: list[list[str]] = plan["groups"]
    finishes: dict[str, float] = plan["finishes"]
    lag_max = lag_own_max = 0.0
    done = asyncio.Event()
    gc_pauses = GcPauses()

    async def watch_lag() -> None:
        nonlocal lag_max, lag_own_max
        while not done.is_set():
            started, gc_before = time.perf_counter(), gc_pauses.total
            await asyncio.sleep(0.05)
            lag = time.perf_counter() - started - 0.05
            lag_max = max(lag_max, lag)
            lag_own_max = max(lag_own_max, lag - (gc_pauses.total - gc_before))

    connections_after_first_cycle: list[int] = []

    async def count_connections_after_the_first_cycle() -> None:
        await asyncio.sleep(2.5 * interval)  # the first poll is at one interval; by 2.5, past its cycle
        counts = await asyncio.to_thread(stats, sandbox)
        connections_after_first_cycle.append(counts.get("connections", 0))

    detections: list[float] = []
    late: list[float] = []

    async def wait_for(trigger: Any, ids: list[str], started: float) -> None:
        async for _event in trigger.run():
            now = time.time()
            finished = max(finishes[task_id] for task_id in ids)
            on_time = started + interval * max(1, math.ceil((finished - started) / interval))
            detections.append(now - finished)
            late.append(now - on_time)

    baseline_rss = rss_now()
    cpu_start = time.process_time()
    started = time.time()
    if way == "provider":
        triggers: list[Any] = [
            VideoTaskTrigger("bench_hailuo", ids, poll_interval=interval, deadline=started + 900, conn_type="hailuo")
            for ids in groups
        ]
    else:
        peer = per_task_trigger_class()
        triggers = [peer(sandbox, ids, interval) for ids in groups]
    watchers = [asyncio.ensure_future(watch_lag()), asyncio.ensure_future(count_connections_after_the_first_cycle())]
    gc.callbacks.append(gc_pauses)
    waits = [
        asyncio.ensure_future(wait_for(trigger, ids, started)) for trigger, ids in zip(triggers, groups, strict=True)
    ]
    # A way of waiting that cannot keep up is given up on, and says how many it saw.
    _, late_ones = await asyncio.wait(waits, timeout=plan["give_up_at"] - time.time())
    for wait in late_ones:
        wait.cancel()
    await asyncio.gather(*late_ones, return_exceptions=True)
    gc.callbacks.remove(gc_pauses)
    elapsed = time.time() - started
    cpu = time.process_time() - cpu_start
    done.set()
    await asyncio.gather(*watchers)
    return {
        "workload": plan["workload"],
        "way": way,
        "triggers": len(groups),
        "ids": len(finishes),
        "interval_s": interval,
        "wait_s": round(elapsed, 2),
        "cycles": round(elapsed / interval, 1),
        "cpu_s": round(cpu, 2),
        "rss_kb_per_trigger": round(max(0.0, peak_rss() - baseline_rss) / len(groups) / 1024, 1),
        "detected": f"{len(detections)}/{len(groups)}",
        "lag_max_s": round(lag_max, 3),
        "lag_own_max_s": round(lag_own_max, 3),
        "gc_pause_max_s": round(gc_pauses.longest, 3),
        "detection_p50_s": round(statistics.median(detections), 2),
        "detection_p99_s": round(percentile(detections, 0.99), 2),
        "late_p50_s": round(statistics.median(late), 2),
        "late_p99_s": round(percentile(late, 0.99), 2),
        "connections_first_cycle": connections_after_first_cycle[0] if connections_after_first_cycle else None,
    }


class GcPauses:
    """CPython's garbage collector stops the event loop too: its pauses, told apart from the code's own."""

    def __init__(self) -> None:
        self.total = self.longest = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            took = time.perf_counter() - self._started
            self.total += took
            self.longest = max(self.longest, took)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


def stats(sandbox: str) -> dict[str, int]:
    """The sandbox's counters; patient, since a way of waiting that floods it can fill its backlog."""
    for attempt in range(10):
        try:
            return dict(requests.get(f"{sandbox}/_sandbox/stats", timeout=30).json()["counts"])
        except requests.RequestException:
            time.sleep(2 + attempt)
    raise SystemExit("the sandbox did not answer its stats")


def child(args: argparse.Namespace) -> None:
    os.environ["AIRFLOW_CONN_BENCH_HAILUO"] = json.dumps(
        {"conn_type": "hailuo", "host": args.sandbox, "password": TOKEN, "extra": {"request_timeout": 60}}
    )
    plan = json.loads(Path(args.plan).read_text())
    # Start the clock now: the plan's tasks finish relative to this process being ready.
    requests.post(f"{args.sandbox}/_sandbox/reset", timeout=30)
    result = asyncio.run(play_triggerer(plan, args.way, args.interval, args.sandbox))
    counts = stats(args.sandbox)
    reads = counts.get("hailuo_retrieve_batch" if args.way == "provider" else "hailuo_retrieve", 0)
    result["requests"] = reads
    result["requests_per_cycle"] = round(reads / result["cycles"], 1)
    first = result.pop("connections_first_cycle")
    # The two stats reads open a connection each; what remains is the waiting's own.
    result["connections"] = counts.get("connections", 0) - 2
    result["connections_after_first_cycle"] = None if first is None else counts.get("connections", 0) - first - 1
    print(json.dumps(result))


# ----- the parent: the sandbox, the plans, the table ----------------------------------------------


def make_plan(sandbox: Any, workload: str, interval: float, spread: float, ready_in: float) -> dict[str, Any]:
    """Tasks made at the sandbox directly (not paid submits), finishing over ``spread`` seconds from
    two intervals after the triggering process is ready."""
    triggers, ids_each = (int(part) for part in workload.split("x"))
    first_finish = time.time() + ready_in + 2 * interval
    finishes: dict[str, float] = {}
    groups: list[list[str]] = []
    for index in range(triggers):
        finish = first_finish + spread * index / triggers
        group = []
        for _ in range(ids_each):
            duration = finish - time.time()
            task = sandbox.state.create("hailuo", "minimax-t2v", {}, f"bench [duration={duration:.3f}]")
            finishes[task.task_id] = task.created_wall + duration
            group.append(task.task_id)
        groups.append(group)
    last_finish = first_finish + spread
    return {"workload": workload, "groups": groups, "finishes": finishes, "give_up_at": last_finish + 20 * interval}


def settle(sandbox: Any) -> None:
    """Wait until the sandbox has answered everything a finished run left queued (a flooding peer's
    last connections), so the next run counts only its own."""
    while True:
        before = sandbox.counts()["requests"]
        time.sleep(2)
        if sandbox.counts()["requests"] == before:
            return


def run_one(sandbox: Any, workload: str, way: str, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as plan_file:
        # The child needs ~5 s to import Airflow; tasks made now finish after it is ready.
        json.dump(make_plan(sandbox, workload, args.interval, args.spread, ready_in=8.0), plan_file)
    command = [
        sys.executable, __file__, "--child", "--way", way, "--plan", plan_file.name, "--sandbox", sandbox.url,
        "--interval", str(args.interval),
    ]  # fmt: skip
    try:
        output = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800, check=False)
    finally:
        os.unlink(plan_file.name)
    if output.returncode != 0:
        raise SystemExit(f"run {workload} {way} failed:\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def parent(args: argparse.Namespace) -> None:
    from airflow_provider_videotask.sandbox import Sandbox

    home = tempfile.mkdtemp(prefix="videotask-bench-")
    env = {
        **os.environ,
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
    results = []
    with Sandbox(token=TOKEN) as sandbox:
        for workload in args.workloads.split(","):
            for way in args.ways.split(","):
                print(f"running {workload} {way} ...", file=sys.stderr, flush=True)
                results.append(run_one(sandbox, workload, way, args, env))
                settle(sandbox)
                print_table(results[-1:], header=len(results) == 1, file=sys.stderr)
    print_table(results)
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "airflow": metadata.version("apache-airflow"),
        "date": time.strftime("%Y-%m-%d"),
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Rows of other workloads from an earlier run are kept, so one workload can be measured again alone.
    earlier = json.loads(out.read_text())["results"] if out.exists() else []
    fresh = {(row["workload"], row["way"]) for row in results}
    results = [row for row in earlier if (row["workload"], row["way"]) not in fresh] + results
    out.write_text(json.dumps({"machine": machine, "interval_s": args.interval, "results": results}, indent=2) + "\n")
    print(f"\nfigures written to {out}; machine: {machine}")


COLUMNS = [
    ("workload", "workload"), ("way", "way"), ("requests", "requests"), ("req/cycle", "requests_per_cycle"),
    ("connections", "connections"), ("conn after 1st", "connections_after_first_cycle"),
    ("detect p50", "detection_p50_s"), ("detect p99", "detection_p99_s"), ("late p50", "late_p50_s"),
    ("late p99", "late_p99_s"), ("detected", "detected"), ("lag max", "lag_max_s"), ("lag w/o GC", "lag_own_max_s"),
    ("GC max", "gc_pause_max_s"), ("CPU s", "cpu_s"), ("RSS KB/trig", "rss_kb_per_trigger"),
]  # fmt: skip


def print_table(results: list[dict[str, Any]], header: bool = True, file: Any = None) -> None:
    """A Markdown table: the rows paste into docs/scale.md as they are."""
    if header:
        print("| " + " | ".join(title for title, _ in COLUMNS) + " |", file=file)
        print("|" + "|".join("---" if key in ("workload", "way") else "---:" for _, key in COLUMNS) + "|", file=file)
    for row in results:
        print("| " + " | ".join(str(row[key]) for _, key in COLUMNS) + " |", file=file, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", default=WORKLOADS, help="TRIGGERSxIDS, comma-separated (default: %(default)s)")
    parser.add_argument("--ways", default=",".join(WAYS), help="ways of waiting (default: %(default)s)")
    parser.add_argument("--interval", type=float, default=5.0, help="poll interval, s (default: %(default)s)")
    parser.add_argument(
        "--spread", type=float, default=20.0, help="tasks finish over this many s (default: %(default)s)"
    )
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "poller.json"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--way", choices=WAYS, help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    parser.add_argument("--sandbox", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()

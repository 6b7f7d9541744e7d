"""One task for a batch against a task per video, on the real stack: the same videos both ways.

    make test-stack                                               # once: PostgreSQL and the stack extra
    .venv/airflow-3.3.2/bin/python benchmarks/bench_batch.py                 # 1,000 videos, ~20 minutes
    .venv/airflow-3.3.2/bin/python benchmarks/bench_batch.py --videos 200

The stack is the stack tests' (tests/stack/conftest.py: PostgreSQL, api-server, scheduler with the
LocalExecutor, triggerer, DAG processor); the vendor is the sandbox, with videos of ``--seconds`` and no
rate limit, so the vendor's own limit on the wall time is about ``--seconds`` for any number of videos.
Both ways are deferrable and poll every 2 s:

- mapped: ``HailuoVideoOperator.partial(...).expand_kwargs(...)``, a task instance per video
  (``stack_callbacks`` on a connection without callbacks);
- batch: one ``HailuoVideoOperator(prompts=[...])`` (``stack_batch_conf``);
- batch with callbacks: the same, on a connection whose vendor calls back for each video (the api-server's
  receiver reads the video a callback names; the task's own reads come every 120 s, as the safety net).

Printed side by side: wall time, the machine's CPU seconds (every process, from /proc/stat) and each
component's (its process tree: scheduler, the LocalExecutor's workers and their tasks, triggerer,
api-server, DAG processor, PostgreSQL), task instances, rows PostgreSQL wrote (inserted, updated and
deleted, from pg_stat_database), vendor reads of ids per video, and submits per video.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from airflow_provider_videotask.sandbox import Sandbox  # noqa: E402
from benchmarks.side_by_side import many_tasks, print_table  # noqa: E402
from tests.stack.conftest import Stack, airflow_stack  # noqa: E402


def machine_cpu_seconds() -> float:
    """CPU time every process of the machine spent so far (user, nice, system, irq, softirq)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(value) for value in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def component_cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU seconds each component's processes spent so far: the process, its live descendants, and the children
    each of them reaped. The scheduler's own, apart from its workers' (the LocalExecutor's processes, which run
    the tasks)."""
    import psutil

    def spent(process: psutil.Process) -> float:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            return 0.0
        return times.user + times.system + times.children_user + times.children_system

    def tree(pid: int) -> float:
        root = psutil.Process(pid)
        return spent(root) + sum(spent(child) for child in root.children(recursive=True))

    seconds = {name: tree(process.pid) for name, process in stack.processes.items()}
    scheduler = psutil.Process(stack.processes["scheduler"].pid).cpu_times()
    seconds["workers (tasks)"] = seconds.pop("scheduler") - scheduler.user - scheduler.system
    seconds["scheduler"] = scheduler.user + scheduler.system
    postmaster = int((stack.postgres.data / "postmaster.pid").read_text().split()[0])
    seconds["PostgreSQL"] = tree(postmaster)
    return seconds


def rows_written(stack: Stack) -> int:
    [(inserted, updated, deleted)] = stack.query(
        "select tup_inserted, tup_updated, tup_deleted from pg_stat_database where datname = 'airflow'"
    )
    return int(inserted + updated + deleted)


def measure(stack: Stack, sandbox: Sandbox, dag_id: str, conf: dict[str, Any], videos: int) -> dict[str, str]:
    sandbox.reset_counts()
    with sandbox.state.lock:
        sandbox.state.tasks.clear()
    rows, cpu, components, started = (
        rows_written(stack),
        machine_cpu_seconds(),
        component_cpu_seconds(stack),
        time.time(),
    )
    run_id = stack.trigger(dag_id, conf)
    state = stack.wait_for_run(dag_id, run_id, timeout=7200)
    wall, cpu = time.time() - started, machine_cpu_seconds() - cpu
    time.sleep(2)  # PostgreSQL publishes its statistics a moment after each transaction
    components = {name: spent - components.get(name, 0.0) for name, spent in component_cpu_seconds(stack).items()}
    rows = rows_written(stack) - rows
    [(instances,)] = stack.query("select count(*) from task_instance where run_id = %s", run_id)
    counts = sandbox.counts()
    return {
        "run": state,
        "wall time (s)": f"{wall:.1f}",
        "machine CPU (s)": f"{cpu:.1f}",
        "machine CPU per video (s)": f"{cpu / videos:.3f}",
        **{
            f"  {name} CPU per video (ms)": f"{1000 * spent / videos:.1f}" for name, spent in sorted(components.items())
        },
        "task instances": str(instances),
        "database rows written": str(rows),
        "database rows per video": f"{rows / videos:.1f}",
        "vendor reads of ids per video": f"{counts['ids_queried'] / videos:.2f}",
        "batch read requests": str(counts["hailuo_retrieve_batch"]),
        "callbacks delivered": str(counts["callbacks_delivered"]),
        "submits per video": f"{counts['hailuo_submit'] / videos:.2f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10, help="how long each vendor task runs")
    args = parser.parse_args()
    prompts = [f"bench {n} [duration={args.seconds}]" for n in range(args.videos)]
    many = many_tasks(args.videos)
    ways = {
        "mapped (a task per video)": (
            "stack_callbacks",
            {"jobs": [{"conn": "stack_hailuo", "prompt": prompt, "poll_interval": 2} for prompt in prompts]},
        ),
        "batch (one task)": ("stack_batch_conf", {"prompts": prompts}),
        "batch, called back": ("stack_batch_callbacks", {"prompts": prompts}),
    }
    results: dict[str, dict[str, str]] = {}
    with (
        tempfile.TemporaryDirectory() as base,
        Sandbox(duration=2) as sandbox,
        airflow_stack(Path(base), sandbox, many) as stack,
    ):
        for way, (dag_id, conf) in ways.items():
            print(f"{way}: {args.videos} videos of {args.seconds} s ...", flush=True)
            results[way] = measure(stack, sandbox, dag_id, conf, args.videos)
    print_table(results, 28)
    mapped, batch, _ = (float(results[way]["machine CPU per video (s)"]) for way in ways)
    print(f"\nCPU per video, mapped / batch: {mapped / max(batch, 1e-9):.0f}x. Physical limit of the wall time: "
          f"about {args.seconds} s (the vendor's), for any number of videos.")  # fmt: skip


if __name__ == "__main__":
    main()

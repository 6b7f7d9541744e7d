"""Callbacks against polling, on the real stack: the same 100 mapped tasks, woken by their vendor's callback,
then found by polls every 30 s.

    make test-stack                                    # once: PostgreSQL and the stack extra
    .venv/airflow-3.3.2/bin/python benchmarks/bench_callbacks.py            # ~6 minutes
    .venv/airflow-3.3.2/bin/python benchmarks/bench_callbacks.py --tasks 20 --seconds 30

The stack is the stack tests' (tests/stack/conftest.py: PostgreSQL, api-server with the provider's plugin,
scheduler with LocalExecutor, triggerer, DAG processor), the vendor the sandbox, which calls back as Ace
documents. Each task's detection delay runs from the moment its vendor task ended (the sandbox's clock) to
the moment Airflow resumed it (read from the database every 0.2 s). Printed beside each other: the delay's
p50, p99 and max, the vendor reads of task ids per task, and the run's wall time; the physical limit of the
delay is 0, that of polling half its interval on average.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from airflow_provider_videotask.sandbox import Sandbox  # noqa: E402
from benchmarks.side_by_side import many_tasks, print_table  # noqa: E402
from tests.stack.conftest import airflow_stack  # noqa: E402
from tests.stack.test_callbacks import DAG_ID, Resumes, vendor_ends  # noqa: E402

MODES = {
    # mode: (connection, poll interval)
    "callbacks (fallback read every 120 s)": ("stack_callbacks", 120),
    "polling every 30 s": ("stack_hailuo", 30),
}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(stack: object, sandbox: Sandbox, conn_id: str, poll_interval: int, tasks: int, seconds: int) -> dict[str, str]:
    sandbox.reset_counts()
    with sandbox.state.lock:
        sandbox.state.tasks.clear()
    prompts = [f"bench {conn_id} {n} [duration={seconds}]" for n in range(tasks)]
    jobs = [{"conn": conn_id, "prompt": prompt, "poll_interval": poll_interval} for prompt in prompts]
    started = time.time()
    run_id = stack.trigger(DAG_ID, {"jobs": jobs})  # type: ignore[attr-defined]
    with Resumes(stack, run_id).running() as watch:  # type: ignore[arg-type]
        state = stack.wait_for_run(DAG_ID, run_id, timeout=seconds + 4 * poll_interval + 600)  # type: ignore[attr-defined]
    wall = time.time() - started
    ended = vendor_ends(sandbox, prompts)
    delays = [watch.resumed[m] - ended[m] for m in range(tasks) if m in watch.resumed]
    counts = sandbox.counts()
    return {
        "run": state,
        "tasks resumed": f"{len(delays)} / {tasks}",
        "delay p50 (s)": f"{statistics.median(delays):.2f}",
        "delay p99 (s)": f"{percentile(delays, 0.99):.2f}",
        "delay max (s)": f"{max(delays):.2f}",
        "reads of ids per task": f"{counts['ids_queried'] / tasks:.2f}",
        "batch requests": str(counts["hailuo_retrieve_batch"]),
        "callbacks delivered": str(counts["callbacks_delivered"]),
        "wall time (s)": f"{wall:.0f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=60, help="how long each vendor task runs")
    args = parser.parse_args()
    many = many_tasks(args.tasks)
    results: dict[str, dict[str, str]] = {}
    with (
        tempfile.TemporaryDirectory() as base,
        Sandbox(duration=2) as sandbox,
        airflow_stack(Path(base), sandbox, many) as stack,
    ):
        for mode, (conn_id, poll_interval) in MODES.items():
            print(f"{mode}: {args.tasks} tasks of {args.seconds} s ...", flush=True)
            results[mode] = run(stack, sandbox, conn_id, poll_interval, args.tasks, args.seconds)
    print_table(results, 38)
    print("\nPhysical limit of the delay: 0 s; polling every 30 s: 15 s on average, 30 s at most.")


if __name__ == "__main__":
    main()

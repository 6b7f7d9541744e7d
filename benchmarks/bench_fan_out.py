"""A fan-out past the vendor's rate limit: N mapped submit operators against 5 submits per 10 s.

Plays Airflow around the real operators: every instance starts at once on a worker slot of its own (an
executor with room for all), runs ``execute``; when it defers, its slot is freed and a timer (the
triggerer's DateTimeTrigger) resumes a fresh instance of it at the trigger's moment with the deferral's
kwargs, as the scheduler would. The sandbox refuses a submit past the limit with HTTP 429 (and a
Retry-After unless ``--no-retry-after``), as Ace Data Cloud documents.

    .venv/airflow-3.3.2/bin/python benchmarks/bench_fan_out.py                 # N = 20, 100; ~9 minutes
    .venv/airflow-3.3.2/bin/python benchmarks/bench_fan_out.py --sizes 20 --modes deferrable

Modes:
- ``before``: what the first release did, every submit tried once (``submit_timeout=0``).
- ``in worker``: refused submits wait their turn sleeping in the worker (``deferrable=False``).
- ``deferrable``: waits longer than 5 s are spent in the triggerer (``deferrable=True``).

Figures: tasks succeeded, submits accepted and refused at the sandbox, duplicate accepted submits (a
prompt accepted twice: must be 0), wall time beside the physical limit N / rate, worker-slot seconds (all,
and those spent sleeping between refused submits), and deferrals.
"""

from __future__ import annotations

import argparse
import heapq
import json
import logging
import os
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODES = ("before", "in worker", "deferrable")
PER_WINDOW, WINDOW = 5, 10.0
TOKEN = "bench-token"  # noqa: S105 - the sandbox's, not a secret


@dataclass
class Run:
    mode: str
    n: int
    succeeded: int = 0
    failed: int = 0
    deferrals: int = 0
    slot_seconds: float = 0.0
    sleep_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **amounts: float) -> None:
        with self.lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)


class StateStore(dict[str, Any]):
    """Airflow 3.3's task state store, as the operator uses it (the task id, the in-flight submit mark)."""

    def set(self, key: str, value: Any) -> None:
        self[key] = value

    def delete(self, key: str) -> None:
        self.pop(key, None)


class TaskInstance:
    stats_tags: dict[str, str] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        pass


def make_operator(mode: str, index: int) -> Any:
    from airflow_provider_videotask.operators.hailuo import HailuoVideoOperator

    return HailuoVideoOperator(
        task_id=f"generate_{index}",
        hailuo_conn_id="bench_fan_out",
        prompt=f"clip {index}",
        wait_for_completion=False,
        deferrable=mode == "deferrable",
        submit_timeout=0 if mode == "before" else 3600,
    )


def run_mode(mode: str, n: int, retry_after: bool) -> dict[str, Any]:
    from airflow.providers.common.compat.sdk import TaskDeferred

    from airflow_provider_videotask.hooks import pacing
    from airflow_provider_videotask.operators import base as operator_base
    from airflow_provider_videotask.sandbox import Sandbox, SubmitLimit

    pacing._GATES.clear()
    run = Run(mode, n)

    def sleep(seconds: float) -> None:  # the operator's wait between refused submits, counted
        run.add(sleep_seconds=seconds)
        time.sleep(seconds)

    operator_base._sleep = sleep
    limit = SubmitLimit(per_window=PER_WINDOW, window=WINDOW, retry_after=retry_after)
    timers: list[tuple[float, int, dict[str, Any]]] = []  # (due, index, resume kwargs)
    timers_lock = threading.Condition()
    pending = threading.Semaphore(0)

    with Sandbox(duration=0, token=TOKEN, limits={("hailuo", "*"): limit}) as sandbox:
        os.environ["AIRFLOW_CONN_BENCH_FAN_OUT"] = json.dumps(
            {"conn_type": "hailuo", "host": sandbox.url, "password": TOKEN}
        )

        def work(index: int, resume: dict[str, Any] | None) -> None:
            started = time.monotonic()
            context = {"ti": TaskInstance(), "task_state_store": StateStore()}
            try:
                operator = make_operator(mode, index)
                if resume is None:
                    operator.execute(context)
                else:
                    operator.resume_submit(context, None, **resume)
                run.add(succeeded=1)
                pending.release()
            except TaskDeferred as deferred:
                run.add(deferrals=1)
                with timers_lock:
                    heapq.heappush(timers, (deferred.trigger.moment.timestamp(), index, deferred.kwargs or {}))
                    timers_lock.notify()
            except Exception as error:
                run.add(failed=1)
                if run.failed == 1:  # a failure is a figure too: say what the first one was
                    print(f"{mode} N={n}: first failure: {type(error).__name__}: {error}"[:300], file=sys.stderr)
                pending.release()
            finally:
                run.add(slot_seconds=time.monotonic() - started)

        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=n) as workers:
            for index in range(n):
                workers.submit(work, index, None)
            done = 0

            def triggerer() -> None:  # fires each timer at its moment and hands the task to a worker
                while True:
                    with timers_lock:
                        while not timers:
                            if not timers_lock.wait(timeout=0.5) and stop.is_set():
                                return
                        due, index, kwargs = timers[0]
                        if due > time.time():
                            timers_lock.wait(timeout=due - time.time())
                            continue
                        heapq.heappop(timers)
                    workers.submit(work, index, kwargs)

            stop = threading.Event()
            thread = threading.Thread(target=triggerer, daemon=True)
            thread.start()
            while done < n:
                pending.acquire()
                done += 1
            stop.set()
        wall = time.monotonic() - began
        accepted = Counter(task.request["prompt"] for task in sandbox.state.tasks.values())
        counts = sandbox.counts()
    return {
        "mode": mode,
        "n": n,
        "retry_after": retry_after,
        "succeeded": run.succeeded,
        "failed": run.failed,
        "accepted": counts["submits_accepted"],
        "refused": counts["submits_refused"],
        "duplicates": sum(times - 1 for times in accepted.values()),
        "wall_s": round(wall, 1),
        "limit_s": n / (PER_WINDOW / WINDOW),
        "slot_s": round(run.slot_seconds, 1),
        "sleep_s": round(run.sleep_seconds, 1),
        "deferrals": run.deferrals,
    }


def quiet() -> None:
    """One log line per refused submit, times N: the table is this script's output."""
    import airflow.sdk  # noqa: F401 - Airflow configures its logging on import; override it after
    import structlog

    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="20,100", help="comma-separated N (default: %(default)s)")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated, of: " + ", ".join(MODES))
    parser.add_argument("--no-retry-after", action="store_true", help="refuse without a Retry-After header")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "fan_out.json")
    args = parser.parse_args()
    quiet()
    rows = []
    header = (
        f"{'mode':<11} {'N':>4} {'ok':>4} {'failed':>6} {'accepted':>8} {'refused':>7} {'dupes':>5} "
        f"{'wall s':>7} {'N/rate s':>8} {'wall/limit':>10} {'slot s':>7} {'asleep s':>8} {'deferrals':>9}"
    )
    print(f"limit: {PER_WINDOW} submits per {WINDOW:g} s, Retry-After {'off' if args.no_retry_after else 'on'}")
    print(header)
    for n in (int(size) for size in args.sizes.split(",")):
        for mode in args.modes.split(","):
            row = run_mode(mode.strip(), n, retry_after=not args.no_retry_after)
            rows.append(row)
            print(
                f"{row['mode']:<11} {n:>4} {row['succeeded']:>4} {row['failed']:>6} {row['accepted']:>8} "
                f"{row['refused']:>7} {row['duplicates']:>5} {row['wall_s']:>7} {row['limit_s']:>8.0f} "
                f"{row['wall_s'] / row['limit_s']:>10.2f} {row['slot_s']:>7} {row['sleep_s']:>8} "
                f"{row['deferrals']:>9}",
                flush=True,
            )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

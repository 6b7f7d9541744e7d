"""One task instance for thousands of videos, on the real stack: fast, paid once, safe when its worker dies."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from typing import Any

import pytest

from airflow_provider_videotask.sandbox import Sandbox, SubmitLimit
from tests.dags.stack_dags import BATCH_PROMPTS, KILLED_BATCH_PROMPTS
from tests.stack.conftest import FIGURES, Stack
from tests.stack.test_stack import _process_titled, task_logs


def xcom(stack: Stack, run_id: str, key: str) -> Any:
    [(raw,)] = stack.query(
        "select value from xcom where run_id = %s and task_id = 'generate' and key = %s", run_id, key
    )
    return raw if not isinstance(raw, str) else json.loads(raw)


def prompts_sent(sandbox: Sandbox) -> Counter[str]:
    """Each prompt, by how many tasks the vendor made of it."""
    with sandbox.state.lock:
        return Counter(str(task.request.get("prompt")) for task in sandbox.state.tasks.values())


def test_one_task_makes_two_thousand_videos_within_two_minutes(components: Stack, sandbox: Sandbox) -> None:
    stack = components
    started = time.time()
    run_id = stack.trigger("stack_batch")
    assert stack.wait_for_run("stack_batch", run_id, timeout=300) == "success"
    wall = time.time() - started
    urls = xcom(stack, run_id, "return_value")
    ids = xcom(stack, run_id, "video_task_ids")
    FIGURES[f"batch of {BATCH_PROMPTS}: seconds from trigger to success (videos take 10 s)"] = round(wall, 1)
    FIGURES[f"batch of {BATCH_PROMPTS}: vendor reads of ids per video"] = round(
        sandbox.counts()["ids_queried"] / BATCH_PROMPTS, 2
    )
    assert sandbox.counts()["hailuo_submit"] == BATCH_PROMPTS  # exactly one submit per prompt
    assert len(urls) == len(ids) == BATCH_PROMPTS
    assert all(len(each) == 1 for each in urls)
    # In the order of the prompts: the n-th id is the task the vendor made of the n-th prompt.
    assert [sandbox.task(task_id).request["prompt"] for task_id in ids] == [
        f"clip {n} [duration=10]" for n in range(BATCH_PROMPTS)
    ]
    [(tries,)] = stack.query("select try_number from task_instance where run_id = %s", run_id)
    assert tries == 1
    assert wall < 120


def test_a_worker_killed_mid_batch_sends_no_prompt_twice(components: Stack, sandbox: Sandbox) -> None:
    stack = components
    sandbox.add_fault("slow", count=-1, only="submits", delay=0.5)  # each answer takes half a second
    run_id = stack.trigger("stack_batch_killed")
    stack.wait_for("a third of the batch submitted", lambda: sandbox.counts()["hailuo_submit"] >= 35, timeout=120)
    [(ti_id,)] = stack.query("select id from task_instance where run_id = %s and task_id = 'generate'", run_id)
    pid = stack.wait_for("the task's process", lambda: _process_titled(f"airflow worker -- {ti_id}"), timeout=30)
    os.kill(pid, signal.SIGKILL)
    submitted_before = sandbox.counts()["hailuo_submit"]
    state = stack.finish_after_a_kill("stack_batch_killed", run_id)
    sent = prompts_sent(sandbox)
    retry_log = "".join(text for path, text in task_logs(stack, "stack_batch_killed", run_id).items() if "=2" in path)
    FIGURES["killed mid-batch: submits before the kill, in all, run"] = (
        f"{submitted_before}, {sandbox.counts()['hailuo_submit']}, {state}"
    )
    assert state == "success"
    assert max(sent.values()) == 1  # no prompt twice
    assert set(sent) == {f"clip {n} [duration=2]" for n in range(KILLED_BATCH_PROMPTS)}  # every prompt sent
    assert "Reattached to" in retry_log
    urls = xcom(stack, run_id, "return_value")
    lost = [n for n, each in enumerate(urls) if not each]  # the wave in flight at the kill: of unknown fate
    assert len(lost) <= 5
    reasons = [record["reason"] for record in xcom(stack, run_id, "videos") if record["index"] in lost]
    assert all("fate is unknown" in reason for reason in reasons)


CALLED_BACK_BATCH = 300


def test_a_called_back_batch_reads_each_video_about_once(stack: Stack, sandbox: Sandbox) -> None:
    """Each callback reads only the video it names; the last one resumes the task, seconds after the vendor's
    last end; the wait's notes are gone with it. The first videos end while the batch is still submitting
    (each submit's answer takes 0.2 s): their callbacks are held, and read together once the task defers.
    The connection's own reads come every 120 s: never here."""
    asked = [f"called back {n} [duration={1 if n < 20 else 20}]" for n in range(CALLED_BACK_BATCH)]
    sandbox.add_fault("slow", count=-1, only="submits", delay=0.2)
    run_id = stack.trigger("stack_batch_callbacks", {"prompts": asked})
    assert stack.wait_for_run("stack_batch_callbacks", run_id, timeout=600) == "success", stack.logs()
    [(ended,)] = stack.query(
        "select extract(epoch from end_date) from task_instance where run_id = %s and task_id = 'generate'", run_id
    )
    counts = sandbox.counts()
    assert counts["hailuo_submit"] == CALLED_BACK_BATCH
    assert counts["callbacks_delivered"] == CALLED_BACK_BATCH
    reads_per_video = counts["ids_queried"] / CALLED_BACK_BATCH
    assert reads_per_video <= 1.1, counts
    urls = xcom(stack, run_id, "return_value")
    assert len(urls) == CALLED_BACK_BATCH
    assert all(len(each) == 1 for each in urls)
    ids = xcom(stack, run_id, "video_task_ids")
    assert [sandbox.task(task_id).request["prompt"] for task_id in ids] == asked
    assert stack.query("select count(*) from xcom where run_id = %s and key like 'videotask_over.%%'", run_id) == [(0,)]
    log = (stack.home / "api-server.log").read_text(errors="replace")
    outcomes = Counter(
        outcome
        for line in log.splitlines()
        if f"/{run_id}/generate[" in line
        for outcome in ("accepted", "noted", "held", "ignored")
        if f": {outcome} (" in line
    )
    assert outcomes["accepted"] == 1, outcomes
    assert outcomes["held"] >= 1, outcomes  # the first videos' callbacks came before the deferral
    assert "that came before it deferred: noted (" in log
    last_vendor_end = max(sandbox.state.finished_at(sandbox.task(task_id)) for task_id in ids)
    delay = float(ended) - last_vendor_end
    assert delay < 30, delay  # the fallback read would come 120 s after the deferral
    FIGURES[f"called-back batch of {CALLED_BACK_BATCH}: vendor reads of ids per video"] = round(reads_per_video, 2)
    FIGURES[f"called-back batch of {CALLED_BACK_BATCH}: seconds from the vendor's last end to task end"] = round(
        delay, 1
    )
    FIGURES[f"called-back batch of {CALLED_BACK_BATCH}: callbacks accepted / noted / held / ignored"] = (
        f"{outcomes['accepted']} / {outcomes['noted']} / {outcomes['held']} / {outcomes['ignored']}"
    )


PACED_BATCH = 500


class SlotTime:
    """Watches a task instance in the database (every 0.1 s): how long it held a worker slot (running) in all,
    and how many times it started running."""

    def __init__(self, stack: Stack, run_id: str) -> None:
        self.stack, self.run_id = stack, run_id
        self.seconds, self.starts = 0.0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        running_since: float | None = None
        while not self._stop.wait(0.1):
            rows = self.stack.query("select state from task_instance where run_id = %s", self.run_id)
            now = time.time()
            if rows and rows[0][0] == "running":
                if running_since is None:
                    running_since, self.starts = now, self.starts + 1
            elif running_since is not None:
                self.seconds += now - running_since
                running_since = None

    def __enter__(self) -> SlotTime:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.mark.once  # five minutes of the vendor's windows; the path is the same on every Airflow
def test_a_rate_limited_batch_waits_for_the_vendor_in_the_triggerer(stack: Stack, sandbox: Sandbox) -> None:
    """500 prompts at HiDream's 10 submits a window (the window shortened from 60 s to 6 s): the batch goes
    out window by window, and between windows the task waits in the triggerer, not in a worker."""
    limit = ("hidream", "txt2video")
    before = sandbox.state.limits.get(limit)
    sandbox.state.limits[limit] = SubmitLimit(10, 6.0)
    try:
        asked = [f"paced {n} [duration=1]" for n in range(PACED_BATCH)]
        run_id = stack.trigger("stack_batch_paced", {"prompts": asked})
        with SlotTime(stack, run_id) as slot:
            assert stack.wait_for_run("stack_batch_paced", run_id, timeout=1200) == "success", stack.logs()
    finally:
        if before is None:
            sandbox.state.limits.pop(limit, None)
        else:
            sandbox.state.limits[limit] = before
    counts = sandbox.counts()
    assert counts["submits_accepted"] == PACED_BATCH
    assert prompts_sent(sandbox) == Counter(asked)  # each once
    FIGURES[f"rate-limited batch of {PACED_BATCH} (10 a window): seconds holding a worker slot"] = round(
        slot.seconds, 1
    )
    FIGURES[f"rate-limited batch of {PACED_BATCH} (10 a window): times it ran / refusals"] = (
        f"{slot.starts} / {counts['submits_refused']}"
    )
    assert slot.seconds < 60, (slot.seconds, slot.starts)

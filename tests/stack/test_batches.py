"""One task instance for thousands of videos, on the real stack: fast, paid once, safe when its worker dies."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from typing import Any

from airflow_provider_videotask.sandbox import Sandbox
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

"""The provider in the whole Airflow stack on PostgreSQL, and what happens when its processes die.

Each test has a bounded wait and says what it waited for. The figures (submits counted, time to resume,
batch reads per cycle) are printed at the end of the run ("stack test figures").
"""

from __future__ import annotations

import glob
import json
import math
import os
import signal
import time
from pathlib import Path

import pytest
import requests

from airflow_provider_videotask.ledger import VariableStore
from airflow_provider_videotask.sandbox import Sandbox
from tests.dags.stack_dags import PROMPTS, TASK_SECONDS
from tests.stack.conftest import FIGURES, Stack

POLL_INTERVAL = 2.0  # stack_fan_out's


def generate_states(stack: Stack, dag_id: str, run_id: str) -> list[tuple[str | None, int]]:
    return [(state, tries) for task_id, _, state, tries in stack.task_states(dag_id, run_id) if task_id == "generate"]


def deferred(stack: Stack, run_id: str) -> int:
    return sum(state == "deferred" for state, _ in generate_states(stack, "stack_fan_out", run_id))


def task_logs(stack: Stack, dag_id: str, run_id: str, task_id: str = "generate") -> dict[str, str]:
    """Each try's task log (the trigger's lines included), by its path under the run's folder."""
    folder = stack.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    return {
        str(Path(path).relative_to(folder)): Path(path).read_text(errors="replace")
        for path in sorted(glob.glob(f"{folder}/**/attempt=*.log", recursive=True))
    }


def assert_fan_out_paid_once_each(stack: Stack, sandbox: Sandbox, run_id: str) -> None:
    states = stack.task_states("stack_fan_out", run_id)
    generated = [(state, tries) for task_id, _, state, tries in states if task_id == "generate"]
    assert generated == [("success", 1)] * PROMPTS
    assert ("collect", -1, "success", 1) in states
    prompts = sorted(task.request["prompt"] for task in sandbox.state.tasks.values())
    assert prompts == sorted(f"clip {n} [duration={TASK_SECONDS}]" for n in range(PROMPTS))  # each paid once
    assert sandbox.counts()["hailuo_submit"] == PROMPTS


def test_sensor_defers_to_the_real_triggerer_and_resumes(stack: Stack, sandbox: Sandbox) -> None:
    run_id = stack.trigger("e2e_video_sensor", {"duration": 20})
    seen: set[str] = set()

    def finished() -> str | None:
        seen.update(state for _, _, state, _ in stack.task_states("e2e_video_sensor", run_id) if state)
        state = stack.run_state("e2e_video_sensor", run_id)
        return state if state in ("success", "failed") else None

    assert stack.wait_for("the run to finish", finished, timeout=180) == "success"
    assert "deferred" in seen
    states = {task_id: state for task_id, _, state, _ in stack.task_states("e2e_video_sensor", run_id)}
    assert states == {"submit": "success", "wait": "success", "use_videos": "success"}
    [(raw,)] = stack.query(
        "select value from xcom where run_id = %s and task_id = 'use_videos' and key = 'return_value'", run_id
    )
    received = raw if isinstance(raw, dict) else json.loads(raw)
    assert received["count"] == 3
    assert all(url.startswith(f"{sandbox.url}/_sandbox/videos/") for url in received["urls"])
    counts = sandbox.counts()
    assert counts["hidream_submit"] == 3
    assert counts["ids_queried"] == 3 * counts["hidream_batch"]  # batches, not one request per task


def test_a_killed_triggerer_loses_none_of_twenty_waits(components: Stack, sandbox: Sandbox) -> None:
    stack = components
    run_id = stack.trigger("stack_fan_out")
    stack.wait_for("20 deferred waits", lambda: deferred(stack, run_id) == PROMPTS, timeout=120)

    def running_in_the_triggerer() -> set[int] | None:
        rows = stack.query(
            "select t.triggerer_id from task_instance ti join trigger t on t.id = ti.trigger_id where ti.run_id = %s",
            run_id,
        )
        return {job for (job,) in rows} if len(rows) == PROMPTS and all(job for (job,) in rows) else None

    [killed_job] = stack.wait_for("every wait in the triggerer", running_in_the_triggerer, timeout=60)
    killed_at = time.time()
    stack.kill("triggerer")  # kill -9, its trigger runner too
    stack.start("triggerer")

    def taken_over() -> bool:
        rows = stack.query(
            "select t.triggerer_id from task_instance ti join trigger t on t.id = ti.trigger_id "
            "where ti.run_id = %s and t.triggerer_id is not null and t.triggerer_id <> %s",
            run_id,
            killed_job,
        )
        return len(rows) == PROMPTS

    stack.wait_for("the new triggerer to take the waits over", taken_over, timeout=120)
    resumed_after = time.time() - killed_at
    assert stack.wait_for_run("stack_fan_out", run_id) == "success", stack.logs()
    assert_fan_out_paid_once_each(stack, sandbox, run_id)
    FIGURES["killed triggerer: seconds from kill -9 to every wait running again"] = round(resumed_after, 1)
    FIGURES["killed triggerer: submits counted / prompts"] = f"{sandbox.counts()['hailuo_submit']} / {PROMPTS}"


def test_two_triggerers_fire_each_trigger_once_and_do_not_double_the_reads(components: Stack, sandbox: Sandbox) -> None:
    stack = components
    stack.kill("triggerer", signal.SIGTERM)
    half = {"AIRFLOW__TRIGGERER__CAPACITY": str(PROMPTS // 2)}  # so that each runs half the waits
    stack.start("triggerer", env=half)
    stack.start("triggerer", name="triggerer-2", env=half)
    logs_from = {name: _size(stack.home / f"{name}.log") for name in ("triggerer", "triggerer-2")}
    run_id = stack.trigger("stack_fan_out")
    stack.wait_for("20 deferred waits", lambda: deferred(stack, run_id) == PROMPTS, timeout=120)
    steady_from = time.time() + 2 * POLL_INTERVAL  # past the newcomers' first reads
    assert stack.wait_for_run("stack_fan_out", run_id) == "success", stack.logs()
    assert_fan_out_paid_once_each(stack, sandbox, run_id)

    # Each trigger ran in one triggerer and fired once, and each task resumed once. Airflow writes a
    # trigger's lines beside the task log, one file per triggerer that ran it: attempt=1.log.trigger.<job>.log.
    # (The trigger's own last line, logged as it fires, does not always reach its log file: the triggerer
    # may close that file first. That it fired once shows in the task: resumed once, on try 1.)
    logs = task_logs(stack, "stack_fan_out", run_id)
    ran_on: set[str] = set()
    for map_index in range(PROMPTS):
        own = {path: text for path, text in logs.items() if path.startswith(f"map_index={map_index}/")}
        triggers = {path: text for path, text in own.items() if ".trigger." in path}
        assert len(triggers) == 1, sorted(own)  # never moved, never run twice
        [(trigger_path, trigger_log)] = triggers.items()
        assert trigger_log.count("Video tasks success:") <= 1, trigger_path
        assert own[f"map_index={map_index}/attempt=1.log"].count("How the videos ended") == 1
        ran_on.add(trigger_path.rsplit(".trigger.", 1)[1])
    assert len(ran_on) == 2, ran_on  # both triggerers served waits
    for name, offset in logs_from.items():  # and each one's shared poller logged its cycles
        assert "Hailuo poller, connection 'stack_hailuo'" in _read_from(stack.home / f"{name}.log", offset), name

    # Two processes need two batch reads per cycle (10 ids each); doubled reads would ask for each id twice.
    steady = [read for read in sandbox.state.batches if read.at >= steady_from]
    assert steady, "no batch read after the waits settled"
    span = steady[-1].at - steady[0].at
    cycles = max(1, math.floor(span / POLL_INTERVAL) + 1)
    per_id: dict[str, int] = {}
    for read in steady:
        for task_id in read.ids:
            per_id[task_id] = per_id.get(task_id, 0) + 1
    assert max(per_id.values()) <= cycles + 1, (per_id, cycles)
    assert len(steady) <= 2 * (cycles + 1), (len(steady), cycles)
    FIGURES["two triggerers: batch reads per cycle (steady)"] = round(len(steady) / cycles, 2)
    FIGURES["two triggerers: reads of one id per cycle (most)"] = round(max(per_id.values()) / cycles, 2)


@pytest.mark.parametrize("moment", ["while_it_waits", "while_the_submit_answer_is_held"])
def test_a_worker_killed_after_the_submit_does_not_pay_twice(moment: str, components: Stack, sandbox: Sandbox) -> None:
    stack = components
    held = moment == "while_the_submit_answer_is_held"
    if held:
        sandbox.add_fault("slow", count=1, only="submits", delay=20)  # the vendor took it; its answer is late
    run_id = stack.trigger("stack_submit_once")

    def submitted() -> bool:
        if held:
            return sandbox.counts()["faults_served"] == 1  # the submit arrived and its answer is being held
        return '"id"' in _ledger(stack, run_id)  # the vendor's task id is in the ledger

    stack.wait_for("the submit to reach the vendor", submitted, timeout=120)
    [(ti_id,)] = stack.query("select id from task_instance where run_id = %s and task_id = 'generate'", run_id)
    pid = stack.wait_for("the task's process", lambda: _process_titled(f"airflow worker -- {ti_id}"), timeout=30)
    os.kill(pid, signal.SIGKILL)
    killed_at = time.time()
    state = stack.finish_after_a_kill("stack_submit_once", run_id)
    stack.wait_for("the held submit to be created", lambda: sandbox.counts()["tasks_created"] >= 1, timeout=30)
    [(_, _, ti_state, tries)] = stack.task_states("stack_submit_once", run_id)
    retry_log = "".join(text for path, text in task_logs(stack, "stack_submit_once", run_id).items() if "=2" in path)
    submits = sandbox.counts()["hailuo_submit"]
    FIGURES[f"killed worker {moment}: submits counted, tries, run"] = f"{submits}, {tries}, {state}"
    FIGURES[f"killed worker {moment}: seconds from the kill to the run's end"] = round(time.time() - killed_at, 1)
    assert tries == 2  # the kill failed the first try, the retry (or on Airflow 3.0 a clear) ran
    if held:
        # The id never arrived: the retry may not know the task, so it refuses to send again.
        assert (state, ti_state, submits) == ("failed", "failed", 1)
        assert "fate is unknown" in retry_log
        assert "the try that sent it was stopped before the answer came" in retry_log
    else:
        assert (state, ti_state, submits) == ("success", "success", 1)
        assert "Reattached to 1 video task(s) an earlier try paid for" in retry_log


def test_a_scheduler_restarted_mid_run_loses_nothing(components: Stack, sandbox: Sandbox) -> None:
    stack = components
    run_id = stack.trigger("stack_fan_out")
    stack.wait_for("20 deferred waits", lambda: deferred(stack, run_id) == PROMPTS, timeout=120)
    stack.kill("scheduler")  # kill -9, with its executor
    restarted_at = time.time()
    stack.start("scheduler")
    assert stack.wait_for_run("stack_fan_out", run_id) == "success", stack.logs()
    assert_fan_out_paid_once_each(stack, sandbox, run_id)
    FIGURES["restarted scheduler: seconds from restart to the run's success"] = round(time.time() - restarted_at, 1)


def _ledger(stack: Stack, run_id: str) -> str:
    """The task's ledger as its store holds it: the task state store (3.3+), else a Variable (read over REST,
    as a person would: the database may keep it encrypted)."""
    if stack.query("select to_regclass('task_state_store') is not null")[0][0]:
        rows = stack.query("select value::text from task_state_store where run_id = %s", run_id)
        return " ".join(str(value) for (value,) in rows)
    key = f"{VariableStore('stack_submit_once', run_id, 'generate', -1).prefix}.0"
    answer = requests.get(f"{stack.api_url}/api/v2/variables/{key}", headers=stack.auth_headers(), timeout=30)
    return str(answer.json().get("value")) if answer.status_code == 200 else ""


def _process_titled(title: str) -> int | None:
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            text = Path(cmdline).read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text.startswith(title):
            return int(cmdline.split("/")[2])
    return None


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _read_from(path: Path, offset: int) -> str:
    with path.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def test_a_normal_deferred_run_logs_no_warning_or_error(components: Stack, sandbox: Sandbox) -> None:
    stack = components
    offsets = {name: _size(stack.home / f"{name}.log") for name in ("scheduler", "triggerer")}
    run_id = stack.trigger("stack_clean_logs")
    assert stack.wait_for_run("stack_clean_logs", run_id) == "success"
    task_lines = [line for text in task_logs(stack, "stack_clean_logs", run_id).values() for line in text.splitlines()]
    assert any("Video tasks success" in line or "videos succeeded" in line for line in task_lines)
    component_lines = [
        line
        for name, offset in offsets.items()
        for line in _read_from(stack.home / f"{name}.log", offset).splitlines()
        if "stack_clean_logs" in line or run_id in line or "videotask_ledger" in line  # the ledger's Variables
    ]
    loud = [line for line in task_lines + component_lines if _level(line) in ("warning", "error", "critical")]
    assert loud == [], "\n".join(loud)


def _level(line: str) -> str | None:
    """A log line's level: Airflow's task logs are JSON lines, its components' structlog text."""
    try:
        document = json.loads(line)
    except ValueError:
        document = None
    if isinstance(document, dict):
        return str(document.get("level", "")).lower() or None
    for level in ("warning", "error", "critical"):
        if f"[{level}" in line.lower() or f" {level.upper()} " in line:
            return level
    return None

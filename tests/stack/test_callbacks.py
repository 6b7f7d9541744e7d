"""Vendor callbacks in the whole stack: the sandbox calls the real api-server's receiver (the provider's
plugin app), which resumes the tasks deferred in PostgreSQL; polling stays as the net.

Delays are measured against the sandbox's own clock of when each vendor task ended; the figures are
printed at the end of the run ("stack test figures").
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from airflow_provider_videotask.callbacks.address import WaitAddress, callback_url
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.sandbox.callbacks import LIE_VIDEO
from tests.dags.stack_dags import CALLBACK_TASK_SECONDS
from tests.stack.conftest import CALLBACK_SECRET, FIGURES, Stack, free_port
from tests.stack.test_stack import task_logs

DAG_ID = "stack_callbacks"
BILLING_WARNING = "keep running at"  # what on_kill says when a person stopped a wait


def jobs(*groups: tuple[str, list[str]]) -> dict[str, Any]:
    return {"jobs": [{"conn": conn_id, "prompt": prompt} for conn_id, prompts in groups for prompt in prompts]}


def prompts(name: str, count: int, fault: str = "") -> list[str]:
    return [f"{name} {n} [duration={CALLBACK_TASK_SECONDS}]{fault}" for n in range(count)]


class Resumes:
    """Watches the run's mapped tasks in the database (every 0.2 s) and notes when each left ``deferred``."""

    def __init__(self, stack: Stack, run_id: str) -> None:
        self.stack, self.run_id = stack, run_id
        self.deferred: set[int] = set()
        self.resumed: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            rows = self.stack.query(
                "select map_index, state from task_instance where run_id = %s and task_id = 'generate'", self.run_id
            )
            now = time.time()
            for map_index, state in rows:
                if state == "deferred":
                    self.deferred.add(map_index)
                elif map_index in self.deferred and map_index not in self.resumed:
                    self.resumed[map_index] = now

    @contextmanager
    def running(self) -> Iterator[Resumes]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=10)


def vendor_ends(sandbox: Sandbox, all_prompts: list[str]) -> dict[int, float]:
    """When each map index's vendor task ended (wall clock), by its prompt."""
    by_prompt = {task.request["prompt"]: sandbox.state.finished_at(task) for task in sandbox.state.tasks.values()}
    return {map_index: by_prompt[prompt] for map_index, prompt in enumerate(all_prompts)}


def task_ends(stack: Stack, run_id: str) -> dict[int, float]:
    rows = stack.query(
        "select map_index, extract(epoch from end_date) from task_instance where run_id = %s and task_id = 'generate'",
        run_id,
    )
    return {map_index: float(end) for map_index, end in rows}


def successes(stack: Stack, run_id: str) -> list[tuple[int, str | None, int]]:
    return [
        (m, state, tries) for task_id, m, state, tries in stack.task_states(DAG_ID, run_id) if task_id == "generate"
    ]


def receiver_lines(stack: Stack, name: str, run_id: str, outcome: str) -> int:
    log = (stack.home / f"{name}.log").read_text(errors="replace")
    return sum(1 for line in log.splitlines() if f"/{run_id}/generate[" in line and f": {outcome} (" in line)


def summary(delays: list[float]) -> str:
    return f"p50 {statistics.median(delays):.2f}, max {max(delays):.2f}"


def test_twenty_waits_are_woken_by_their_callbacks_within_seconds(stack: Stack, sandbox: Sandbox) -> None:
    asked = prompts("woken", 20)
    run_id = stack.trigger(DAG_ID, jobs(("stack_callbacks", asked)))
    with Resumes(stack, run_id).running() as watch:
        assert stack.wait_for_run(DAG_ID, run_id) == "success", stack.logs()
    assert successes(stack, run_id) == [(m, "success", 1) for m in range(20)]
    ended = vendor_ends(sandbox, asked)
    resume_delays = [watch.resumed[m] - ended[m] for m in range(20)]
    end_delays = [end - ended[m] for m, end in task_ends(stack, run_id).items()]
    assert max(resume_delays) <= 2.0, resume_delays
    assert max(end_delays) <= 15.0, end_delays
    counts = sandbox.counts()
    # Each wait read its task once, after its callback; the fallback (every 120 s) never came.
    assert counts["ids_queried"] <= 20, counts
    assert counts["callbacks_delivered"] == 20, counts
    assert receiver_lines(stack, "api-server", run_id, "accepted") == 20
    trigger_logs = "".join(text for path, text in task_logs(stack, DAG_ID, run_id).items() if ".trigger." in path)
    assert BILLING_WARNING not in trigger_logs  # resumed by a callback is not stopped by a person
    FIGURES["callbacks, 20 waits: seconds from vendor end to resume"] = summary(resume_delays)
    FIGURES["callbacks, 20 waits: seconds from vendor end to task end"] = summary(end_delays)
    FIGURES["callbacks, 20 waits: vendor reads of task ids per task"] = round(counts["ids_queried"] / 20, 2)


def test_lost_lying_duplicated_and_forged_callbacks(stack: Stack, sandbox: Sandbox) -> None:
    fine, lost, lie, twice = (
        prompts("fine", 3),
        prompts("lost", 5, "[callback=lost]"),
        prompts("lie", 1, "[callback=lie]"),
        prompts("twice", 1, "[callback=twice]"),
    )
    asked = fine + lost + lie + twice
    run_id = stack.trigger(DAG_ID, jobs(("stack_callbacks_fast", asked)))
    stack.wait_for("the waits to defer", lambda: any(s == "deferred" for _, s, _ in successes(stack, run_id)))

    # A forged URL (another secret) and a tampered one: 403, and nothing else happens.
    forged = callback_url(stack.api_url, WaitAddress("stack_callbacks_fast", DAG_ID, run_id, "generate", 0), "x" * 32)
    assert requests.post(forged, json={"task_id": "any", "state": "succeeded"}, timeout=10).status_code == 403
    address = WaitAddress("stack_callbacks_fast", DAG_ID, run_id, "generate", 0)
    url, _, signature = callback_url(stack.api_url, address, CALLBACK_SECRET).partition("?token=")
    tampered = f"{url}?token={'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    assert requests.post(tampered, json={}, timeout=10).status_code == 403

    with Resumes(stack, run_id).running() as watch:
        assert stack.wait_for_run(DAG_ID, run_id, timeout=300) == "success", stack.logs()
    assert successes(stack, run_id) == [(m, "success", 1) for m in range(len(asked))]  # each resumed once
    ended = vendor_ends(sandbox, asked)
    lost_indexes = range(len(fine), len(fine) + len(lost))
    lost_delays = [watch.resumed[m] - ended[m] for m in lost_indexes]
    called = [m for m in range(len(asked)) if m not in lost_indexes]
    called_delays = [watch.resumed[m] - ended[m] for m in called]
    assert max(called_delays) <= 2.0, called_delays
    # Found by the fallback read (every 25 s from the deferral), not by a callback.
    assert receiver_lines(stack, "api-server", run_id, "accepted") == len(called)
    assert min(lost_delays) > 2.0, lost_delays

    # The lie came while the task ran: the vendor said running, so nothing changed, and the real URL won.
    lie_index = len(fine) + len(lost)
    [(raw,)] = stack.query(
        "select value from xcom where run_id = %s and task_id = 'generate' and map_index = %s and key = 'return_value'",
        run_id,
        lie_index,
    )
    urls = raw if isinstance(raw, list) else json.loads(raw)
    assert urls
    assert all(url.startswith(f"{sandbox.url}/_sandbox/videos/") for url in urls), urls
    assert LIE_VIDEO not in str(urls)
    ignored = receiver_lines(stack, "api-server", run_id, "ignored")
    assert ignored >= 2  # the lie, and the duplicate of the "twice" callback
    FIGURES["callbacks lost: seconds from vendor end to resume (fallback read every 25 s)"] = summary(lost_delays)
    FIGURES["callbacks with faults: callbacks accepted / ignored"] = f"{len(called)} / {ignored}"


def test_two_api_servers_and_a_killed_triggerer(components: Stack, sandbox: Sandbox) -> None:
    stack = components
    spare = stack.spare_api_port or free_port()
    stack.start("api-server", "--port", str(spare), name="api-server-2", env={"AIRFLOW__API__PORT": str(spare)})
    stack.wait_for(
        "the second api-server",
        lambda: _answers(f"http://127.0.0.1:{spare}/api/v2/monitor/health"),
        timeout=120,
    )
    first, second = prompts("first", 5), prompts("second", 5)
    asked = first + second
    run_id = stack.trigger(DAG_ID, jobs(("stack_callbacks", first), ("stack_callbacks_2", second)))
    stack.wait_for(
        "10 deferred waits", lambda: sum(s == "deferred" for _, s, _ in successes(stack, run_id)) == 10, timeout=120
    )
    stack.kill("triggerer")  # kill -9: nothing polls now; only the callbacks can resume the tasks
    with Resumes(stack, run_id).running() as watch:
        assert stack.wait_for_run(DAG_ID, run_id) == "success", stack.logs()
    assert successes(stack, run_id) == [(m, "success", 1) for m in range(10)]
    ended = vendor_ends(sandbox, asked)
    delays = [watch.resumed[m] - ended[m] for m in range(10)]
    assert max(delays) <= 2.0, delays
    assert receiver_lines(stack, "api-server", run_id, "accepted") == 5
    assert receiver_lines(stack, "api-server-2", run_id, "accepted") == 5
    FIGURES["callbacks, two api-servers, triggerer killed: seconds from vendor end to resume"] = summary(delays)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_a_secret_rotated_while_five_tasks_wait_wakes_all_five(stack: Stack, sandbox: Sandbox) -> None:
    # Kept in the metadata database, as the UI keeps a connection, so it can change while the tasks wait.
    conn_id, new_secret = "stack_rotating", "rotated-secret-0123456789abcdef"
    extra = {"callback_base_url": stack.api_url, "callback_secret": CALLBACK_SECRET, "callback_fallback_interval": 120}
    connection = {"connection_id": conn_id, "conn_type": "hailuo", "host": sandbox.url, "password": "sandbox"}
    api = f"{stack.api_url}/api/v2/connections"
    answer = requests.post(
        api, json={**connection, "extra": json.dumps(extra)}, headers=stack.auth_headers(), timeout=30
    )
    assert answer.status_code in (200, 201), answer.text
    try:
        run_id = stack.trigger(DAG_ID, jobs((conn_id, prompts("rotated", 5))))
        stack.wait_for("5 deferred waits", lambda: sum(s == "deferred" for _, s, _ in successes(stack, run_id)) == 5)
        rotated = {**extra, "callback_secret": new_secret, "callback_previous_secrets": [CALLBACK_SECRET]}
        answer = requests.patch(
            f"{api}/{conn_id}",
            json={**connection, "extra": json.dumps(rotated)},
            headers=stack.auth_headers(),
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        started = time.time()
        assert stack.wait_for_run(DAG_ID, run_id) == "success", stack.logs()
        FIGURES["rotated secret: seconds from the rotation to the run's end (fallback 120 s)"] = round(
            time.time() - started, 1
        )
        assert successes(stack, run_id) == [(m, "success", 1) for m in range(5)]
        assert receiver_lines(stack, "api-server", run_id, "accepted") == 5  # each woken by its callback
        assert time.time() - started < 100  # well before the first fallback read
    finally:
        requests.delete(f"{api}/{conn_id}", headers=stack.auth_headers(), timeout=30)


def test_a_tasks_api_user_id_reaches_the_triggerer_and_the_receiver(stack: Stack, sandbox: Sandbox) -> None:
    run_id = stack.trigger("stack_hidream_user")
    assert stack.wait_for_run("stack_hidream_user", run_id) == "success", stack.logs()
    counts = sandbox.counts()
    assert counts["hidream_submit as u-1"] == 2
    assert counts["hidream_batch as u-1"] >= 2  # the triggerer's read of polled, the receiver's of called_back
    assert counts["hidream_batch as conn-user"] == 0  # never the connection's own value
    called_back = (stack.home / "api-server.log").read_text(errors="replace")
    assert (
        sum(1 for line in called_back.splitlines() if f"/{run_id}/called_back[" in line and ": accepted (" in line) == 1
    )

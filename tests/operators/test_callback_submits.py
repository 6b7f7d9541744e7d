"""What a submit asks of the vendor when callbacks are on (issue: push, not poll), through dag.test() against
the sandbox. The callbacks themselves go nowhere here (the base URL refuses connections): the waits end by
their fallback reads, which is what a lost callback looks like. The receiver is tested in tests/callbacks/
and, woken for real, in tests/stack/test_callbacks.py."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_videotask.callbacks.address import PATH, WaitAddress, read_address, verify
from airflow_provider_videotask.sandbox import Sandbox
from tests.conftest import LogCapture, set_connection
from tests.dag_runs import task_states

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("airflow_db")]

BASE = "http://127.0.0.1:9"  # the discard port: nothing listens
SECRET = "a-callback-secret-of-32-characters!"


@pytest.fixture
def callback_conns(sandbox_conns: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    extras = {"callback_base_url": BASE, "callback_secret": SECRET, "callback_fallback_interval": 1}
    for conn_id, conn_type in (("cb_hailuo", "hailuo"), ("cb_hidream", "hidream"), ("cb_ace", "acedatacloud")):
        set_connection(monkeypatch, conn_id, conn_type, sandbox_conns.url, **extras)
    return sandbox_conns


def sent(sandbox: Sandbox, prompt: str) -> dict[str, object]:
    [task] = [task for task in sandbox.state.tasks.values() if task.request.get("prompt") == prompt]
    return task.request


def address_of(url: object) -> tuple[WaitAddress | None, bool]:
    """The address a callback URL names, and whether its token verifies under the connection's secret."""
    parts = urlsplit(str(url))
    assert f"{parts.scheme}://{parts.netloc}" == BASE
    assert parts.path.startswith(PATH)
    name = parts.path[len(PATH) :]
    [token] = parse_qs(parts.query)["token"]
    return read_address(name), verify(name, token, SECRET)


def test_deferred_submits_carry_a_signed_url_naming_their_task(callback_conns: Sandbox, logs: LogCapture) -> None:
    from tests.dags.callback_dags import asked

    dag_run = asked.test()

    assert set(task_states(dag_run).values()) == {"success"}
    run_id = dag_run.run_id
    assert address_of(sent(callback_conns, "hailuo asks")["callback_url"]) == (
        WaitAddress("cb_hailuo", "callbacks_asked", run_id, "hailuo", -1),
        True,
    )
    for map_index in (0, 1):
        assert address_of(sent(callback_conns, f"mapped {map_index}")["callback_url"]) == (
            WaitAddress("cb_hailuo", "callbacks_asked", run_id, "mapped", map_index),
            True,
        )
    # HiDream takes it as notify_url (v2, the connection's default API version).
    assert address_of(sent(callback_conns, "hidream asks")["notify_url"]) == (
        WaitAddress("cb_hidream", "callbacks_asked", run_id, "hidream", -1),
        True,
    )
    assert sent(callback_conns, "own url")["callback_url"] == "https://mine.example/cb"  # the task's own wins
    assert "callback_url" not in sent(callback_conns, "callbacks off")  # callbacks=False
    assert "callback_url" not in sent(callback_conns, "in the worker")  # a wait in the worker is not woken
    # The credential never reaches a log; the base URL does, to say where the vendor calls. (Airflow 3.0's
    # in-process task runner logs, at DEBUG, its own request to mask a secret, "MaskSecret(value=...)": that
    # line is the masking itself, not a leak.)
    logged = "\n".join(line for line in logs.text.splitlines() if "MaskSecret(" not in line)
    for prompt in ("hailuo asks", "mapped 0", "mapped 1"):
        token = parse_qs(urlsplit(str(sent(callback_conns, prompt)["callback_url"])).query)["token"][0]
        assert token not in logged
    assert SECRET not in logged
    assert f"calls back at {BASE}/videotask/callbacks/..." in logs.text
    # The sandbox tried to call back, and could not reach the receiver: the fallback reads ended the waits.
    assert callback_conns.counts()["callbacks_delivered"] == 0


def test_callbacks_true_without_the_extras_fails_before_paying(sandbox_conns: Sandbox, logs: LogCapture) -> None:
    from tests.dags.callback_dags import required

    dag_run = required.test()

    assert task_states(dag_run) == {"required": "failed"}
    assert sandbox_conns.counts()["tasks_created"] == 0
    assert "set its extras callback_base_url and callback_secret" in logs.text


def test_a_bad_callback_secret_warns_and_polls(
    sandbox_conns: Sandbox, monkeypatch: pytest.MonkeyPatch, logs: LogCapture
) -> None:
    from tests.dags.callback_dags import asked

    for conn_id, conn_type in (("cb_hailuo", "hailuo"), ("cb_hidream", "hidream"), ("cb_ace", "acedatacloud")):
        set_connection(
            monkeypatch, conn_id, conn_type, sandbox_conns.url, callback_base_url=BASE, callback_secret="short"
        )
    dag_run = asked.partial_subset(task_ids=["hailuo"]).test() if hasattr(asked, "partial_subset") else asked.test()

    assert task_states(dag_run)["hailuo"] == "success"
    assert "callback_url" not in sent(sandbox_conns, "hailuo asks")
    assert "Callbacks are off for this task, it polls" in logs.text
    assert "'callback_secret' must be a random string of at least 16 characters" in logs.text

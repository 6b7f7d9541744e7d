"""The example DAGs import cleanly and run to success with dag.test() against the sandbox."""

from __future__ import annotations

import importlib.util
import threading
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import airflow
import pytest

from airflow_provider_videotask.hooks.hidream import HiDreamHook
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.sandbox.server import CLIP
from tests.dag_runs import parse_dags_folder, task_states, try_numbers, xcoms
from tests.dags import retry_dags

pytestmark = pytest.mark.slow

EXAMPLES = sorted((Path(__file__).parent.parent / "example_dags").glob("example_*.py"))
EXAMPLE = {path.stem: path for path in EXAMPLES}
AIRFLOW_VERSION = tuple(int(part) for part in airflow.__version__.split(".")[:2])
HITL = AIRFLOW_VERSION >= (3, 1)
NEEDS_HITL = pytest.mark.skipif(not HITL, reason=f"human-in-the-loop needs Airflow 3.1+, this is {airflow.__version__}")


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fast_examples(monkeypatch: pytest.MonkeyPatch, sandbox_conns: Sandbox) -> Sandbox:
    """Examples poll the sandbox every 0.2 s; their tasks take 1 s."""
    monkeypatch.setenv("VIDEOTASK_EXAMPLE_POLL_SECONDS", "0.2")
    sandbox_conns.state.duration = 1
    return sandbox_conns


def test_there_are_six_examples() -> None:
    assert [path.stem for path in EXAMPLES] == [
        "example_approve_spend",
        "example_compare_services",
        "example_hailuo_mapped",
        "example_hidream_txt2video",
        "example_keep_videos",
        "example_watch_existing_tasks",
    ]


@pytest.mark.parametrize(
    "path",
    [pytest.param(path, marks=NEEDS_HITL if path.stem == "example_approve_spend" else ()) for path in EXAMPLES],
    ids=lambda path: path.stem,
)
def test_example_imports_without_errors_or_deprecation_warnings(path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = load(path)
    ours = [w for w in caught if "airflow_provider_videotask" in w.filename or "example_dags" in w.filename]
    assert ours == [], [str(w.message) for w in ours]
    dag = module.dag
    assert dag.dag_id == path.stem
    assert module.__doc__
    assert len(module.__doc__.strip()) > 100  # says what it shows
    assert "example" in dag.tags


@pytest.mark.usefixtures("airflow_db")
def test_hidream_txt2video_example_runs(fast_examples: Sandbox) -> None:
    dag_run = load(EXAMPLE["example_hidream_txt2video"]).dag.test()
    assert task_states(dag_run) == {"generate": "success", "publish": "success"}
    urls = xcoms(dag_run, "generate")["return_value"]
    assert len(urls) == 1
    assert xcoms(dag_run, "publish")["return_value"] == urls
    assert fast_examples.counts()["hidream_submit"] == 1


@pytest.mark.usefixtures("airflow_db")
def test_hailuo_mapped_example_runs_one_paid_task_per_prompt(fast_examples: Sandbox) -> None:
    module = load(EXAMPLE["example_hailuo_mapped"])
    dag_run = module.dag.test()
    assert task_states(dag_run) == {"generate": "success", "collect": "success"}
    collected = xcoms(dag_run, "collect")["return_value"]
    assert len(collected) == len(module.PROMPTS)
    assert fast_examples.counts()["hailuo_submit"] == len(module.PROMPTS)
    prompts = [task.request["prompt"] for task in fast_examples.state.tasks.values()]
    assert sorted(prompts) == sorted(module.PROMPTS)
    # It shows the Airflow way to stay within an account's concurrency.
    generate = module.dag.get_task("generate")
    assert (generate.pool, generate.max_active_tis_per_dag) == (module.POOL, 10)


@pytest.mark.usefixtures("airflow_db")
def test_compare_services_example_runs_one_task_per_service(fast_examples: Sandbox) -> None:
    module = load(EXAMPLE["example_compare_services"])
    dag_run = module.dag.test()
    assert task_states(dag_run) == {"generate": "success", "compare": "success"}
    compared = xcoms(dag_run, "compare")["return_value"]
    assert list(compared) == module.SERVICES
    counts = fast_examples.counts()
    for service in module.SERVICES:
        [url] = compared[service]
        assert url.startswith(f"{fast_examples.url}/_sandbox/videos/"), service
        assert counts[f"{service}_submit"] == 1, service
    prompts = {task.vendor: task.request["prompt"] for task in fast_examples.state.tasks.values()}
    assert prompts == dict.fromkeys(module.SERVICES, module.PROMPT)  # the same prompt everywhere


@pytest.mark.usefixtures("airflow_db")
def test_watch_existing_tasks_example_runs(fast_examples: Sandbox) -> None:
    hook = HiDreamHook()
    task_ids = [hook.submit("txt2video", prompt=prompt) for prompt in ("one", "two [videos=2]")]
    dag_run = load(EXAMPLE["example_watch_existing_tasks"]).dag.test(run_conf={"video_task_ids": task_ids})
    assert task_states(dag_run) == {"wait_for_videos": "success", "report": "success"}
    assert xcoms(dag_run, "report")["return_value"] == 3
    assert [task["task_id"] for task in xcoms(dag_run, "wait_for_videos")["tasks"]] == task_ids


@pytest.mark.usefixtures("airflow_db")
def test_keep_videos_example_stores_them_and_the_consumer_dag_reads_them(
    fast_examples: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDEOTASK_EXAMPLE_OUTPUT", tmp_path.as_uri() + "/")
    module = load(EXAMPLE["example_keep_videos"])
    assert list(module.consumer.timetable.asset_condition.objects) == [module.VIDEOS]  # scheduled on the videos
    parse_dags_folder()  # the copy in the DAGs folder reads the same output path from the environment

    dag_run = module.dag.test()
    assert task_states(dag_run) == {"generate": "success"}
    [stored] = xcoms(dag_run, "generate")["return_value"]
    [task_id] = xcoms(dag_run, "generate")["video_task_ids"]
    day = dag_run.run_after.strftime("%Y-%m-%d")
    assert stored == (tmp_path / str(day) / "hailuo" / f"{task_id}.mp4").as_uri()

    consumed = module.consumer.test()  # reads the newest event of the asset the producer announced
    assert task_states(consumed) == {"check_videos": "success"}
    [checked] = xcoms(consumed, "check_videos")["return_value"]
    assert checked == {"uri": stored, "bytes": len(CLIP), "prompt": module.dag.get_task("generate").prompt}
    assert fast_examples.counts()["hailuo_submit"] == 1


def answer_the_approval(choice: str, seen: dict[str, Any], sandbox: Sandbox, timeout: float = 120) -> None:
    """What a person does in the UI's Required Actions: read the request, answer it (Airflow's own REST
    API, in-process, as the all-admins simple auth manager lets a local user)."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    client = TestClient(create_app())
    dag_id = "example_approve_spend"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        asked = client.get(f"/api/v2/dags/{dag_id}/dagRuns/~/hitlDetails").json().get("hitl_details", [])
        waiting = [detail for detail in asked if not detail["response_received"]]
        if waiting:
            [detail] = waiting
            seen["submits_when_asked"] = sandbox.counts()["hailuo_submit"]
            run_id, task_id = detail["task_instance"]["dag_run_id"], detail["task_instance"]["task_id"]
            answer = client.patch(
                f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails",
                json={"chosen_options": [choice]},
            )
            seen.update(subject=detail["subject"], body=detail["body"], status=answer.status_code)
            return
        time.sleep(0.2)  # polling for the request to appear: what the UI's list does


@NEEDS_HITL
@pytest.mark.skipif(
    AIRFLOW_VERSION in ((3, 1), (3, 2)),
    reason="dag.test() of Airflow 3.1 and 3.2 runs the HITL trigger in-process, where its read of the answer never "
    "sees it (3.1: providers-standard's hitl.py, 'NoneType' object has no attribute 'response_received'; 3.2: "
    "the approval times out); 3.0 has no HITL, 3.3 runs it",
)
@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize(("choice", "submits"), [("Approve", 3), ("Reject", 0)])
def test_approve_spend_example_submits_only_once_approved(
    choice: str, submits: int, fast_examples: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import set_connection

    set_connection(monkeypatch, "hailuo_default", "hailuo", fast_examples.url, prices={"minimax-t2v": 0.25})
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    monkeypatch.setenv("VIDEOTASK_EXAMPLE_ANSWER_SECONDS", "120")  # unanswered, it rejects instead of hanging
    module = load(EXAMPLE["example_approve_spend"])
    seen: dict[str, Any] = {}
    person = threading.Thread(target=answer_the_approval, args=(choice, seen, fast_examples), daemon=True)
    person.start()
    dag_run = module.dag.test()
    person.join(timeout=5)
    assert seen["status"] == 200, seen
    assert seen["subject"] == "Generate 3 minimax-t2v videos?"
    assert "Estimated cost: **0.75**" in seen["body"]
    assert seen["submits_when_asked"] == 0  # nothing is paid before the answer
    assert fast_examples.counts()["hailuo_submit"] == submits
    expected = "success" if choice == "Approve" else "skipped"
    assert task_states(dag_run) == {"estimate": "success", "approve": "success", "generate": expected}


@pytest.mark.usefixtures("airflow_db")
def test_mapped_retry_pays_once_per_prompt(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import set_connection

    set_connection(monkeypatch, "retry_hailuo", "hailuo", sandbox.url)
    sandbox.add_fault("unauthorized", count=2, only="reads")  # each mapped task's first try dies after paying
    dag_run = retry_dags.dag.test()
    assert task_states(dag_run) == {"generate": "success"}
    assert try_numbers(dag_run, "generate") == [2, 2]  # both first tries failed
    # Each retry reattaches to the task its first try paid for (the ledger: task state store on 3.3+,
    # Variables before), on every supported Airflow.
    assert sandbox.counts()["hailuo_submit"] == 2


@pytest.mark.usefixtures("airflow_db")
def test_a_batch_retry_pays_once_per_prompt(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import set_connection

    set_connection(monkeypatch, "retry_hailuo", "hailuo", sandbox.url)
    sandbox.add_fault("unauthorized", count=1, only="reads")  # the first try pays for all three, then dies
    dag_run = retry_dags.dag_batch.test()
    assert task_states(dag_run) == {"generate": "success"}
    assert try_numbers(dag_run, "generate") == [2]
    assert sandbox.counts()["hailuo_submit"] == 3  # the retry read the ledger and sent nothing
    [urls_of_each] = [xcoms(dag_run, "generate")["return_value"]]
    assert [len(urls) for urls in urls_of_each] == [1, 1, 1]

"""The example DAGs import cleanly and run to success with dag.test() against the sandbox."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from types import ModuleType

import pytest

from airflow_provider_videotask.hooks.hidream import HiDreamHook
from airflow_provider_videotask.operators.base import RETRY_REATTACHES
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.sandbox.server import CLIP
from tests.dag_runs import parse_dags_folder, task_states, try_numbers, xcoms
from tests.dags import retry_dags

pytestmark = pytest.mark.slow

EXAMPLES = sorted((Path(__file__).parent.parent / "example_dags").glob("example_*.py"))


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


def test_there_are_four_examples() -> None:
    assert [path.stem for path in EXAMPLES] == [
        "example_hailuo_mapped",
        "example_hidream_txt2video",
        "example_keep_videos",
        "example_watch_existing_tasks",
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
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
    dag_run = load(EXAMPLES[1]).dag.test()
    assert task_states(dag_run) == {"generate": "success", "publish": "success"}
    urls = xcoms(dag_run, "generate")["return_value"]
    assert len(urls) == 1
    assert xcoms(dag_run, "publish")["return_value"] == urls
    assert fast_examples.counts()["hidream_submit"] == 1


@pytest.mark.usefixtures("airflow_db")
def test_hailuo_mapped_example_runs_one_paid_task_per_prompt(fast_examples: Sandbox) -> None:
    module = load(EXAMPLES[0])
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
def test_watch_existing_tasks_example_runs(fast_examples: Sandbox) -> None:
    hook = HiDreamHook()
    task_ids = [hook.submit("txt2video", prompt=prompt) for prompt in ("one", "two [videos=2]")]
    dag_run = load(EXAMPLES[3]).dag.test(run_conf={"video_task_ids": task_ids})
    assert task_states(dag_run) == {"wait_for_videos": "success", "report": "success"}
    assert xcoms(dag_run, "report")["return_value"] == 3
    assert [task["task_id"] for task in xcoms(dag_run, "wait_for_videos")["tasks"]] == task_ids


@pytest.mark.usefixtures("airflow_db")
def test_keep_videos_example_stores_them_and_the_consumer_dag_reads_them(
    fast_examples: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDEOTASK_EXAMPLE_OUTPUT", tmp_path.as_uri() + "/")
    module = load(EXAMPLES[2])
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


@pytest.mark.usefixtures("airflow_db")
def test_mapped_retry_pays_once_per_prompt_on_airflow_3_3(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import set_connection

    set_connection(monkeypatch, "retry_hailuo", "hailuo", sandbox.url)
    sandbox.add_fault("unauthorized", count=2, only="reads")  # each mapped task's first try dies after paying
    dag_run = retry_dags.dag.test()
    assert task_states(dag_run) == {"generate": "success"}
    assert try_numbers(dag_run, "generate") == [2, 2]  # both first tries failed
    # Airflow 3.3+ reattaches to the task the first try paid for; older Airflow pays again (documented).
    assert sandbox.counts()["hailuo_submit"] == (2 if RETRY_REATTACHES else 4)

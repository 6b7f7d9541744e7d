"""The README's demo: run the example DAGs end to end against the local sandbox, then print the videos.

Airflow runs on its embedded SQLite in ``.airflow-demo/``; the sandbox stands in for both vendors, so
this costs nothing and needs no network. ``make demo`` runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# One home per Airflow version: a database migrated by a newer Airflow cannot serve an older one.
HOME = ROOT / ".airflow-demo" / version("apache-airflow")

# Airflow reads its configuration at import time: everything is set before the first import.
os.environ.update(
    {
        "AIRFLOW_HOME": str(HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{HOME / 'airflow.db'}",
        "VIDEOTASK_EXAMPLE_POLL_SECONDS": "1",
        # example_keep_videos keeps its videos here (any ObjectStoragePath URI would do, s3:// too).
        "VIDEOTASK_EXAMPLE_OUTPUT": (HOME / "videos").as_uri() + "/",
    }
)
EXAMPLES = ("example_hidream_txt2video", "example_hailuo_mapped", "example_keep_videos")

REAL_VENDORS = """\
To run the same DAGs against the real vendors, replace the sandbox connections with yours:

  export AIRFLOW_CONN_HAILUO_DEFAULT='{"conn_type": "hailuo", "password": "<Ace Data Cloud token>"}'
  export AIRFLOW_CONN_HIDREAM_DEFAULT='{"conn_type": "hidream", "password": "<HiDream API key>"}'
  export AIRFLOW_CONN_ACEDATACLOUD_DEFAULT='{"conn_type": "acedatacloud", "password": "<Ace Data Cloud token>"}'

(or create them in the Airflow UI: Admin > Connections), put example_dags/ in your DAGs folder,
and unset VIDEOTASK_EXAMPLE_POLL_SECONDS so they poll every 30 s. Each prompt is a paid video."""


def load_example(name: str) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "example_dags" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def task_results(dag_run: Any, task_id: str) -> list[dict[str, Any]]:
    """The ``tasks`` XCom of every (mapped) instance of a task, in map-index order."""
    return xcom(dag_run, task_id, "tasks")


def xcom(dag_run: Any, task_id: str, key: str) -> list[dict[str, Any]]:
    """An XCom list of every (mapped) instance of a task, joined in map-index order."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(XComModel)
            .filter(
                XComModel.dag_id == dag_run.dag_id,
                XComModel.run_id == dag_run.run_id,
                XComModel.task_id == task_id,
                XComModel.key == key,
            )
            .order_by(XComModel.map_index)
            .all()
        )
        return [task for row in rows for task in XComModel.deserialize_value(row)]


def main() -> int:
    HOME.mkdir(parents=True, exist_ok=True)
    log_path = HOME / "demo.log"
    log_path.write_text("")
    print(f"Setting up Airflow on SQLite in {HOME.relative_to(ROOT)}/ ...", flush=True)
    steps = {"db migrate": "creating Airflow's database", "dags reserialize": "parsing the example DAGs"}
    for command in (["db", "migrate"], ["dags", "reserialize"]):  # the DAGs and their assets, as the dag processor
        print(f"  {steps[' '.join(command)]} ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "airflow", *command],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    from airflow_provider_videotask.sandbox import Sandbox
    from airflow_provider_videotask.sandbox.output import output_to

    with Sandbox(duration=3) as sandbox:
        for conn_id, conn_type in (("hidream_default", "hidream"), ("hailuo_default", "hailuo")):
            os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
                {"conn_type": conn_type, "host": sandbox.url, "password": "sandbox-token"}
            )
        print(f"Sandbox serving HiDream and every Ace Data Cloud video service at {sandbox.url}\n", flush=True)

        rows: list[tuple[str, str, dict[str, Any]]] = []
        kept: list[dict[str, Any]] = []
        for name in EXAMPLES:
            module = load_example(name)
            started = time.monotonic()
            with output_to(log_path):
                dag_run = module.dag.test()
                if hasattr(module, "consumer"):  # the DAG scheduled on the kept videos' asset
                    consumed = module.consumer.test()
            print(f"  {name}: {dag_run.state} in {time.monotonic() - started:.0f}s", flush=True)
            prompts = module.PROMPTS if hasattr(module, "PROMPTS") else [module.dag.get_task("generate").prompt]
            rows += [
                (name, prompt, task) for prompt, task in zip(prompts, task_results(dag_run, "generate"), strict=False)
            ]
            if hasattr(module, "consumer"):
                print(f"  {module.consumer.dag_id}: {consumed.state} (scheduled on the kept videos)", flush=True)
                kept += xcom(dag_run, "generate", "videos")
        counts = sandbox.counts()

    print(f"\n{'DAG':27} {'prompt':58} {'state':10} video URL")
    for name, prompt, task in rows:
        url = ", ".join(task["video_urls"]) or task["error"] or ""
        print(f"{name:27} {prompt[:58]:58} {task['state']:10} {url}")
    for record in kept:
        print(f"\nKept {record['stored_uri']} ({record['bytes']} bytes, sha256 {record['sha256'][:16]}...): a real MP4")
    print(
        f"\nThe sandbox served {counts['requests']} requests: {counts['hidream_submit'] + counts['hailuo_submit']} "
        f"paid submits (one per prompt) and {counts['requests'] - counts['hidream_submit'] - counts['hailuo_submit']} "
        f"free status reads. Airflow's own log: {log_path.relative_to(ROOT)}\n"
    )
    print(REAL_VENDORS)
    succeeded = len(rows) == 5 and len(kept) == 1 and all(task["state"] == "succeeded" for _, _, task in rows)
    return 0 if succeeded else 1


if __name__ == "__main__":
    sys.exit(main())

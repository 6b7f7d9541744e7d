"""The deferrable sensor end to end under dag.test(): the trigger runs inline, URLs flow downstream."""

from __future__ import annotations

import pytest

from airflow_provider_videotask.sandbox import Sandbox
from tests.conftest import set_connection
from tests.dag_runs import task_states, xcoms
from tests.dags.e2e_sensor_dag import dag

pytestmark = pytest.mark.slow


@pytest.mark.usefixtures("airflow_db")
def test_urls_reach_the_downstream_task(monkeypatch: pytest.MonkeyPatch) -> None:
    with Sandbox() as sandbox:
        set_connection(monkeypatch, "e2e_hidream", "hidream", sandbox.url)
        dag_run = dag.test(run_conf={"duration": 2})
        counts = sandbox.counts()
    assert task_states(dag_run) == {"submit": "success", "wait": "success", "use_videos": "success"}
    urls = xcoms(dag_run, "wait")["return_value"]
    assert len(urls) == 3
    assert all(url.startswith(f"{sandbox.url}/_sandbox/videos/") for url in urls)
    assert xcoms(dag_run, "use_videos")["return_value"] == {"count": 3, "urls": urls}
    assert counts["hidream_submit"] == 3
    # Every poll asked for the three tasks in one request.
    assert counts["ids_queried"] == 3 * counts["hidream_batch"]

"""DAGs of the stack tests (tests/stack/): a deferred fan-out, and a submit waited on in its worker."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG, Asset, task

from airflow_provider_videotask.operators.ace import KlingVideoOperator
from airflow_provider_videotask.operators.hailuo import HailuoVideoOperator
from airflow_provider_videotask.operators.hidream import HiDreamVideoOperator

PROMPTS = 20
# Long enough for a component to be killed and replaced while the waits are in flight.
TASK_SECONDS = 18

with DAG("stack_fan_out", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as fan_out:
    generate = HailuoVideoOperator.partial(
        task_id="generate", hailuo_conn_id="stack_hailuo", deferrable=True, poll_interval=2, timeout=600
    ).expand(prompt=[f"clip {n} [duration={TASK_SECONDS}]" for n in range(PROMPTS)])

    @task
    def collect(urls: list[list[str]]) -> int:
        return sum(len(each) for each in urls)

    collect(generate.output)

with DAG(
    "stack_submit_once",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    params={"prompt": f"one clip [duration={TASK_SECONDS}]"},
    tags=["test"],
) as submit_once:
    # Waits in its worker (not deferrable): a killed worker is a killed wait, and the retry must not pay again.
    HailuoVideoOperator(
        task_id="generate",
        prompt="{{ params.prompt }}",
        hailuo_conn_id="stack_hailuo",
        deferrable=False,
        poll_interval=1,
        timeout=600,
        retries=1,
        retry_delay=timedelta(seconds=1),
    )

with DAG("stack_ui_video", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as ui_video:
    # Its connection is made in the UI by the browser test (tests/stack/test_ui.py).
    HailuoVideoOperator(
        task_id="generate", prompt="a lighthouse [duration=2]", hailuo_conn_id="ui_hailuo", poll_interval=1
    )

# Callbacks (tests/stack/test_callbacks.py): longer than the receiver's hold after a deferral
# (callbacks/resume.py HOLD_SECONDS), so a callback at the end is acted on at once.
CALLBACK_TASK_SECONDS = 20


@task
def callback_jobs(**context: object) -> list[dict[str, object]]:
    """The run's jobs from its conf: [{"conn": connection id, "prompt": ..., "poll_interval": seconds}]."""
    jobs = context["dag_run"].conf["jobs"]  # type: ignore[attr-defined]
    return [
        {"hailuo_conn_id": job["conn"], "prompt": job["prompt"], "poll_interval": job.get("poll_interval", 120)}
        for job in jobs
    ]


with DAG("stack_callbacks", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as callbacks:
    # Polls every 120 s unless a job says otherwise; with callbacks on, the connection's
    # callback_fallback_interval paces the reads.
    HailuoVideoOperator.partial(task_id="generate", deferrable=True, timeout=900).expand_kwargs(callback_jobs())


with DAG("stack_videos", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as videos:
    # Three Kling videos kept under AIRFLOW_HOME, for the run's Videos tab (tests/stack/test_videos_tab.py);
    # 20 s each, so that no wait ends within seconds of deferring (an Airflow race: callbacks/resume.py).
    # The output's asset declared in partial() too: a mapped operator's arguments are read only when an instance
    # runs, and Airflow 3.0 refuses an outlet the parsed DAG never named (docs/outputs.md).
    KEPT = f"file://{os.environ.get('AIRFLOW_HOME', '/tmp')}/videos/"
    KlingVideoOperator.partial(
        task_id="kling",
        acedatacloud_conn_id="stack_ace",
        deferrable=True,
        poll_interval=2,
        timeout=600,
        output_path=KEPT,
        outlets=[Asset(KEPT)],
    ).expand(prompt=[f"{thing} [duration=20]" for thing in ("a paper boat", "a red fox in snow", "a lighthouse")])


# Batches (tests/stack/test_batches.py): one task instance for every prompt.
BATCH_PROMPTS = 2000
KILLED_BATCH_PROMPTS = 100

with DAG("stack_batch", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as batch:
    HailuoVideoOperator(
        task_id="generate",
        hailuo_conn_id="stack_hailuo",
        prompts=[f"clip {n} [duration=10]" for n in range(BATCH_PROMPTS)],
        deferrable=True,
        poll_interval=2,
        timeout=600,
    )

with DAG("stack_batch_killed", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as killed:
    # Submits from its worker (the test slows each submit's answer down), so the worker can be killed mid-batch;
    # the wave in flight then is of unknown fate, and the retry may let those few go (allowed_failures).
    HailuoVideoOperator(
        task_id="generate",
        hailuo_conn_id="stack_hailuo",
        prompts=[f"clip {n} [duration=2]" for n in range(KILLED_BATCH_PROMPTS)],
        allowed_failures=10,
        deferrable=True,
        poll_interval=1,
        timeout=600,
        retries=1,
        retry_delay=timedelta(seconds=1),
    )


with DAG("stack_hidream_user", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as user:
    # A task's api_user_id over the connection's: the triggerer's reads (polled) and the receiver's
    # (called_back) carry it as the submit did.
    for name, callbacks in (("polled", False), ("called_back", None)):
        HiDreamVideoOperator(
            task_id=name,
            prompt=f"{name} [duration={CALLBACK_TASK_SECONDS}]",
            api_user_id="u-1",
            hidream_conn_id="stack_hidream_callbacks",
            deferrable=True,
            callbacks=callbacks,
            poll_interval=2,
            timeout=600,
        )

# Batches whose prompts come with the run (its conf's "prompts"), rendered as the list they are.
CONF_PROMPTS = "{{ dag_run.conf['prompts'] }}"


def conf_batch(dag_id: str) -> DAG:
    return DAG(
        dag_id,
        schedule=None,
        start_date=datetime(2025, 1, 1),
        catchup=False,
        render_template_as_native_obj=True,
        tags=["test"],
    )


with conf_batch("stack_batch_conf") as batch_conf:
    # benchmarks/bench_batch.py: the prompts of the run's conf, in one task (against the mapped stack_callbacks).
    HailuoVideoOperator(
        task_id="generate",
        hailuo_conn_id="stack_hailuo",
        prompts=CONF_PROMPTS,
        deferrable=True,
        poll_interval=2,
        timeout=3600,
    )

with conf_batch("stack_batch_callbacks") as batch_callbacks:
    # The prompts of the run's conf, in one task whose vendor calls back for each video (tests/stack/test_batches.py,
    # benchmarks/bench_batch.py); the connection reads the tasks itself only every 120 s, as the safety net.
    HailuoVideoOperator(
        task_id="generate",
        hailuo_conn_id="stack_callbacks",
        prompts=CONF_PROMPTS,
        deferrable=True,
        timeout=3600,
    )

with conf_batch("stack_batch_paced") as batch_paced:
    # The prompts of the run's conf, against HiDream's per-minute submit limit (the test shortens the sandbox's
    # window): the waits for the vendor's rate are spent in the triggerer (tests/stack/test_batches.py).
    HiDreamVideoOperator(
        task_id="generate",
        hidream_conn_id="e2e_hidream",
        prompts=CONF_PROMPTS,
        deferrable=True,
        poll_interval=2,
        timeout=3600,
    )

with DAG("stack_clean_logs", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as clean:
    # A deferrable video task's normal run, whose every log line is read (tests/stack/test_stack.py).
    HailuoVideoOperator(
        task_id="generate",
        prompt="a quiet clip [duration=20]",
        hailuo_conn_id="stack_hailuo",
        deferrable=True,
        poll_interval=2,
        timeout=600,
    )

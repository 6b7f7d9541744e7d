"""Ask a person before a big spend: estimate a fan-out's cost, wait for approval, and only then submit.

``estimate`` prices every prompt with the connection's price table (extra ``prices``, e.g.
``{"minimax-t2v": 0.25}``; see docs/spend-safety.md) and nothing is submitted yet. ``approve`` asks for
a decision in the Airflow UI (Browse -> Required Actions, or the task's page) with Airflow's
human-in-the-loop ``ApprovalOperator``: *Approve* runs the fan-out; *Reject*, or no answer within a
day, skips it, so nothing is billed. The fan-out keeps its own guards too: ``max_videos_per_run`` and
``max_cost`` are checked again by every instance before it pays.

Needs Airflow 3.1+ (human-in-the-loop); on older releases this file fails to import, saying so.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG, task

from airflow_provider_videotask.operators.hailuo import HailuoVideoOperator
from airflow_provider_videotask.spend import estimated_cost

CONN_ID = "hailuo_default"
MODEL = "minimax-t2v"
PROMPTS = ["a lighthouse at dawn, waves rolling in", "a fox crossing a snowy field", "a night market in the rain"]
MAX_COST_PER_VIDEO = 1.0
POLL_SECONDS = float(os.environ.get("VIDEOTASK_EXAMPLE_POLL_SECONDS", "30"))  # the tests poll faster
ANSWER_WITHIN_SECONDS = float(os.environ.get("VIDEOTASK_EXAMPLE_ANSWER_SECONDS", str(24 * 60 * 60)))  # and wait less

with DAG(
    "example_approve_spend",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "videotask", "human-in-the-loop"],
) as dag:

    @task
    def estimate(prompts: list[str]) -> dict[str, object]:
        """What the fan-out would cost; nothing is submitted here."""
        each = estimated_cost(CONN_ID, MODEL)
        total = None if each is None else round(each * len(prompts), 2)
        return {"videos": len(prompts), "model": MODEL, "cost": total}

    approve = ApprovalOperator(
        task_id="approve",
        subject="Generate {{ ti.xcom_pull('estimate')['videos'] }} {{ ti.xcom_pull('estimate')['model'] }} videos?",
        body=(
            "Estimated cost: **{{ 'unknown (no price table)' if ti.xcom_pull('estimate')['cost'] is none "
            "else ti.xcom_pull('estimate')['cost'] }}**, "
            "by connection `" + CONN_ID + "`'s price table. Nothing has been submitted yet."
        ),
        defaults="Reject",  # no answer in time: nothing is spent
        response_timeout=timedelta(seconds=ANSWER_WITHIN_SECONDS),
    )

    generate = HailuoVideoOperator.partial(
        task_id="generate",
        hailuo_conn_id=CONN_ID,
        model=MODEL,
        max_videos_per_run=len(PROMPTS),
        max_cost=MAX_COST_PER_VIDEO,
        poll_interval=POLL_SECONDS,
    ).expand(prompt=PROMPTS)

    estimate(PROMPTS) >> approve >> generate

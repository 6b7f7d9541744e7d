"""DAGs for the sensor parity table: one per scenario and mode (tests/test_sensor_parity.py runs them).

The vendor task ids arrive as DAG run conf; everything else is fixed here, per scenario.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG

from airflow_provider_videotask.sensors.video_task import VideoTaskSensor

MODES = ("poke", "reschedule", "deferrable")

# scenario -> sensor arguments beyond the defaults below
SCENARIOS: dict[str, dict[str, Any]] = {
    "all_succeed": {},
    "one_fails_fail_on_any": {"conn_id": "parity_hailuo"},
    "one_fails_fail_on_all": {"fail_on": "all"},
    "all_fail": {"fail_on": "all", "conn_id": "parity_hailuo"},
    "rejected": {},
    "unknown_past_grace": {"unknown_grace_period": 0},
    "timeout": {"timeout": 2},
    "timeout_soft_fail": {"timeout": 2, "soft_fail": True, "conn_id": "parity_hailuo"},
    "timeout_never_fail": {"timeout": 2, "never_fail": True},
    "failed_soft_fail": {"soft_fail": True},
    "failed_never_fail": {"never_fail": True, "conn_id": "parity_hailuo"},
    "permanent_api_error_never_fail": {"never_fail": True},
    "permanent_api_error": {},
    "transient_errors_then_success": {"conn_id": "parity_hailuo"},
}


def dag_id(scenario: str, mode: str) -> str:
    return f"parity__{scenario}__{mode}"


for _scenario, _settings in SCENARIOS.items():
    for _mode in MODES:
        with DAG(
            dag_id(_scenario, _mode),
            schedule=None,
            start_date=datetime(2025, 1, 1),
            render_template_as_native_obj=True,
            params={"video_task_ids": []},
            tags=["test"],
        ) as _dag:
            VideoTaskSensor(
                task_id="wait",
                video_task_ids="{{ params.video_task_ids }}",
                conn_id=_settings.get("conn_id", "parity_hidream"),
                fail_on=_settings.get("fail_on", "any"),
                unknown_grace_period=_settings.get("unknown_grace_period", 60),
                timeout=_settings.get("timeout", 60),
                soft_fail=_settings.get("soft_fail", False),
                never_fail=_settings.get("never_fail", False),
                poke_interval=0.2,
                mode="reschedule" if _mode == "reschedule" else "poke",
                deferrable=_mode == "deferrable",
                retries=0,
            )
        globals()[_dag.dag_id] = _dag

"""What Airflow's providers manager learns about this package (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_videotask import __version__
from airflow_provider_videotask.connection_form import CONN_FIELDS, UI_FIELD_BEHAVIOUR
from airflow_provider_videotask.hooks.registry import HOOKS


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-videotask",
        "name": "Video Task (HiDream, Ace Data Cloud)",
        "description": "Submit, wait for and collect AI video-generation tasks (HiDream; Hailuo, Kling, Veo, Luma, "
        "Wan and Seedance on Ace Data Cloud).",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "HiDream",
                "external-doc-url": "https://www.hidreamai.com",
                "tags": ["service"],
            },
            {
                "integration-name": "Hailuo",
                "external-doc-url": "https://platform.acedata.cloud",
                "tags": ["service"],
            },
            {
                "integration-name": "Ace Data Cloud",
                "external-doc-url": "https://platform.acedata.cloud",
                "tags": ["service"],
            },
            {
                # Keeping finished videos in object storage (file://, s3:// ...), whichever vendor made them.
                "integration-name": "Video storage",
                "external-doc-url": "https://airflow.apache.org/docs/apache-airflow/stable/core-concepts/objectstorage.html",
                "tags": ["software"],
            },
        ],
        "operators": [
            {"integration-name": "HiDream", "python-modules": ["airflow_provider_videotask.operators.hidream"]},
            {"integration-name": "Hailuo", "python-modules": ["airflow_provider_videotask.operators.hailuo"]},
            {
                "integration-name": "Ace Data Cloud",
                "python-modules": ["airflow_provider_videotask.operators.ace"],
            },
            {
                "integration-name": "Video storage",
                "python-modules": ["airflow_provider_videotask.operators.store_videos"],
            },
        ],
        # One sensor and one trigger serve every vendor: they follow the connection's type.
        "sensors": [
            {
                "integration-name": integration,
                "python-modules": ["airflow_provider_videotask.sensors.video_task"],
            }
            for integration in ("HiDream", "Hailuo", "Ace Data Cloud")
        ],
        "triggers": [
            {
                "integration-name": integration,
                "python-modules": ["airflow_provider_videotask.triggers.video_task"],
            }
            for integration in ("HiDream", "Hailuo", "Ace Data Cloud")
        ],
        "hooks": [
            {"integration-name": "HiDream", "python-modules": ["airflow_provider_videotask.hooks.hidream"]},
            {"integration-name": "Hailuo", "python-modules": ["airflow_provider_videotask.hooks.hailuo"]},
            {"integration-name": "Ace Data Cloud", "python-modules": ["airflow_provider_videotask.hooks.ace"]},
        ],
        "extra-links": ["airflow_provider_videotask.links.VideoLink", "airflow_provider_videotask.links.RunVideosLink"],
        "connection-types": [
            {
                "connection-type": conn_type,
                "hook-class-name": hook_class,
                "hook-name": hook_name,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR[conn_type],
                "conn-fields": CONN_FIELDS[conn_type],
            }
            for conn_type, (hook_name, hook_class) in HOOKS.items()
        ],
    }

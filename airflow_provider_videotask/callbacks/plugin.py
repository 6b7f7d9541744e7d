"""The provider's Airflow plugin: the callback receiver, mounted by the api-server under ``/videotask``.

Declared in the provider info (``plugins``), as providers ship plugins (apache/airflow providers/edge3),
so installing the provider is all it takes.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_videotask.callbacks.receiver import create_app

URL_PREFIX = "/videotask"


class VideoTaskPlugin(AirflowPlugin):
    name = "videotask"
    fastapi_apps = [
        {"app": create_app(), "url_prefix": URL_PREFIX, "name": "Video Task callbacks"},
    ]

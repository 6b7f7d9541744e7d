"""The provider's Airflow plugin: the callback receiver, mounted by the api-server under ``/videotask``.

Registered through the ``airflow.plugins`` entry point (pyproject.toml), so installing the provider is all
it takes. Not through the provider info's ``plugins`` (as apache/airflow providers/edge3 does): Airflow loads
those only with ``[core] lazy_discover_providers = False`` (``airflow/plugins_manager.py``, ``_get_plugins``
on 3.3; ``load_providers_plugins`` on 3.0), which is not the default.
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

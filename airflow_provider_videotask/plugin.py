"""The provider's Airflow plugin: one app the api-server mounts under ``/videotask``, with the vendor
callback receiver (``callbacks/receiver.py``) and the videos of each DAG run (``gallery/``), shown as a
"Videos" tab on the DAG run page (Airflow 3.1+).

Registered through the ``airflow.plugins`` entry point (pyproject.toml), so installing the provider is all
it takes. Not through the provider info's ``plugins`` (as apache/airflow providers/edge3 does): Airflow loads
those only with ``[core] lazy_discover_providers = False`` (``airflow/plugins_manager.py``, ``_get_plugins``
on 3.3; ``load_providers_plugins`` on 3.0), which is not the default.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from fastapi import FastAPI

from airflow_provider_videotask.callbacks.receiver import router as callbacks
from airflow_provider_videotask.gallery.routes import RUN_PAGE
from airflow_provider_videotask.gallery.routes import router as gallery

URL_PREFIX = "/videotask"


def create_app() -> FastAPI:
    app = FastAPI(
        title="Video Task provider",
        description="Vendor callbacks, and the videos of each DAG run (docs/callbacks.md, docs/videos.md).",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.include_router(callbacks)
    app.include_router(gallery)
    return app


class VideoTaskPlugin(AirflowPlugin):
    name = "videotask"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Video Task"}]
    # A tab on every DAG run page (Airflow 3.1+; the UI fills in {DAG_ID} and {RUN_ID}). On 3.0 the video
    # tasks' "Videos" extra link opens the same page.
    external_views = [
        {
            "name": "Videos",
            "href": URL_PREFIX + RUN_PAGE.format(dag_id="{DAG_ID}", run_id="{RUN_ID}"),
            "destination": "dag_run",
            "url_route": "videos",
            "icon": URL_PREFIX + "/icon.svg",
        }
    ]

"""Who may see a run's videos: a signed-in Airflow user whom the auth manager lets read the DAG's XComs.

Airflow does not authenticate plugin apps (apache/airflow PR #72655): each route asks here itself. The
user is the one of the Airflow UI: its API token, from an ``Authorization: Bearer`` header or the
``_token`` cookie (``COOKIE_NAME_JWT_TOKEN``: the UI keeps it on 3.1+; on 3.0 ``page.SIGN_IN`` sets it for
this app's path), checked by the configured auth manager (simple, FAB, Keycloak ...), whose rules decide.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

log = logging.getLogger(__name__)


def token_of(request: Request) -> str | None:
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return credentials
    return request.cookies.get(COOKIE_NAME_JWT_TOKEN) or None


async def may_read(request: Request, dag_id: str) -> bool:
    """Whether the request's user may read this DAG's task instances and XComs (False when signed out, or
    with an expired or forged token)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    token = token_of(request)
    if token is None:
        return False
    manager = get_auth_manager()
    try:
        user = await manager.get_user_from_token(token)
    except Exception:  # expired, forged, or the user is gone: signed out
        return False
    # In a thread: an auth manager may ask its database (FAB) or a server (Keycloak).
    allowed = await run_in_threadpool(
        manager.is_authorized_dag,
        method="GET",
        user=user,
        access_entity=DagAccessEntity.XCOM,
        details=DagDetails(id=dag_id),
    )
    return bool(allowed)

"""The callback receiver: routes of the provider's app, which the api-server mounts under ``/videotask``
(``plugin.py``).

``POST /videotask/callbacks/<address>?token=<signature>``, the URL the operators gave the vendor
(``address.py``). Airflow does not authenticate plugin apps (apache/airflow PR #72655), and neither vendor
signs its callbacks, so the signature is the credential:

- a signature that does not verify under its connection's ``callback_secret`` or one of its
  ``callback_previous_secrets`` (compared in constant time)
  is answered 403, and a body over 1 MiB 413; neither is looked at further;
- a valid one is answered 200 at once, whatever comes of it (late, duplicate, early or unknown: so the
  vendor stops retrying; HiDream wants its answer within 5 s), and acted on after the answer: the body
  is read only for the task id it names, that one task is read from the vendor, and the wait is resumed
  only on the vendor's own final reading of its last task (``resume.py``).

The signature and the secret are never logged here; Airflow 3.3's access log writes the ``token`` query
parameter as ``***`` (Airflow 3.0's uvicorn access log writes it whole: see docs/callbacks.md).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from airflow_provider_videotask import metrics
from airflow_provider_videotask.callbacks import address as addresses

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
_switched_off_logged: list[bool] = []
# The callbacks being acted on in this process, by wait and the task they name, and whether another came for
# the same meanwhile: a burst of duplicates (or a leaked URL replayed) costs at most one more vendor read.
_in_flight: dict[tuple[addresses.WaitAddress, str | None], bool] = {}


router = APIRouter()


@router.post("/callbacks/{name}")
async def callback(name: str, request: Request, background: BackgroundTasks, token: str = "") -> JSONResponse:
    address = addresses.read_address(name)
    conn_id = address.conn_id if address else None
    body = await _capped_body(request)
    if body is None:
        metrics.callback("rejected", vendor=None, conn_id=conn_id)
        log.warning("Callback for %s refused: its body is over %d bytes", address or name[:64], MAX_BODY_BYTES)
        return JSONResponse({"detail": "body too large"}, status_code=413)
    # The connection is read in a thread: a metadata database or secrets backend call blocks.
    verified, claimed = False, None
    if address is not None:
        verified, claimed = await run_in_threadpool(_check, name, token, address.conn_id, body)
    if address is None or not verified:
        metrics.callback("rejected", vendor=None, conn_id=conn_id)
        log.warning("Callback for %s refused: its signature does not verify", address or name[:64])
        return JSONResponse({"detail": "forbidden"}, status_code=403)
    line = f"Callback for {address.dag_id}/{address.run_id}/{address.task_id}[{address.map_index}]" + (
        f", task {claimed}" if claimed else ""
    )
    background.add_task(_act, address, claimed, line)
    return JSONResponse({"status": "received"}, status_code=200)


async def _capped_body(request: Request) -> bytes | None:
    """The body, or None when it is over ``MAX_BODY_BYTES`` (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


def _check(name: str, token: str, conn_id: str, body: bytes) -> tuple[bool, str | None]:
    """Whether the signature verifies under the secret of the connection the address names (a missing
    connection or secret verifies nothing), and the vendor task the body names (a hint, to skip a read for
    another task; None if unreadable). One read of the connection, in a thread."""
    from airflow.providers.common.compat.sdk import BaseHook

    from airflow_provider_videotask.hooks.connection import accepted_secrets
    from airflow_provider_videotask.hooks.registry import hook_class

    try:
        connection = BaseHook.get_connection(conn_id)
    except Exception:  # no such connection: the same answer as a bad signature, nothing to learn
        return False, None
    extras = connection.extra_dejson
    secrets = accepted_secrets(lambda key: None if extras.get(key) == "" else extras.get(key))
    if not addresses.verify(name, token, secrets):
        return False, None
    try:
        document: Any = json.loads(body)
        return True, hook_class(connection.conn_type, conn_id).callback_task_id(document)
    except Exception:  # an unreadable body, or a connection type of another provider: no hint
        return True, None


async def _act(address: addresses.WaitAddress, claimed: str | None, line: str) -> None:
    """After the answer: wake the wait if the vendor's reading ends it (on the api-server's event loop)."""
    from airflow_provider_videotask.callbacks import resume

    if not resume.can_resume():
        if not _switched_off_logged:
            _switched_off_logged.append(True)
            log.warning(
                "This Airflow has no Trigger.submit_event: callbacks cannot resume waits here, and are ignored; "
                "the waits poll on (every callback_fallback_interval)"
            )
        metrics.callback("ignored", vendor=None, conn_id=address.conn_id)
        return
    key = (address, claimed)
    if key in _in_flight:
        _in_flight[key] = True
        log.info("%s: ignored (one for this task is being handled; it looks once more when done)", line)
        metrics.callback("ignored", vendor=None, conn_id=address.conn_id)
        return
    _in_flight[key] = False
    try:
        while await resume.wake(address, claimed, log_line=line) != "accepted" and _in_flight[key]:
            _in_flight[key] = False
    finally:
        del _in_flight[key]

"""The sandbox calls back: when a task submitted with a callback URL ends, it POSTs the body the vendor
documents to that URL (standard library only), with faults to test a receiver against.

- Ace Data Cloud (``callback_url``): the service's finished result, as its synchronous answer holds it,
  with ``task_id``; a failure is ``{"success": false, "task_id", "trace_id", "error": {"code", "message"}}``.
  One try: Ace documents no retry ("handle missed callbacks": AceDataCloud/Docs en/concepts/async-tasks.mdx).
- HiDream (``notify_url``): v2 ``{"main_task_id", "result"}`` (the seed's batch page: "请求体包含
  main_task_id(任务的task_id)、result"; ``result`` is read here as the task's results document, which the
  page does not spell out); v3 and v4 the result page's envelope. HTTP 200 is expected within 5 s,
  tried 3 times 1 s apart (HiDream's API pages, callback section).

Faults, by prompt keyword: ``[callback=lost]`` (never sent), ``[callback=twice]`` (the same callback
twice), ``[callback_delay=N]`` (N seconds after the task ends), ``[callback=lie]`` (a body claiming
success, with a video the vendor never made, sent halfway through the run while the task still runs;
the true one follows at the end).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from typing import TYPE_CHECKING, Any, cast

from airflow_provider_videotask.sandbox import ace, hidream
from airflow_provider_videotask.sandbox.world import video_url

if TYPE_CHECKING:
    from airflow_provider_videotask.sandbox.world import Handler, SandboxState, SandboxTask

log = logging.getLogger(__name__)

# HiDream: 200 within 5 s, 3 tries 1 s apart. Ace documents neither: one try, the same timeout.
TIMEOUT_SECONDS = 5.0
HIDREAM_TRIES, HIDREAM_PAUSE = 3, 1.0
LIE_VIDEO = "https://callback-lie.invalid/not-made-by-the-vendor.mp4"


class _Reader:
    """What the vendor modules' ``_document`` read of a request handler: the state and the video links."""

    def __init__(self, state: SandboxState, base_url: str) -> None:
        self.server = self
        self.state = state
        self.base_url = base_url

    def video_url(self, sub_id: str, size: str | None = None) -> str:
        return video_url(self.base_url, sub_id, size)


class CallbackSender:
    """A thread that sends each due callback of the sandbox's tasks (see the module docstring)."""

    def __init__(self, state: SandboxState, base_url: str) -> None:
        self.state = state
        self.reader = _Reader(state, base_url)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="videotask-sandbox-callbacks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            for task, kind, copies in self.state.due_callbacks():
                try:
                    body = self._lie(task) if kind == "lie" else self._body(task)
                except Exception:  # one task's odd record must not end every later callback
                    log.exception("Sandbox: the callback of task %s could not be made", task.task_id)
                    self.state.tally("callbacks_failed")
                    continue
                for _ in range(copies):
                    threading.Thread(target=self._deliver, args=(task, body), daemon=True).start()

    def _body(self, task: SandboxTask) -> dict[str, Any]:
        handler = cast("Handler", self.reader)
        if task.vendor != "hidream":
            document = ace._document(handler, task)
            return {"task_id": task.task_id, **(document.get("response") or {})}
        result = hidream._document(handler, task.task_id, task.module)
        if task.callback_style == "hidream-v2":
            return {"main_task_id": task.task_id, "result": result}
        return {"code": 0, "message": "Success", "request_id": str(uuid.uuid4()), "result": result}

    def _lie(self, task: SandboxTask) -> dict[str, Any]:
        if task.vendor != "hidream":
            return {"success": True, "task_id": task.task_id, "state": "succeeded", "video_url": LIE_VIDEO,
                    "data": [{"state": "succeeded", "video_url": LIE_VIDEO}]}  # fmt: skip
        sub = {"sub_task_id": "lie", "task_status": 1, "task_completion": 1, "video": LIE_VIDEO}
        return {"main_task_id": task.task_id, "result": {"task_id": task.task_id, "sub_task_results": [sub]}}

    def _deliver(self, task: SandboxTask, body: dict[str, Any]) -> None:
        tries = HIDREAM_TRIES if task.vendor == "hidream" else 1
        for attempt in range(tries):
            if attempt:
                time.sleep(HIDREAM_PAUSE)
            self.state.tally("callbacks_sent")
            if _post(task.callback_url or "", body):
                self.state.tally("callbacks_delivered")
                return
        self.state.tally("callbacks_failed")


def _post(url: str, body: dict[str, Any]) -> bool:
    request = urllib.request.Request(  # noqa: S310 - the URL the task was submitted with, as the vendor calls it
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            return bool(200 <= answer.status < 300)
    except (urllib.error.URLError, OSError, ValueError):
        return False

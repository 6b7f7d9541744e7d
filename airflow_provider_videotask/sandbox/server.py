"""A local stand-in for both vendor APIs, standard library only.

It speaks HiDream's and Hailuo's APIs as API_NOTES.md describes them, moves tasks from queued through
running to succeeded over a set time, fails or rejects tasks whose prompt asks for it, injects faults on
request, and counts what it served. See the package docstring for the prompt keywords and faults.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HIDREAM_MODULES = ("txt2video", "img2video", "video_edit")
HIDREAM_PATH = re.compile(r"^/api-pub/gw/v2/video/(?P<module>[a-z0-9_]+)/async(?P<rest>/results(?:/batch)?)?/?$")
FAULT_KINDS = (
    "rate_limit",
    "server_error",
    "html",
    "slow",
    "malformed",
    "wrong_types",
    "drop",
    "unauthorized",
    "used_up",
)
# Share of a task's duration spent queued before it starts running.
QUEUED_SHARE = 0.2


@dataclass
class Fault:
    """A misbehaviour the sandbox applies to the next ``count`` matching requests (``count=-1``: until cleared).

    ``only`` picks the requests: ``"reads"`` (status queries), ``"submits"`` or ``"all"``.
    """

    kind: str
    count: int = 1
    only: str = "all"
    status: int | None = None  # server_error (default 500), html (default 502)
    retry_after: float | None = None  # rate_limit: the Retry-After header, if any
    delay: float = 0.0  # slow: seconds before answering

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}, got {self.kind!r}")
        if self.only not in ("reads", "submits", "all"):
            raise ValueError(f"fault 'only' must be reads, submits or all, got {self.only!r}")

    @classmethod
    def parse(cls, text: str) -> Fault:
        """``KIND[:key=value,...]``, as the command line takes it: ``rate_limit:count=3,retry_after=1``."""
        kind, _, options = text.partition(":")
        values: dict[str, Any] = {}
        for option in filter(None, options.split(",")):
            key, _, value = option.partition("=")
            if key in ("count", "status"):
                values[key] = int(value)
            elif key in ("retry_after", "delay"):
                values[key] = float(value)
            elif key == "only":
                values[key] = value
            else:
                raise ValueError(f"unknown fault option {key!r} in {text!r}")
        return cls(kind=kind, **values)


@dataclass
class SandboxTask:
    task_id: str
    vendor: str  # "hidream" | "hailuo"
    module: str  # HiDream module, or the Hailuo model
    request: dict[str, Any]
    created: float  # on the sandbox clock
    created_wall: float
    duration: float
    outcome: str  # "succeeded" | "failed" | "rejected"
    videos: int = 1
    sub_ids: list[str] = field(default_factory=list)


def prompt_options(prompt: str, default_duration: float) -> tuple[str, float, int]:
    """Outcome, duration and video count asked for by keywords in a prompt (see the package docstring)."""
    text = prompt.lower()
    outcome = "rejected" if "[reject]" in text else "failed" if "[fail]" in text else "succeeded"
    duration_match = re.search(r"\[duration=(\d+(?:\.\d+)?)\]", text)
    videos_match = re.search(r"\[videos=(\d+)\]", text)
    return (
        outcome,
        float(duration_match.group(1)) if duration_match else default_duration,
        max(1, min(4, int(videos_match.group(1)))) if videos_match else 1,
    )


class SandboxState:
    """Tasks, faults and counters; every method is thread-safe."""

    def __init__(self, *, duration: float, token: str | None, clock: Callable[[], float]) -> None:
        self.duration = duration
        self.token = token
        self.clock = clock
        self.tasks: dict[str, SandboxTask] = {}
        self.faults: list[Fault] = []
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def take_fault(self, is_submit: bool) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.only == "all" or (fault.only == "submits") == is_submit:
                    if fault.count > 0:
                        fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                    self.counts["faults_served"] += 1
                    return fault
        return None

    def create(self, vendor: str, module: str, request: dict[str, Any], prompt: str) -> SandboxTask:
        outcome, duration, videos = prompt_options(prompt, self.duration)
        task = SandboxTask(
            task_id=str(uuid.uuid4()),
            vendor=vendor,
            module=module,
            request=request,
            created=self.clock(),
            created_wall=time.time(),
            duration=duration,
            outcome=outcome,
            videos=videos if vendor == "hidream" else 1,
        )
        task.sub_ids = [str(uuid.uuid4()) for _ in range(task.videos)]
        with self.lock:
            self.tasks[task.task_id] = task
            self.counts["tasks_created"] += 1
        return task

    def find(self, task_id: Any, vendor: str, module: str | None = None) -> SandboxTask | None:
        with self.lock:
            task = self.tasks.get(task_id) if isinstance(task_id, str) else None
        if task is None or task.vendor != vendor or (module is not None and task.module != module):
            return None
        return task

    def phase(self, task: SandboxTask) -> tuple[str, float]:
        """(``queued`` | ``running`` | the outcome, progress 0..1) at the sandbox clock's now."""
        elapsed = self.clock() - task.created
        if task.duration <= 0 or elapsed >= task.duration:
            return task.outcome, 1.0
        progress = elapsed / task.duration
        return ("queued" if progress < QUEUED_SHARE else "running"), progress

    def finished_at(self, task: SandboxTask) -> float:
        """Wall-clock time at which the task reaches its outcome (for latency measurements)."""
        return task.created_wall + max(task.duration, 0.0)

    def finish(self, task_id: str) -> None:
        with self.lock:
            task = self.tasks[task_id]
            task.created = self.clock() - task.duration - 1

    def count(self, route: str, ids: int = 0) -> None:
        with self.lock:
            self.counts["requests"] += 1
            self.counts[route] += 1
            self.counts["ids_queried"] += ids

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "counts": dict(self.counts),
                "tasks": len(self.tasks),
                "faults_pending": [asdict(f) for f in self.faults],
            }


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle and the client's delayed ACK
    # would add ~40 ms to every answer on loopback.
    disable_nagle_algorithm = True
    server: SandboxHTTPServer

    # ----- plumbing ------------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        if url.path.startswith("/_sandbox/"):
            self._control(method, url.path, body)
            return
        match = HIDREAM_PATH.match(url.path)
        if match:
            self._hidream(method, match.group("module"), match.group("rest") or "", parse_qs(url.query), body)
        elif url.path.rstrip("/") in ("/hailuo/videos", "/hailuo/tasks") and method == "POST":
            self._hailuo(url.path.rstrip("/"), body)
        else:
            self._send_json(404, {"error": {"code": "no_api", "message": f"no API at {method} {url.path}"}})

    def _send(self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up first (its timeout ran out during a "slow" fault): nothing to answer.
            self.close_connection = True

    def _send_json(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(document).encode(), "application/json", headers)

    def _authorized(self) -> bool:
        value = self.headers.get("Authorization") or ""
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        return self.server.state.token is None or token.strip() == self.server.state.token

    # ----- faults --------------------------------------------------------------------------------

    def _apply_fault(self, vendor: str, is_submit: bool) -> bool:
        """Serve a pending fault instead of the answer; True when the request is done with."""
        fault = self.server.state.take_fault(is_submit)
        if fault is None:
            return False
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return False
        if fault.kind == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if fault.kind == "malformed":
            self._send(200, b'{"code": 0, "result": [{"task_id": ', "application/json")
        elif fault.kind == "html":
            status = fault.status or 502
            page = f"<html><head><title>{status} Bad Gateway</title></head><body>nginx</body></html>"
            self._send(status, page.encode(), "text/html")
        elif fault.kind == "wrong_types":
            self._send_json(200, {"code": 0, "result": "oops"} if vendor == "hidream" else {"items": "oops"})
        else:
            status, code, message = {
                "rate_limit": (429, "too_many_requests", "too many requests"),
                "server_error": (fault.status or 500, "api_error", "internal error"),
                "unauthorized": (401, "invalid_token", "invalid token"),
                "used_up": (403, "used_up", "balance used up"),
            }[fault.kind]
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else None
            self._send_json(status, self._error_document(vendor, code, message, status), headers)
        return True

    def _error_document(self, vendor: str, code: str, message: str, status: int) -> dict[str, Any]:
        trace_id = str(uuid.uuid4())
        if vendor == "hidream":
            return {"code": status, "message": message, "request_id": trace_id, "result": None}
        return {"error": {"code": code, "message": message}, "trace_id": trace_id}

    # ----- HiDream -------------------------------------------------------------------------------

    def _hidream(self, method: str, module: str, rest: str, query: dict[str, list[str]], body: Any) -> None:
        state = self.server.state
        is_submit = rest == ""
        route = {"": "hidream_submit", "/results": "hidream_result", "/results/batch": "hidream_batch"}[rest]
        ids = body.get("task_id_list") if isinstance(body, dict) else None
        state.count(route, len(ids) if isinstance(ids, list) else int(not is_submit))
        if not self._authorized():
            self._send_json(401, self._error_document("hidream", "401", "invalid token", 401))
            return
        if self._apply_fault("hidream", is_submit):
            return

        def envelope(result: Any, code: int = 0, message: str = "请求成功") -> None:
            self._send_json(200, {"code": code, "message": message, "request_id": str(uuid.uuid4()), "result": result})

        if module not in HIDREAM_MODULES:
            envelope(None, 2031, f"model {module} not available to this account")
        elif is_submit and method == "POST" and isinstance(body, dict):
            required = {"txt2video": "prompt", "img2video": "image", "video_edit": "video_name"}[module]
            if not body.get(required):
                envelope(None, 1001, f"missing parameter: {required}")
                return
            task = state.create("hidream", module, body, str(body.get("prompt") or ""))
            envelope({"task_id": task.task_id})
        elif rest == "/results" and method == "GET":
            task_id = (query.get("task_id") or [""])[0]
            envelope(self._hidream_doc(task_id, module))
        elif rest == "/results/batch" and method == "POST" and isinstance(ids, list):
            envelope([self._hidream_doc(task_id, module) for task_id in ids])
        else:
            envelope(None, 1001, "bad request")

    def _hidream_doc(self, task_id: Any, module: str) -> dict[str, Any]:
        state = self.server.state
        task = state.find(task_id, "hidream", module)
        if task is None:
            return {"task_id": task_id, "sub_task_results": []}
        phase, progress = state.phase(task)
        status = {"queued": 0, "running": 2, "succeeded": 1, "failed": 3, "rejected": 4}[phase]
        subs = []
        for sub_id in task.sub_ids:
            video = f"{self.server.base_url}/_sandbox/videos/{sub_id}.mp4" if phase == "succeeded" else ""
            subs.append(
                {
                    "sub_task_id": sub_id,
                    "task_status": status,
                    "task_completion": round(progress, 2),
                    "video": video,
                    "video_wm": video.replace(".mp4", "_wm.mp4"),
                }
            )
        return {"task_id": task.task_id, "sub_task_results": subs}

    # ----- Hailuo --------------------------------------------------------------------------------

    def _hailuo(self, path: str, body: Any) -> None:
        state = self.server.state
        action = body.get("action") if isinstance(body, dict) else None
        is_submit = path == "/hailuo/videos"
        route = "hailuo_submit" if is_submit else f"hailuo_{action}"
        ids = body.get("ids") if isinstance(body, dict) else None
        state.count(route, len(ids) if isinstance(ids, list) else int(not is_submit))
        if not self._authorized():
            self._send_json(401, self._error_document("hailuo", "invalid_token", "invalid token", 401))
            return
        if self._apply_fault("hailuo", is_submit):
            return
        trace_id = str(uuid.uuid4())

        def bad_request(message: str) -> None:
            self._send_json(400, {"error": {"code": "bad_request", "message": message}, "trace_id": trace_id})

        if not isinstance(body, dict):
            bad_request("body must be a JSON object")
        elif is_submit:
            model = body.get("model") or "minimax-t2v"
            if body.get("async") is not True and not body.get("callback_url"):
                bad_request('the sandbox only serves asynchronous submits: send "async": true')
            elif model in ("minimax-i2v", "minimax-i2v-director") and not body.get("first_image_url"):
                bad_request("first_image_url is required for " + model)
            elif not body.get("prompt") and model == "minimax-t2v":
                bad_request("prompt is required")
            else:
                created = state.create("hailuo", model, body, str(body.get("prompt") or ""))
                self._send_json(200, {"task_id": created.task_id, "trace_id": trace_id})
        elif action == "retrieve":
            task = state.find(body.get("id"), "hailuo")
            if task is None:
                self._send_json(
                    404, {"error": {"code": "not_found", "message": "task not found"}, "trace_id": trace_id}
                )
            else:
                self._send_json(200, self._hailuo_doc(task))
        elif action == "retrieve_batch" and isinstance(ids, list):
            items = [self._hailuo_doc(task) for task_id in ids if (task := state.find(task_id, "hailuo"))]
            self._send_json(200, {"items": items, "count": len(items)})
        else:
            bad_request(f"unknown action {action!r}")

    def _hailuo_doc(self, task: SandboxTask) -> dict[str, Any]:
        phase, _ = self.server.state.phase(task)
        doc: dict[str, Any] = {
            "id": task.task_id,
            "created_at": task.created_wall,
            "request": task.request,
            "trace_id": str(uuid.uuid4()),
        }
        if phase == "queued":
            return doc
        item = {
            "id": task.sub_ids[0],
            "model": task.module,
            "prompt": task.request.get("prompt"),
            "first_image_url": task.request.get("first_image_url"),
            "video_url": None,
            "state": "processing",
        }
        response: dict[str, Any] = {
            "success": True,
            "task_id": task.task_id,
            "trace_id": doc["trace_id"],
            "data": [item],
        }
        if phase == "succeeded":
            item.update(state="succeeded", video_url=f"{self.server.base_url}/_sandbox/videos/{task.sub_ids[0]}.mp4")
            doc.update(
                started_at=task.created_wall,
                finished_at=self.server.state.finished_at(task),
                elapsed=task.duration,
            )
        elif phase in ("failed", "rejected"):
            message = "content rejected by review" if phase == "rejected" else f"no channel available for {task.module}"
            response = {
                "success": False,
                "task_id": task.task_id,
                "trace_id": doc["trace_id"],
                "error": {"code": "api_error", "message": message},
            }
        doc["response"] = response
        return doc

    # ----- control -------------------------------------------------------------------------------

    def _control(self, method: str, path: str, body: Any) -> None:
        state = self.server.state
        if path == "/_sandbox/stats" and method == "GET":
            self._send_json(200, state.stats())
        elif path == "/_sandbox/health" and method == "GET":
            self._send_json(200, {"ok": True})
        elif path == "/_sandbox/reset" and method == "POST":
            with state.lock:
                state.counts.clear()
                state.faults.clear()
            self._send_json(200, {"ok": True})
        elif path == "/_sandbox/faults" and method == "POST" and isinstance(body, dict):
            try:
                fault = Fault(**body)
            except (TypeError, ValueError) as error:
                self._send_json(400, {"error": {"code": "bad_request", "message": str(error)}})
                return
            with state.lock:
                state.faults.append(fault)
            self._send_json(200, {"ok": True})
        elif path == "/_sandbox/faults" and method == "DELETE":
            with state.lock:
                state.faults.clear()
            self._send_json(200, {"ok": True})
        elif path.startswith("/_sandbox/videos/") and method == "GET":
            # A few bytes standing in for a video, so links in the UI and the demo open.
            self._send(200, b"\x00\x00\x00\x18ftypmp42sandbox", "video/mp4")
        else:
            self._send_json(404, {"error": {"code": "no_api", "message": f"no sandbox call {method} {path}"}})


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: SandboxState, verbose: bool = False) -> None:
        super().__init__(address, SandboxHandler)
        self.state = state
        self.verbose = verbose

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class Sandbox:
    """The sandbox as an object: start it on a free port, talk to ``url``, stop it.

    .. code-block:: python

        with Sandbox(duration=2) as sandbox:
            ...  # point a connection's host at sandbox.url
            sandbox.add_fault("rate_limit", count=2, retry_after=1)
            assert sandbox.counts()["hidream_batch"] == 1
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        duration: float = 10.0,
        token: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        verbose: bool = False,
    ) -> None:
        self.state = SandboxState(duration=duration, token=token, clock=clock)
        self.httpd = SandboxHTTPServer((host, port), self.state, verbose)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.httpd.base_url

    def start(self) -> Sandbox:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), name="videotask-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_fault(self, kind: str, count: int = 1, **options: Any) -> None:
        with self.state.lock:
            self.state.faults.append(Fault(kind=kind, count=count, **options))

    def clear_faults(self) -> None:
        with self.state.lock:
            self.state.faults.clear()

    def counts(self) -> Counter[str]:
        """Requests served so far, by route (``hidream_batch``, ``hailuo_submit`` ...) and in all."""
        with self.state.lock:
            return Counter(self.state.counts)

    def reset_counts(self) -> None:
        with self.state.lock:
            self.state.counts.clear()

    def finish(self, task_id: str) -> None:
        """Move a task to its outcome now."""
        self.state.finish(task_id)

    def task(self, task_id: str) -> SandboxTask:
        with self.state.lock:
            return self.state.tasks[task_id]

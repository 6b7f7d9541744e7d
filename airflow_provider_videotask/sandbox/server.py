"""The sandbox's HTTP server: plumbing, faults, the control calls, and :class:`Sandbox` to run it in-process.

The vendors live in ``hidream.py`` and ``ace.py``, the tasks, faults, tokens and limits in ``world.py``.
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_videotask.sandbox import ace, hidream
from airflow_provider_videotask.sandbox.callbacks import CallbackSender
from airflow_provider_videotask.sandbox.world import (
    DEFAULT_PAGE_SIZE,
    DEFAULT_TOKEN_TTL,
    Fault,
    SandboxState,
    SandboxTask,
    SubmitLimit,
    video_url,
)

# The video every finished sandbox task links to: 2 s of a test pattern, H.264, 160x90 (made with
# ffmpeg's testsrc2; a few KB, kept in the package).
CLIP = (Path(__file__).parent / "clip.mp4").read_bytes()


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle and the client's delayed ACK
    # would add ~40 ms to every answer on loopback.
    disable_nagle_algorithm = True
    server: SandboxHTTPServer
    answered: Callable[[], None]  # ends this request's in-flight count (SandboxState.in_flight)

    def setup(self) -> None:
        super().setup()
        self.server.state.count_connection()  # one per TCP connection: a client's keep-alive, measured

    def handle(self) -> None:
        # A client that drops its idle keep-alive connection with a reset is normal, not an error.
        with contextlib.suppress(ConnectionResetError):
            super().handle()

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
        with self.server.state.in_flight() as self.answered:
            self._serve(method)

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        path = url.path.rstrip("/")
        if url.path.startswith("/_sandbox/"):
            self._control(method, url.path, body, parse_qs(url.query))
        elif path == hidream.EXCHANGE_PATH and method == "GET":
            hidream.exchange(self)
        elif match := hidream.PATH.match(url.path):
            version, module, rest = match.group("version", "module", "rest")
            hidream.serve(self, method, version, module, rest or "", parse_qs(url.query), body)
        elif (match := ace.PATH.match(path)) and method == "POST":
            ace.serve(self, match["service"], match["kind"], body)
        else:
            self.send_json(404, ace.error_document("no_api", f"no API at {method} {url.path}"))

    # ----- what the vendor modules use ---------------------------------------------------------------

    def send(self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.answered()  # before the answer leaves: see SandboxState.in_flight
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up first (its timeout ran out during a "slow" fault): nothing to answer.
            self.close_connection = True

    def send_json(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
        self.send(status, json.dumps(document).encode(), "application/json", headers)

    def bearer_token(self) -> str:
        """The request's bearer token ("" when there is none)."""
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""

    def authorized(self) -> bool:
        """Ace Data Cloud's check: a bearer token, the one set with ``--token`` if any."""
        token = self.bearer_token()
        return bool(token) and (self.server.state.token is None or token == self.server.state.token)

    def video_url(self, sub_id: str, size: str | None = None) -> str:
        return video_url(self.server.base_url, sub_id, size)

    def refuse_rate_limited(self, vendor: str, scope: str, wait: float) -> None:
        """HTTP 429, as Ace documents it (``too_many_requests``); HiDream documents no answer, so the same
        status with its envelope. Retry-After (whole seconds) unless the limit was set up without it."""
        limit = self.server.state.limits.get((vendor, scope)) or self.server.state.limits.get((vendor, "*"))
        headers = {"Retry-After": str(max(1, math.ceil(wait)))} if limit is None or limit.retry_after else None
        if vendor == "hidream":
            self.send_json(429, hidream.error_document(429, "too many requests"), headers)
        else:
            self.send_json(429, ace.error_document("too_many_requests", "You have exceeded the rate limit."), headers)

    def apply_fault(self, vendor: str, is_submit: bool) -> bool:
        """Serve a pending fault instead of the answer; True when the request is done with."""
        fault = self.server.state.take_fault("submits" if is_submit else "reads")
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
            self.send(200, b'{"code": 0, "result": [{"task_id": ', "application/json")
        elif fault.kind == "html":
            status = fault.status or 502
            page = f"<html><head><title>{status} Bad Gateway</title></head><body>nginx</body></html>"
            self.send(status, page.encode(), "text/html")
        elif fault.kind == "wrong_types":
            self.send_json(200, {"code": 0, "result": "oops"} if vendor == "hidream" else {"items": "oops"})
        else:
            status, code, message = {
                "rate_limit": (429, "too_many_requests", "too many requests"),
                "server_error": (fault.status or 500, "api_error", "internal error"),
                "unauthorized": (401, "invalid_token", "invalid token"),
                "used_up": (403, "used_up", "balance used up"),
            }[fault.kind]
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else None
            document = (
                hidream.error_document(status, message) if vendor == "hidream" else ace.error_document(code, message)
            )
            self.send_json(status, document, headers)
        return True

    # ----- control -----------------------------------------------------------------------------------

    def _control(self, method: str, path: str, body: Any, query: dict[str, list[str]]) -> None:
        state = self.server.state
        if path == "/_sandbox/stats" and method == "GET":
            self.send_json(200, state.stats())
        elif path == "/_sandbox/health" and method == "GET":
            self.send_json(200, {"ok": True})
        elif path == "/_sandbox/reset" and method == "POST":
            with state.lock:
                state.counts.clear()
                state.faults.clear()
            self.send_json(200, {"ok": True})
        elif path == "/_sandbox/faults" and method == "POST" and isinstance(body, dict):
            try:
                fault = Fault(**body)
            except (TypeError, ValueError) as error:
                self.send_json(400, ace.error_document("bad_request", str(error)))
                return
            with state.lock:
                state.faults.append(fault)
            self.send_json(200, {"ok": True})
        elif path == "/_sandbox/faults" and method == "DELETE":
            with state.lock:
                state.faults.clear()
            self.send_json(200, {"ok": True})
        elif path.startswith("/_sandbox/videos/") and method == "GET":
            self._video(query)
        else:
            self.send_json(404, ace.error_document("no_api", f"no sandbox call {method} {path}"))

    def _video(self, query: dict[str, list[str]]) -> None:
        """A real, playable MP4 (2 s, 160x90), or, with ``?bytes=N``, the same padded to N bytes with an
        MP4 ``free`` box (still playable), streamed: a large video costs the sandbox no memory."""
        state = self.server.state
        with state.lock:
            state.counts["video_downloads"] += 1
        size = max(len(CLIP), int((query.get("bytes") or ["0"])[0] or 0))
        if 0 < size - len(CLIP) < 16:
            size = len(CLIP) + 16  # the smallest padding box
        fault = state.take_fault("videos")
        if fault is not None and fault.kind == "expired":
            self.send(
                403,
                b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                "application/xml",
            )
            return
        if fault is not None and fault.kind not in ("truncate", "slow"):
            self.send_json(fault.status or 500, {"error": fault.kind})
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(size))
        self.answered()
        self.end_headers()
        send = size // 2 if fault is not None and fault.kind == "truncate" else size
        try:
            for chunk in video_bytes(size, send):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if send < size:
            self.close_connection = True


def video_bytes(size: int, send: int | None = None) -> Iterator[bytes]:
    """The first ``send`` (default all) of a ``size``-byte playable MP4, in chunks of at most 1 MiB."""
    head = CLIP
    if size > len(CLIP):
        padding = size - len(CLIP)
        if padding < 2**32:
            head = CLIP + padding.to_bytes(4, "big") + b"free"
        else:  # a 64-bit box size
            head = CLIP + (1).to_bytes(4, "big") + b"free" + padding.to_bytes(8, "big")
    send = size if send is None else send
    yield head[:send]
    left, zeros = send - min(send, len(head)), bytes(1024 * 1024)
    while left > 0:
        yield zeros[: min(left, len(zeros))]
        left -= len(zeros)


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 refuses connections when a fan-out submits all at once; a real
    # vendor's load balancer does not.
    request_queue_size = 1024

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

    By default it behaves as the vendors document: HiDream tokens bought with an API key last a day
    (``token_ttl``), HiDream takes 10 video submits a minute (2 for video_edit), Ace pages
    ``retrieve_batch`` at 12 when no ``limit`` is sent (``max_page`` caps a page even when one is).
    ``limits`` replaces the submit limits (``{}``: none; keys ``(vendor, module or model)``, ``"*"`` for
    every one; each a ``SubmitLimit`` of submits per window and running tasks, per account). Ace Data
    Cloud publishes no numbers, so it has no limit unless one is set here.

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
        api_key: str | None = None,
        token_ttl: float = DEFAULT_TOKEN_TTL,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_page: int | None = None,
        limits: dict[tuple[str, str], SubmitLimit] | None = None,
        clock: Callable[[], float] = time.monotonic,
        verbose: bool = False,
    ) -> None:
        self.state = SandboxState(
            duration=duration,
            token=token,
            clock=clock,
            api_key=api_key,
            token_ttl=token_ttl,
            page_size=page_size,
            max_page=max_page,
            limits=limits,
        )
        self.httpd = SandboxHTTPServer((host, port), self.state, verbose)
        self.callbacks = CallbackSender(self.state, self.httpd.base_url)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.httpd.base_url

    def start(self) -> Sandbox:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), name="videotask-sandbox", daemon=True
        )
        self._thread.start()
        self.callbacks.start()
        return self

    def stop(self) -> None:
        self.callbacks.stop()
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

    def refuse_ids(self, *task_ids: str, how: str = "http") -> None:
        """Refuse any read that holds one of these ids (a batch fails whole): with HTTP 400 (``how="http"``),
        or with HTTP 200 and the vendor's error code in the body (``how="code"``: HiDream's envelope,
        Ace's error document)."""
        if how not in ("http", "code"):
            raise ValueError(f"how must be 'http' or 'code', got {how!r}")
        with self.state.lock:
            self.state.refused_ids.update(dict.fromkeys(task_ids, how))

    def rotate_api_key(self, api_key: str) -> None:
        """HiDream: accept only this API key from now on; tokens bought with another stop working."""
        self.state.rotate_api_key(api_key)

    def counts(self) -> Counter[str]:
        """Requests served so far, by route (``hidream_batch``, ``hailuo_submit`` ...) and in all."""
        with self.state.lock:
            return Counter(self.state.counts)

    def submits_by_account(self) -> dict[str, dict[str, int]]:
        """Accepted and refused submits per account (the HiDream API key, the Ace token)."""
        with self.state.lock:
            return {
                account: {"accepted": counts["submits_accepted"], "refused": counts["submits_refused"]}
                for account, counts in self.state.account_counts.items()
            }

    def reset_counts(self) -> None:
        with self.state.lock:
            self.state.counts.clear()
            self.state.account_counts.clear()

    def finish(self, task_id: str) -> None:
        """Move a task to its outcome now."""
        self.state.finish(task_id)

    def task(self, task_id: str) -> SandboxTask:
        with self.state.lock:
            return self.state.tasks[task_id]

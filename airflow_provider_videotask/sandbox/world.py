"""The sandbox's world: tasks and their clocks, faults, counters, tokens and submit limits.

Every method is thread-safe: the HTTP server answers each request on a thread of its own.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple, Protocol

from airflow_provider_videotask.api.ace import SERVICE_NAME

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
    "expired",  # videos: the link no longer serves (HTTP 403, as an object store's signed URL answers)
    "truncate",  # videos: the full Content-Length is promised, half the body sent, the connection closed
)
FAULT_SCOPES = ("reads", "submits", "all", "videos")
# Share of a task's duration spent queued before it starts running.
QUEUED_SHARE = 0.2

# HiDream's per-minute task limits by module ("调用限制": https://www.hidreamai.com/docs/pixeling):
# 10 for txt2video and img2video, 2 for video_edit. Ace Data Cloud documents no numbers: no limit.
HIDREAM_SUBMITS_PER_MINUTE = {"txt2video": 10, "img2video": 10, "video_edit": 2}
# A day, as HiDream documents its tokens (https://www.hidreamai.com/docs/pixeling/user/token.html).
DEFAULT_TOKEN_TTL = 24 * 60 * 60.0
# Ace Data Cloud's task lists page at 12 when no limit is sent (AceDataCloud/APIs,
# openai/docs/openai_tasks_api_integration_guide.md: "limit | int | Page size (default 12)").
DEFAULT_PAGE_SIZE = 12


@dataclass
class Fault:
    """A misbehaviour the sandbox applies to the next ``count`` matching requests (``count=-1``: until cleared).

    ``only`` picks the requests: ``"reads"`` (status queries), ``"submits"``, ``"all"`` (both), or
    ``"videos"`` (video downloads, which no other scope touches).
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
        if self.only not in FAULT_SCOPES:
            raise ValueError(f"fault 'only' must be one of {', '.join(FAULT_SCOPES)}, got {self.only!r}")

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


class BatchRead(NamedTuple):
    """One batch read as the sandbox saw it: when (Unix time), and the ids it asked for."""

    at: float
    ids: list[str]


@dataclass
class SandboxTask:
    task_id: str
    vendor: str  # "hidream", or the Ace Data Cloud service ("hailuo", "kling" ...)
    module: str  # HiDream module, or the Hailuo model
    request: dict[str, Any]
    created: float  # on the sandbox clock
    created_wall: float
    duration: float
    outcome: str  # "succeeded" | "failed" | "rejected"
    videos: int = 1
    sub_ids: list[str] = field(default_factory=list)
    # How the task reads, from prompt keywords (docs/sandbox.md): [no_video], [odd_state], [word=W],
    # [key=status], [status=N], [top_level_failed], [finished_no_outcome], [passing_error]; and how it
    # calls back (sandbox/callbacks.py): [callback=lost|twice|lie], [callback_delay=N].
    variant: dict[str, str] = field(default_factory=dict)
    account: str = ""  # who submitted it (the HiDream API key or token, the Ace token)
    # Where the vendor calls back when the task ends (Ace ``callback_url``, HiDream ``notify_url``), in
    # which body ("ace", "hidream-v2", "hidream-v3"), and which callbacks went ("lie", "end").
    callback_url: str | None = None
    callback_style: str = ""
    callbacks_done: set[str] = field(default_factory=set)


def prompt_options(prompt: str, default_duration: float) -> tuple[str, float, int, dict[str, str]]:
    """Outcome, duration, video count and reading variant asked for by keywords in a prompt."""
    text = prompt.lower()
    outcome = "rejected" if "[reject]" in text else "failed" if "[fail]" in text else "succeeded"
    duration_match = re.search(r"\[duration=(\d+(?:\.\d+)?)\]", text)
    videos_match = re.search(r"\[videos=(\d+)\]", text)
    flags = ("no_video", "odd_state", "top_level_failed", "finished_no_outcome", "passing_error")
    variant = {name: "1" for name in flags if f"[{name}]" in text}
    variant.update(re.findall(r"\[(word|key)=([a-z_]+)\]", text))
    variant.update(re.findall(r"\[(status)=(-?\d+)\]", text))
    variant.update(re.findall(r"\[(callback)=(lost|twice|lie)\]", text))
    variant.update(re.findall(r"\[(callback_delay)=(\d+(?:\.\d+)?)\]", text))
    variant.update(re.findall(r"\[(video_bytes)=(\d+)\]", text))
    return (
        outcome,
        float(duration_match.group(1)) if duration_match else default_duration,
        max(1, min(4, int(videos_match.group(1)))) if videos_match else 1,
        variant,
    )


@dataclass(frozen=True)
class SubmitLimit:
    """Per account: at most ``per_window`` accepted submits in any ``window`` seconds (a sliding window),
    and at most ``max_active`` unfinished tasks. A submit beyond either is refused with HTTP 429, with a
    ``Retry-After`` (whole seconds until a slot frees) unless ``retry_after`` is False."""

    per_window: int | None = None
    window: float = 60.0
    retry_after: bool = True
    max_active: int | None = None

    @classmethod
    def parse(cls, text: str) -> tuple[tuple[str, str], SubmitLimit]:
        """``VENDOR:SCOPE=N/SECONDS[,active=K][,no-retry-after]``, as the command line takes it:
        ``hailuo:*=5/10`` is 5 Hailuo submits per 10 s for every model; ``hidream:txt2video=active=2``
        only bounds running tasks."""
        key, _, rule = text.partition("=")
        vendor, _, scope = key.partition(":")
        if not SERVICE_NAME.match(vendor) or not scope or not rule:
            raise ValueError(f"a submit limit reads VENDOR:SCOPE=N/SECONDS[,active=K][,no-retry-after], got {text!r}")
        values: dict[str, Any] = {}
        for part in rule.split(","):
            if part == "no-retry-after":
                values["retry_after"] = False
            elif part.startswith("active="):
                values["max_active"] = int(part[len("active=") :])
            else:
                count, _, seconds = part.partition("/")
                values["per_window"], values["window"] = int(count), float(seconds or 60)
        return (vendor, scope), cls(**values)


class SandboxState:
    """Tasks, faults, counters, tokens and limits."""

    def __init__(
        self,
        *,
        duration: float,
        token: str | None,
        clock: Callable[[], float],
        api_key: str | None = None,
        token_ttl: float = DEFAULT_TOKEN_TTL,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_page: int | None = None,
        limits: dict[tuple[str, str], SubmitLimit] | None = None,
    ) -> None:
        self.duration = duration
        self.token = token
        self.clock = clock
        self.api_key = api_key
        self.token_ttl = token_ttl
        self.page_size = page_size
        self.max_page = max_page
        self.limits = limits if limits is not None else hidream_limits()
        self.tasks: dict[str, SandboxTask] = {}
        self.calling_back: dict[str, SandboxTask] = {}  # tasks whose callbacks are not all sent yet
        self.faults: list[Fault] = []
        self.counts: Counter[str] = Counter()
        # Ids a read refuses, and how: "http" (HTTP 400) or "code" (HTTP 200 and an error code in the body).
        self.refused_ids: dict[str, str] = {}
        self.answering = 0  # requests being answered right now
        self.batches: deque[BatchRead] = deque(maxlen=1000)  # the latest batch reads
        # Accepted submits per (account, vendor, scope), on the sandbox clock, and counts per account.
        self.accepted: dict[tuple[str, str, str], deque[float]] = {}
        self.account_counts: dict[str, Counter[str]] = {}
        # HiDream tokens issued from API keys: token -> (API key, wall-clock expiry).
        self.tokens: dict[str, tuple[str, float]] = {}
        self.lock = threading.Lock()

    # ----- faults and counters ---------------------------------------------------------------------

    def take_fault(self, scope: str) -> Fault | None:
        """The next pending fault for a request of ``scope`` (reads, submits or videos), if any."""
        with self.lock:
            for fault in self.faults:
                if fault.only == scope or (fault.only == "all" and scope != "videos"):
                    if fault.count > 0:
                        fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                    self.counts["faults_served"] += 1
                    return fault
        return None

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[Callable[[], None]]:
        """One request being answered; ``max_in_flight`` counts the most at once (a client's parallelism).

        Yields ``done``, to call just before the answer goes out: a client that sends its next request
        the moment it has this answer must not find this one still counted (a sequential client would
        otherwise sometimes count as two at once)."""
        with self.lock:
            self.answering += 1
            self.counts["max_in_flight"] = max(self.counts["max_in_flight"], self.answering)
        answered = False

        def done() -> None:
            nonlocal answered
            if not answered:
                answered = True
                with self.lock:
                    self.answering -= 1

        try:
            yield done
        finally:
            done()

    def count_connection(self) -> None:
        with self.lock:
            self.counts["connections"] += 1

    def tally(self, name: str) -> None:
        """One more of something the sandbox did (``callbacks_sent`` ...), not a request it served."""
        with self.lock:
            self.counts[name] += 1

    def count(self, route: str, ids: int = 0, batch: Any = None) -> None:
        """One request; ``batch``: the ids a batch read asked for (the last 1,000 reads are kept)."""
        with self.lock:
            self.counts["requests"] += 1
            self.counts[route] += 1
            self.counts["ids_queried"] += ids
            if isinstance(batch, list):
                self.batches.append(BatchRead(time.time(), [str(task_id) for task_id in batch]))

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "counts": dict(self.counts),
                "tasks": len(self.tasks),
                "faults_pending": [asdict(f) for f in self.faults],
            }

    # ----- HiDream credentials ---------------------------------------------------------------------

    def issue_token(self, api_key: str) -> tuple[str, float] | None:
        """A new token for a valid API key, with its wall-clock expiry; None for a refused key."""
        with self.lock:
            if not api_key or (self.api_key is not None and api_key != self.api_key):
                return None
            token, expires = f"sbx-{uuid.uuid4().hex}", time.time() + self.token_ttl
            self.tokens[token] = (api_key, expires)
            self.counts["tokens_issued"] += 1
            return token, expires

    def token_problem(self, token: str) -> str | None:
        problem = self._token_problem(token)
        if problem is not None:
            with self.lock:
                self.counts["auth_refused"] += 1
        return problem

    def _token_problem(self, token: str) -> str | None:
        """Why a HiDream bearer token is refused ("invalid token", "token expired"), or None."""
        with self.lock:
            if self.token is not None and token == self.token:
                return None
            issued = self.tokens.get(token)
            if issued is None:
                return "invalid token"
            api_key, expires = issued
            if self.api_key is not None and api_key != self.api_key:
                return "invalid token"  # the key it came from was rotated
            return "token expired" if time.time() >= expires else None

    def account_of(self, token: str) -> str:
        """Who a bearer token bills: the API key a HiDream token was bought with, else the token itself."""
        with self.lock:
            issued = self.tokens.get(token)
            return issued[0] if issued else token

    def rotate_api_key(self, api_key: str) -> None:
        """Accept only ``api_key`` from now on; tokens bought with the old key stop working."""
        with self.lock:
            self.api_key = api_key

    # ----- tasks -----------------------------------------------------------------------------------

    def admit_submit(self, vendor: str, scope: str, account: str) -> float | None:
        """None when ``account`` may submit within ``scope`` (module or model) now, else the wait.

        Vendors limit accounts, so each account has its own window and its own running tasks.
        """
        with self.lock:
            limit = self.limits.get((vendor, scope)) or self.limits.get((vendor, "*"))
            wait = self._wait(limit, vendor, scope, account) if limit is not None else None
            outcome = "submits_refused" if wait is not None else "submits_accepted"
            self.counts[outcome] += 1
            self.account_counts.setdefault(account, Counter())[outcome] += 1
            if wait is None:
                self.accepted.setdefault((account, vendor, scope), deque()).append(self.clock())
            return wait

    def _wait(self, limit: SubmitLimit, vendor: str, scope: str, account: str) -> float | None:
        now, waits = self.clock(), []
        accepted = self.accepted.setdefault((account, vendor, scope), deque())
        while accepted and now - accepted[0] >= limit.window:
            accepted.popleft()
        if limit.per_window is not None and len(accepted) >= limit.per_window:
            waits.append(limit.window - (now - accepted[0]))
        if limit.max_active is not None:
            ends = sorted(
                task.created + task.duration
                for task in self.tasks.values()
                if (task.account, task.vendor, task.module) == (account, vendor, scope)
                and task.created + task.duration > now
            )
            if len(ends) >= limit.max_active:
                waits.append(ends[len(ends) - limit.max_active] - now)
        return max(waits) if waits else None

    def create(self, vendor: str, module: str, request: dict[str, Any], prompt: str, account: str = "") -> SandboxTask:
        outcome, duration, videos, variant = prompt_options(prompt, self.duration)
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
            variant=variant,
            account=account,
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

    def refuses(self, ids: Any) -> tuple[str, str] | None:
        """The first id of ``ids`` the sandbox was told to refuse, and how (a batch holding it fails whole)."""
        with self.lock:
            return next(((i, self.refused_ids[i]) for i in ids if isinstance(i, str) and i in self.refused_ids), None)

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

    def due_callbacks(self) -> list[tuple[SandboxTask, str, int]]:
        """The callbacks to send now, each marked sent, and how many copies: ("lie", halfway through the
        run) or ("end", once the task ended and its ``[callback_delay=N]`` passed; 2 copies with
        ``[callback=twice]``)."""
        now, due = self.clock(), []
        with self.lock:
            for task in list(self.calling_back.values()):
                if "end" in task.callbacks_done:
                    del self.calling_back[task.task_id]
                    continue
                elapsed = now - task.created
                lie = task.variant.get("callback") == "lie" and "lie" not in task.callbacks_done
                if lie and task.duration / 2 <= elapsed < task.duration:
                    task.callbacks_done.add("lie")
                    due.append((task, "lie", 1))
                delay = float(task.variant.get("callback_delay", 0))
                if "end" not in task.callbacks_done and elapsed >= task.duration + delay:
                    task.callbacks_done.add("end")
                    due.append((task, "end", 2 if task.variant.get("callback") == "twice" else 1))
        return due

    def expect_callback(self, task: SandboxTask, url: str, style: str) -> None:
        """The task is to be called back at ``url`` with the ``style`` of body (see ``callbacks.py``)."""
        with self.lock:
            task.callback_url, task.callback_style = url, style
            if task.variant.get("callback") != "lost":
                self.calling_back[task.task_id] = task

    def finish(self, task_id: str) -> None:
        with self.lock:
            task = self.tasks[task_id]
            task.created = self.clock() - task.duration - 1


def video_url(base_url: str, sub_id: str, size: str | None = None) -> str:
    """A finished video's link on the sandbox; ``size`` (the prompt's ``[video_bytes=N]``) pads the clip to N
    bytes. Answers and callbacks alike link to it."""
    return f"{base_url}/_sandbox/videos/{sub_id}.mp4" + (f"?bytes={size}" if size else "")


def hidream_limits(retry_after: bool = True) -> dict[tuple[str, str], SubmitLimit]:
    """HiDream's documented per-minute submit limits, one window per module."""
    return {
        ("hidream", module): SubmitLimit(per_window, 60.0, retry_after)
        for module, per_window in HIDREAM_SUBMITS_PER_MINUTE.items()
    }


class ServerView(Protocol):
    """The HTTP server as the vendor modules see it."""

    @property
    def state(self) -> SandboxState: ...


class Handler(Protocol):
    """What the vendor modules (``hidream.py``, ``ace.py``) may ask of the handler serving a request;
    ``server.SandboxHandler`` is it. Declared here, below both, so the vendor modules need not import
    the server that imports them."""

    @property
    def server(self) -> ServerView: ...

    @property
    def headers(self) -> Any: ...

    def send_json(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None: ...

    def bearer_token(self) -> str: ...

    def authorized(self) -> bool: ...

    def video_url(self, sub_id: str, size: str | None = None) -> str: ...

    def refuse_rate_limited(self, vendor: str, scope: str, wait: float) -> None: ...

    def apply_fault(self, vendor: str, is_submit: bool) -> bool: ...

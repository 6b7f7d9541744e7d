"""Stay under a vendor's submit limits from within one process, before the vendor has to refuse.

A connection may set ``max_submits_per_minute`` and ``max_concurrent_tasks`` (extras). Every hook of a
process that uses the same account shares one ``SubmitGate``: a submit beyond either limit is held back
before anything is sent, as a refusal (``VideoTaskRateLimitError``, nothing billed) with the wait until
it may go.

Airflow runs each task instance in a process of its own, so this paces a task that submits many (a hook
in a loop), not the instances of a mapped operator: across processes the Airflow way is a pool per
connection, sized to the vendor's concurrency (docs/spend-safety.md, "Fan-out"); this module builds no
distributed lock. Two threads of one process may both pass the concurrency check before either has its
task id: the bound is best effort there.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from airflow_provider_videotask.api.models import VideoTask

WINDOW_SECONDS = 60.0
# How long a submit held back by max_concurrent_tasks waits before it looks again (reads are free).
CONCURRENCY_RECHECK_SECONDS = 15.0


@dataclass
class SubmitGate:
    """One account's submits from this process: when they were sent, and which are still running."""

    sent: deque[float] = field(default_factory=deque)
    running: dict[str, str | None] = field(default_factory=dict)  # task id -> HiDream module (None: Hailuo)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def admit(self, now: float, per_minute: int | None) -> float | None:
        """None when a submit may be sent now (and counts it), else the seconds until one may."""
        with self.lock:
            while self.sent and now - self.sent[0] >= WINDOW_SECONDS:
                self.sent.popleft()
            if per_minute is not None and len(self.sent) >= per_minute:
                return WINDOW_SECONDS - (now - self.sent[0])
            self.sent.append(now)
            return None

    def started(self, task_id: str, module: str | None) -> None:
        with self.lock:
            self.running[task_id] = module

    def observe(self, tasks: Iterable[VideoTask]) -> None:
        """Forget the tasks a read found finished (an unknown one may just be new: it stays)."""
        with self.lock:
            for task in tasks:
                if task.state.is_terminal:
                    self.running.pop(task.task_id, None)

    def running_count(self) -> int:
        with self.lock:
            return len(self.running)

    def running_by_module(self) -> dict[str | None, list[str]]:
        with self.lock:
            grouped: dict[str | None, list[str]] = {}
            for task_id, module in self.running.items():
                grouped.setdefault(module, []).append(task_id)
            return grouped


_GATES: dict[str, SubmitGate] = {}
_GATES_LOCK = threading.Lock()


def gate_for(account: str) -> SubmitGate:
    """The process-wide gate of an account (see ``ConnectionSettings.account``)."""
    with _GATES_LOCK:
        return _GATES.setdefault(account, SubmitGate())


def known_gate(account: str) -> SubmitGate | None:
    """The account's gate if this process has submitted with it (reads need not create one)."""
    with _GATES_LOCK:
        return _GATES.get(account)

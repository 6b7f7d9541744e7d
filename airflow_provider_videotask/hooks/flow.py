"""How one hook call is written once for the sync and the async path (as httpx's ``Auth.auth_flow``):
the call is a generator, a *flow*, that yields what it needs done and is sent back the outcome.

A flow yields three things only: :class:`Send` (one HTTP request), :class:`Sleep` (a wait before a
retry) and :class:`ReadConnection` (the Airflow connection: a read of Airflow's metadata database or
secrets backend, blocking on the worker, async in the triggerer). Flows nest with ``yield from``. The
two drivers, :func:`run` and :func:`arun`, are the same loop: perform the action (sync or async), send
the result back, or throw the vendor error in, where the flow's own ``try`` decides (retry, renew a
token, split a batch).

    def read_one(hook, task_id):                      # a flow
        settings = yield ReadConnection(fresh=False)
        return (yield Send(settings, request_for(task_id), token=settings.secret))

    run(read_one(hook, "t-1"), hook._perform)           # operators, poke mode
    await arun(read_one(hook, "t-1"), hook._aperform)   # triggers
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, Union

from airflow_provider_videotask.api.errors import VideoTaskApiError

if TYPE_CHECKING:
    from airflow_provider_videotask.api.common import ApiRequest
    from airflow_provider_videotask.hooks.connection import ConnectionSettings

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """One HTTP request; the outcome sent back is its answer, read (and parsed with ``parse``, where the
    answer is read: see ``LARGE_ANSWER_BYTES``). The driver masks ``token`` before it is first sent."""

    settings: ConnectionSettings
    request: ApiRequest
    token: str | None = field(repr=False)
    parse: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class ReadConnection:
    """The connection's settings; ``fresh``: read it again, whatever its age (after an auth refusal)."""

    fresh: bool = False


Action = Union[Send, Sleep, ReadConnection]  # noqa: UP007 - a runtime alias on Python 3.10
Flow = Generator[Action, Any, T]


def run(flow: Flow[T], perform: Callable[[Action], Any]) -> T:
    """Drive ``flow`` with blocking I/O."""
    done, value = _advance(flow, None, None)
    while not done:
        done, value = _advance(flow, *_attempt(perform, value))
    return value  # type: ignore[no-any-return]


async def arun(flow: Flow[T], perform: Callable[[Action], Awaitable[Any]]) -> T:
    """Drive ``flow`` on the event loop: :func:`run`, awaiting each action."""
    done, value = _advance(flow, None, None)
    while not done:
        done, value = _advance(flow, *(await _aattempt(perform, value)))
    return value  # type: ignore[no-any-return]


def _advance(flow: Flow[Any], outcome: Any, error: VideoTaskApiError | None) -> tuple[bool, Any]:
    """Hand the flow an action's outcome (or its error): (False, the next action) or (True, what it returned)."""
    try:
        return False, flow.throw(error) if error is not None else flow.send(outcome)
    except StopIteration as stop:
        return True, stop.value


def _attempt(perform: Callable[[Action], Any], action: Action) -> tuple[Any, VideoTaskApiError | None]:
    try:
        return perform(action), None
    except VideoTaskApiError as error:
        return None, error


async def _aattempt(
    perform: Callable[[Action], Awaitable[Any]], action: Action
) -> tuple[Any, VideoTaskApiError | None]:
    try:
        return await perform(action), None
    except VideoTaskApiError as error:
        return None, error


def nothing_to_ask(value: T) -> Flow[T]:
    """A flow that needs nothing done: ``value``, for a step that is a flow only where a subclass needs one."""
    yield from ()
    return value

"""The provider's metrics, through Airflow's ``Stats``: StatsD or OpenTelemetry, as ``[metrics]`` configures.

Every name is under ``videotask.`` (after Airflow's own ``[metrics] statsd_prefix``). A closed set of
outcomes is part of the name, as in Airflow's own metrics (``ti.finish.<state>``), so a plain StatsD
without tags still tells them apart; who it is about goes in tags. The names, their tags and example
queries: ``docs/metrics.md``; ``tests/test_metrics.py`` checks each against a real StatsD listener.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from airflow.providers.common.compat.sdk import Stats

from airflow_provider_videotask.api import errors
from airflow_provider_videotask.api.models import TaskState, VideoTask

PREFIX = "videotask"
_HOSTNAME = socket.gethostname()

# The kind of a failed poll, by the error's class (most specific first).
_ERROR_KINDS: tuple[tuple[type[errors.VideoTaskError], str], ...] = (
    (errors.VideoTaskAuthError, "auth"),
    (errors.VideoTaskQuotaError, "quota"),
    (errors.VideoTaskRateLimitError, "rate_limit"),
    (errors.VideoTaskServerError, "server"),
    (errors.VideoTaskTransportError, "transport"),
    (errors.VideoTaskResponseError, "response"),
    (errors.VideoTaskRequestError, "request"),
)
ERROR_KINDS = (*(kind for _, kind in _ERROR_KINDS), "other")


def _tags(vendor: str, conn_id: str, **more: str | None) -> dict[str, str]:
    return {"vendor": vendor, "conn_id": conn_id, **{key: value for key, value in more.items() if value}}


def submitted(fate: str, *, vendor: str, conn_id: str, model: str | None) -> None:
    """One submit and how it ended (``accepted`` or a :class:`~api.errors.SubmitFate`)."""
    Stats.incr(f"{PREFIX}.submit.{fate}", tags=_tags(vendor, conn_id, model=model))


def error_kind(error: BaseException) -> str:
    return next((kind for cls, kind in _ERROR_KINDS if isinstance(error, cls)), "other")


@contextmanager
def poll(*, vendor: str, conn_id: str) -> Iterator[None]:
    """Count the batch read inside, and its failure by kind."""
    tags = _tags(vendor, conn_id)
    Stats.incr(f"{PREFIX}.poll.requests", tags=tags)
    try:
        yield
    except Exception as error:
        Stats.incr(f"{PREFIX}.poll.errors.{error_kind(error)}", tags=tags)
        raise


def finished(tasks: Sequence[VideoTask], *, vendor: str, conn_id: str, source: str = "poll") -> None:
    """The tasks a wait saw over, with how long they took and how soon they were seen, by what saw them
    (``source``: a poll or a vendor's callback)."""
    tags = _tags(vendor, conn_id, source=source)
    for task in tasks:
        if not task.state.is_terminal:
            continue
        Stats.incr(f"{PREFIX}.task.finished.{task.state.value}", tags=tags)
        if task.seconds is not None and task.state is TaskState.SUCCEEDED:  # the time to a video
            Stats.timing(f"{PREFIX}.task.generation_time", task.seconds * 1000, tags=tags)
        if task.detection_delay is not None:
            Stats.timing(f"{PREFIX}.task.detection_delay", task.detection_delay * 1000, tags=tags)


# What the callback receiver did with a callback (callbacks/receiver.py).
CALLBACK_OUTCOMES = ("accepted", "rejected", "ignored")


def callback(outcome: str, *, vendor: str | None, conn_id: str | None) -> None:
    """One callback: ``accepted`` (it resumed its wait), ``noted`` (its task is over, others of the wait run
    on), ``held`` (it came before its task deferred: read when it does), ``ignored`` (valid, but it changed
    nothing: late, duplicate, or the vendor says the task still runs) or ``rejected`` (a bad signature, a
    body too large)."""
    _set_up_in_the_api_server()
    Stats.incr(f"{PREFIX}.callback.{outcome}", tags=_tags(vendor or "unknown", conn_id or "unknown"))


def _set_up_in_the_api_server() -> None:
    """Airflow 3.2's api-server never sets up the Task SDK's ``Stats`` (3.3's app does; 3.0 and 3.1 build it
    from ``[metrics]`` on first use), so the receiver's counts would go nowhere: there, set it up as Airflow's
    own components do, once. Elsewhere ``Stats`` has its factory already, and this does nothing."""
    if getattr(type(Stats), "factory", "absent") is not None:
        return
    from airflow.sdk.observability.metrics import stats_utils  # type: ignore[import-not-found,unused-ignore]

    Stats.initialize(factory=stats_utils.get_stats_factory(Stats))  # type: ignore[attr-defined,call-arg,unused-ignore]


def waiters(count: int, *, vendor: str, conn_id: str, module: str | None) -> None:
    """How many waits one shared poller serves now (one poller per triggerer and connection: ``hostname``
    tells the triggerers apart)."""
    Stats.gauge(f"{PREFIX}.poller.waiters", count, tags=_tags(vendor, conn_id, module=module, hostname=_HOSTNAME))

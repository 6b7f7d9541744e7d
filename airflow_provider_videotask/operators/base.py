"""What both video operators share: submit once, remember the task, wait, publish the URLs."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    BaseOperator,
    ResumableJobMixin,
    conf,
)
from airflow.providers.standard.triggers.temporal import DateTimeTrigger

from airflow_provider_videotask import metrics
from airflow_provider_videotask.api.errors import (
    SubmitFate,
    VideoTaskApiError,
    VideoTaskError,
    VideoTaskValidationError,
    submit_fate,
)
from airflow_provider_videotask.api.models import TaskState
from airflow_provider_videotask.callbacks.plan import CallbackPlan, plan_callback
from airflow_provider_videotask.gallery.tiles import REQUEST_XCOM_KEY, request_record
from airflow_provider_videotask.hooks.base import VideoTaskHook
from airflow_provider_videotask.hooks.retry import SubmitBackoff
from airflow_provider_videotask.links import RunVideosLink, VideoLink
from airflow_provider_videotask.operators.notices import deprecated_arguments, warn_no_reattach
from airflow_provider_videotask.outputs import OUTPUT_TEMPLATE_FIELDS, KeepsVideos, declare_output, keeper
from airflow_provider_videotask.spend import (
    ESTIMATED_COST_XCOM_KEY,
    RUNNABLE_STATES,
    check_limit,
    cost_refusal,
    fan_out_refusal,
    price_of,
    prices_of,
)
from airflow_provider_videotask.storage import DEFAULT_FILE_NAME
from airflow_provider_videotask.wait_rules import (
    DEFAULT_POLL_INTERVAL,
    Verdict,
    WaitSettings,
    check_seconds,
    judge,
    stopped_waiting,
)
from airflow_provider_videotask.waiting import WaitPlan, publish, push_video_task_ids, read_event

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

# Airflow 3.3 brought the task state store that lets a retry find the task its first try paid for;
# before that the compat stand-in submits anew on every try.
RETRY_REATTACHES = ResumableJobMixin.__module__.startswith("airflow.sdk")
_ACTIVE = {TaskState.QUEUED.value, TaskState.RUNNING.value, TaskState.UNKNOWN.value}

DEFAULT_SUBMIT_TIMEOUT = 60 * 60.0
# A refused submit's wait up to this long is slept in the worker; a longer one, in deferrable mode, is
# spent in the triggerer (a timer trigger), so a fan-out waiting its turn holds no worker slots.
SLEEP_IN_WORKER_AT_MOST = 5.0
SUBMIT_BACKOFF = SubmitBackoff()
# Set in the task state store (Airflow 3.3+) while a submit is sent and its answer not yet handled.
SUBMIT_IN_FLIGHT_KEY = "videotask_submit_in_flight"

# Indirection so tests can observe the waits between refused submits without waiting.
_sleep = time.sleep


class VideoGenerationOperator(KeepsVideos, ResumableJobMixin, BaseOperator):  # type: ignore[misc]
    """Submit one video task (paid, sent once), then wait for it and return its video URLs.

    Subclasses say how to validate and submit; this class owns the rest. On Airflow 3.3+ the vendor
    task id is kept in the task state store, so a retry reattaches to a task that is still running or
    has succeeded, and submits again only when it failed.

    :param wait_for_completion: wait for the video (default) or return the task ids at once.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param poll_interval: seconds between status polls.
    :param timeout: seconds to wait for the video before the task fails.
    :param unknown_grace_period: seconds the new task may stay unknown to the vendor before it counts as failed.
    :param max_consecutive_errors: transient poll failures in a row (after the hook's retries) before giving up.
    :param unrecognised_state_grace_period: seconds the task may report a state this provider does not know
        (waited on as running) before it counts as failed (default 600).
    :param progress_interval: seconds between two progress lines while the task changes (default 30).
    :param submit_timeout: seconds a submit the vendor refused for now (HTTP 429, the connection's own
        pacing: nothing billed) keeps being tried again, counted from the first refusal (default 3600).
        A submit whose fate is unknown (no answer, a 5xx) is never tried again, and neither is one the
        vendor rejected (400, 403 ...): both fail the task at once, without Airflow retries.

    :param max_videos_per_run: the most instances a mapped fan-out of this task may have (default: no
        limit); past it every instance fails before submitting, naming the size and the limit.
    :param max_cost: the most one submit may cost by the connection's price table (extra ``prices``:
        model or module to the price of one video); a submit estimated above it, or with no price to
        check, is refused before anything is paid. See ``docs/spend-safety.md``.
    :param output_path: where to keep the videos (templated), an object storage URI such as
        ``file:///data/videos/{{ ds }}/`` or ``s3://bucket/videos/{{ ds }}/`` (see ``docs/outputs.md``).
        Each video is stored once under it, recorded in XCom ``videos``, and announced as an event of the
        asset the path names (the part before its first template); ``return_value`` then holds the
        stored URIs instead of the vendor's temporary URLs.
    :param output_conn_id: the Airflow connection of that storage (e.g. ``aws_default`` for ``s3://``).
    :param file_name: the name of each video under ``output_path`` (templated), from ``{vendor}``,
        ``{video_task_id}``, ``{n}`` (``-1``, ``-2`` ... when a task made several) and ``{ext}``.
    :param callbacks: ask the vendor to call back when the task ends, waking the wait within seconds
        (default: on when the connection has the extras ``callback_base_url`` and ``callback_secret``;
        ``False`` polls only; ``True`` fails before paying when the connection cannot). Polling goes on
        every ``callback_fallback_interval`` seconds as the safety net. See ``docs/callbacks.md``.

    Returns (XCom ``return_value``) the video URLs; the vendor task id is pushed as XCom
    ``video_task_ids`` (and, until 0.3, ``task_ids``) the moment it exists, and the task's state as XCom
    ``tasks`` when the wait ends.
    """

    template_fields: Sequence[str] = OUTPUT_TEMPLATE_FIELDS

    external_id_key = "videotask_vendor_task_id"
    # The vendor connection's argument: hidream_conn_id, hailuo_conn_id ... (a subclass of its own that passes
    # ``conn_id=`` instead, as before 0.3, keeps it under ``_conn_id``).
    conn_id_argument: ClassVar[str] = "_conn_id"
    operator_extra_links = (VideoLink(), RunVideosLink())
    ui_color = "#e4d4ff"

    def __init__(
        self,
        *,
        conn_id: str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = 2 * 60 * 60,
        unknown_grace_period: float = WaitSettings.unknown_grace_period,
        max_consecutive_errors: int = WaitSettings.max_consecutive_errors,
        unrecognised_state_grace_period: float = WaitSettings.unrecognised_state_grace_period,
        progress_interval: float = WaitSettings.progress_interval,
        submit_timeout: float = DEFAULT_SUBMIT_TIMEOUT,
        max_videos_per_run: int | None = None,
        max_cost: float | None = None,
        output_path: str | None = None,
        output_conn_id: str | None = None,
        file_name: str = DEFAULT_FILE_NAME,
        callbacks: bool | None = None,
        **kwargs: Any,
    ) -> None:
        output_asset = declare_output(output_path, file_name, kwargs)
        if conn_id is not None and self.conn_id_argument != "_conn_id":  # a built-in operator: it never took it
            raise VideoTaskValidationError(
                f"{type(self).__name__} takes its connection as {self.conn_id_argument}=..., not conn_id="
            )
        deprecated_arguments(type(self).__name__, fail_on=kwargs.pop("fail_on", None), conn_id=conn_id)
        super().__init__(**kwargs)
        check_seconds("submit_timeout", submit_timeout)
        check_limit("max_videos_per_run", max_videos_per_run, int)
        check_limit("max_cost", max_cost, float)
        self.max_videos_per_run = max_videos_per_run
        self.max_cost = max_cost
        check_seconds("poll_interval", poll_interval)
        self.wait_settings = WaitSettings(
            unknown_grace_period=unknown_grace_period,
            max_consecutive_errors=max_consecutive_errors,
            unrecognised_state_grace_period=unrecognised_state_grace_period,
            progress_interval=progress_interval,
        )
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.submit_timeout = submit_timeout
        if callbacks is not None and not isinstance(callbacks, bool):
            raise VideoTaskValidationError(f"callbacks must be True, False or None, got {callbacks!r}")
        self.callbacks = callbacks
        self._callback: CallbackPlan | None = None  # where this try's submit asks the vendor to call back
        if output_path is not None and not wait_for_completion:
            raise VideoTaskValidationError(
                "output_path needs wait_for_completion=True: videos are kept when the task sees them finished"
            )
        self._keep_output(output_path, output_conn_id, file_name, output_asset)
        if conn_id is not None:
            self._conn_id = conn_id
        self._result: list[str] | None = None
        self._video_task_id: str | None = None  # the paid task this try waits on, once it exists
        # Refused submits so far, and when the first was refused: carried across a wait in the triggerer.
        self._refusals = 0
        self._first_refused_at: float | None = None

    @property
    def conn_id(self) -> str:
        """The vendor connection, kept once under its Airflow name (``hidream_conn_id`` ...)."""
        conn_id = getattr(self, self.conn_id_argument, None)
        if not conn_id:
            raise VideoTaskValidationError(f"{type(self).__name__} has no connection: pass {self.conn_id_argument}")
        return str(conn_id)

    @conn_id.setter
    def conn_id(self, conn_id: str) -> None:
        setattr(self, self.conn_id_argument, conn_id)

    # ----- what each vendor fills in -------------------------------------------------------------

    @property
    def hook(self) -> VideoTaskHook:
        raise NotImplementedError

    @property
    def module(self) -> str | None:
        """The HiDream module the task lives in (None for Hailuo)."""
        return None

    def validate(self) -> None:
        """Refuse, before anything is paid for, what the vendor would refuse."""
        raise NotImplementedError

    def fields(self) -> dict[str, Any]:
        """The submit's fields (recorded with each stored video, secrets left out)."""
        return {}

    def _validate_if_known(self) -> None:
        """At parse time, check what is already known, with the message the run would give; a task
        whose fields are rendered later (templates, upstream outputs) is checked at run time, before paying."""
        if not any(_renders_later(getattr(self, name, None)) for name in self.template_fields):
            self.validate()

    def submit(self) -> str:
        """Send :meth:`submit_fields`; the new task's id."""
        raise NotImplementedError

    def submit_fields(self) -> dict[str, Any]:
        """What the submit sends: :meth:`fields` and, when callbacks are on, the callback URL (kept out of
        ``fields``, which is recorded with the videos: the URL is a credential)."""
        fields = self.fields()
        if self._callback is not None:
            fields[self._callback.submit_field] = self._callback.url
        return fields

    # ----- execution -----------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        self.validate()
        self.output_spec()  # as rendered: a bad output is known before anything is paid
        self._guard_spend(context)
        context["ti"].xcom_push(
            key=REQUEST_XCOM_KEY, value=request_record(self.hook.conn_type, self.module, self.fields())
        )
        self._callback = plan_callback(
            self.hook,
            self.conn_id,
            self.callbacks,
            self.fields(),
            context["ti"],
            self.log,
            deferred=self.deferrable and self.wait_for_completion,
        )
        if not RETRY_REATTACHES:
            warn_no_reattach(self.log)
        return self.execute_resumable(context)

    @property
    def priced_as(self) -> str | None:
        """What the connection's price table is keyed by for this submit (HiDream: the module)."""
        return self.module

    def _guard_spend(self, context: Context) -> None:
        """The spend guards (``spend.py``), before anything is paid."""
        ti = context["ti"]
        if self.max_videos_per_run is not None and getattr(ti, "map_index", -1) not in (None, -1):
            size = ti.get_ti_count(dag_id=ti.dag_id, task_ids=[ti.task_id], run_ids=[ti.run_id], states=RUNNABLE_STATES)
            if (refusal := fan_out_refusal(size, self.max_videos_per_run, self.task_id)) is not None:
                raise AirflowFailException(refusal)
        settings = self.hook.get_settings()
        try:
            prices = prices_of(settings.extra("prices"), self.conn_id)
        except VideoTaskValidationError as error:
            if self.max_cost is not None:
                raise
            self.log.warning("%s; no cost is estimated", error)  # a typo in prices must not stop other work
            prices = {}
        estimate, priced_as = price_of(prices, self.priced_as or "", self.fields())
        if estimate is not None:
            self.log.info(
                "Estimated cost of this video: %g (%s, from connection %r)", estimate, priced_as, self.conn_id
            )
            ti.xcom_push(key=ESTIMATED_COST_XCOM_KEY, value=estimate)
        if (refusal := cost_refusal(estimate, self.max_cost, priced_as, self.conn_id)) is not None:
            raise AirflowFailException(refusal)

    def resume_submit(
        self, context: Context, event: Any = None, refusals: int = 0, first_refused_at: float | None = None
    ) -> Any:
        """Back from a refused submit's wait in the triggerer: try the submit again."""
        self._refusals, self._first_refused_at = refusals, first_refused_at
        return self.execute_resumable(context)

    def on_kill(self) -> None:
        """A person marked the task failed or success, or cleared it, while it waited in a worker."""
        if self._video_task_id is not None:
            self.log.warning(stopped_waiting([self._video_task_id], self.hook.vendor))

    def submit_job(self, context: Context) -> str:
        task_id = self._submit_when_admitted(context)
        # Published the moment it exists, so it is never lost, whatever happens next.
        push_video_task_ids(context, [task_id])
        return task_id

    def _submit_when_admitted(self, context: Context) -> str:
        """Submit; a refusal (nothing billed) waits and tries again, any other failure ends the task at once.

        On Airflow 3.3+ a submit is marked in the task state store the moment it leaves (the hook says
        when), with the task id kept before it, until its answer is handled: a try killed meanwhile
        (``kill -9``, a lost worker) leaves the mark, and the retry fails as of unknown fate instead of
        sending again (the vendor may have created the task, and its id never arrived).
        """
        store: Any = context.get("task_state_store") if RETRY_REATTACHES else None
        if store is not None and (mark := store.get(SUBMIT_IN_FLIGHT_KEY)):
            if isinstance(mark, dict) and mark.get("previous_id") == store.get(self.external_id_key):
                self._count_submit(SubmitFate.UNKNOWN.value)
                raise AirflowFailException(self._interrupted_submit(str(mark.get("sent_at")), context))
            store.delete(SUBMIT_IN_FLIGHT_KEY)  # left by a try whose task id was kept after all: stale
        while True:
            attempt_at = time.time()
            if store is not None:
                previous_id = store.get(self.external_id_key)
                mark = {"sent_at": _iso(attempt_at), "previous_id": previous_id}
                self.hook.before_paid_send = functools.partial(store.set, SUBMIT_IN_FLIGHT_KEY, mark)
            try:
                task_id = self.submit()
            except VideoTaskApiError as error:
                fate = submit_fate(error)
                if store is not None:
                    store.delete(SUBMIT_IN_FLIGHT_KEY)  # answered: this try says what happened itself
                self._count_submit(fate.value)
                if fate is SubmitFate.UNKNOWN:
                    raise AirflowFailException(self._unknown_fate(error, attempt_at)) from None
                if fate is SubmitFate.REJECTED:
                    raise AirflowFailException(
                        f"{error}. The vendor rejected the submit: no task was created and nothing was billed; "
                        "fix what it names, then clear this task."
                    ) from None
                self._wait_to_submit_again(error)
            else:
                if store is not None:
                    store.set(self.external_id_key, task_id)  # kept before the mark goes (the mixin sets it too)
                    store.delete(SUBMIT_IN_FLIGHT_KEY)
                self._count_submit("accepted")
                return task_id
            finally:
                self.hook.before_paid_send = None

    def _count_submit(self, fate: str) -> None:
        metrics.submitted(fate, vendor=self.hook.conn_type, conn_id=self.conn_id, model=self.priced_as)

    def _wait_to_submit_again(self, error: VideoTaskApiError) -> None:
        """One refused submit: wait its turn (here, or in the triggerer), or give up at ``submit_timeout``."""
        now = time.time()
        if self._first_refused_at is None:
            self._first_refused_at = now
        self._refusals += 1
        delay = SUBMIT_BACKOFF.delay_for(self._refusals, error)
        waited = now - self._first_refused_at
        if waited + delay > self.submit_timeout:
            raise AirflowException(
                f"{error}. The submit was refused {self._refusals} time(s) over {waited:.0f}s, and the next try "
                f"would pass submit_timeout={self.submit_timeout:g}s; nothing was billed. Raise submit_timeout, or "
                "submit fewer at once (a pool per connection, max_active_tis_per_dag: docs/spend-safety.md)."
            )
        in_triggerer = self.deferrable and delay > SLEEP_IN_WORKER_AT_MOST
        self.log.warning(
            "Submit attempt %d refused, nothing billed: %s. Trying again in %.1fs (%s); giving up %.0fs after "
            "the first refusal (submit_timeout).",
            self._refusals,
            error,
            delay,
            "waiting in the triggerer" if in_triggerer else "waiting in this worker",
            self.submit_timeout,
        )
        if in_triggerer:
            self.defer(
                trigger=DateTimeTrigger(moment=datetime.fromtimestamp(now + delay, timezone.utc)),
                method_name="resume_submit",
                kwargs={"refusals": self._refusals, "first_refused_at": self._first_refused_at},
            )
        _sleep(delay)

    def _interrupted_submit(self, sent_at: str, context: Context) -> str:
        ti = context["ti"]
        return (
            f"An earlier try of this task was stopped while its submit, sent at {sent_at}, waited for the answer: "
            f"{self.hook.vendor} may have created (and billed) the task, but its id never arrived. It is not sent "
            f"again. Look for a task submitted at about {sent_at} in {self.hook.console}. If there is none, delete "
            f"the key {SUBMIT_IN_FLIGHT_KEY!r} of this task's state store (REST API: DELETE /api/v2/dags/{ti.dag_id}"
            f"/dagRuns/{ti.run_id}/taskInstances/{ti.task_id}/state-store/{SUBMIT_IN_FLIGHT_KEY}"
            f"{'?map_index=' + str(ti.map_index) if getattr(ti, 'map_index', -1) not in (None, -1) else ''}) and "
            "clear this task; if there is one, watch it with VideoTaskSensor(video_task_ids=[...])."
        )

    def _unknown_fate(self, error: VideoTaskApiError, attempt_at: float) -> str:
        sent_at = _iso(attempt_at)
        return (
            f"{error}. The submit's fate is unknown: {self.hook.vendor} may have created (and billed) the task. "
            f"It is not sent again, and this task is not retried. Look for a task submitted at about {sent_at} "
            f"in {self.hook.console}; clear this task only if there is none (clearing submits again)."
        )

    def get_job_status(self, external_id: Any, context: Context) -> str:
        [task] = self.hook.get_tasks([str(external_id)], self.module)
        self.log.info("Vendor task %s from an earlier try is %s", external_id, task.state.value)
        return task.state.value

    def is_job_active(self, status: str) -> bool:
        return status in _ACTIVE

    def is_job_succeeded(self, status: str) -> bool:
        return status == TaskState.SUCCEEDED.value

    def poll_until_complete(self, external_id: Any, context: Context) -> Any:
        video_task_ids = [str(external_id)]
        self._video_task_id = video_task_ids[0]
        push_video_task_ids(context, video_task_ids)
        if not self.wait_for_completion:
            self._result = video_task_ids
            return self._result
        plan = WaitPlan(
            self.conn_id,
            self.hook.conn_type,
            video_task_ids,
            self.module,
            self.poll_interval,
            self.wait_settings,
            started_at=time.time(),
            timeout=self.timeout,
            callback_fallback_interval=None if self._callback is None else self._callback.fallback_interval,
        )
        if self.deferrable:
            plan.defer(self)
        self._result = self._publish(context, plan.waiter(self.hook, self.log).wait(self.poll_interval))
        return self._result

    def get_job_result(self, external_id: Any, context: Context) -> Any:
        if self._result is not None:
            return self._result
        # A retry found the task already succeeded: publish it without waiting.
        push_video_task_ids(context, [str(external_id)])
        if not self.wait_for_completion:
            return [str(external_id)]
        tasks = self.hook.get_tasks([str(external_id)], self.module)
        verdict = judge(tasks, fail_on="any", waited=0, unknown_grace_period=self.wait_settings.unknown_grace_period)
        return self._publish(context, verdict)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> list[str]:
        """Resume after the trigger fired: validate the event and branch on its status."""
        return self._publish(context, read_event(event))

    def _publish(self, context: Context, verdict: Verdict) -> list[str]:
        try:
            return publish(
                context,
                verdict,
                self.log,
                keeper(context, self.output_spec(), self.hook.conn_type, self.fields()),
                vendor=self.hook.conn_type,
                conn_id=self.conn_id,
            )
        except (VideoTaskError, OSError) as error:
            if RETRY_REATTACHES or isinstance(error, VideoTaskValidationError):
                raise  # a retry reattaches to the paid task and stores it again; nothing is paid twice
            # Before Airflow 3.3 a retry would submit (and pay) again: end here, saying how to recover.
            ids = ", ".join(task.task_id for task in verdict.tasks)
            raise AirflowFailException(
                f"The video task(s) {ids} finished, and were paid for, but keeping the videos failed: {error}. "
                "This task is not retried (on this Airflow a retry would submit again). Store them with "
                f"VideoTaskSensor(video_task_ids=[...], output_path=...) or StoreVideosOperator."
            ) from error


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="seconds")


def _renders_later(value: Any) -> bool:
    """A field value Airflow renders only when the task runs: a template, or an upstream output."""
    if value is None or isinstance(value, (bool, int, float)):
        return False
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(_renders_later(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_renders_later(item) for item in value)
    return True  # an XComArg and the like

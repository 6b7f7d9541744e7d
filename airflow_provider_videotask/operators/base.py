"""What every video operator shares: check everything, submit each video once, wait, hand on the results.

One video (``prompt=``) is a batch of one: the same path as ``prompts=[...]``. The paid-submit protocol
(the ledger, waves of submits, refusals) is in ``paid_submits.py``; the items in ``items.py``; how the
wait ends, item by item, in ``results.py``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSkipException,
    BaseOperator,
    conf,
)
from airflow.providers.standard.triggers.temporal import DateTimeTrigger

from airflow_provider_videotask import metrics
from airflow_provider_videotask.api.errors import SubmitFate, VideoTaskApiError, VideoTaskValidationError
from airflow_provider_videotask.callbacks.plan import CallbackPlan, plan_callback
from airflow_provider_videotask.hooks.base import VideoTaskHook
from airflow_provider_videotask.hooks.retry import SubmitBackoff
from airflow_provider_videotask.ledger import Ledger, fingerprint, open_store, where_kept
from airflow_provider_videotask.links import RunVideosLink, VideoLink, mark_no_video_yet
from airflow_provider_videotask.operators.items import batch_items, check_items, renders_later
from airflow_provider_videotask.operators.notices import deprecated_arguments
from airflow_provider_videotask.operators.paid_submits import (
    Item,
    PaidSubmits,
    reattach,
    refusal_of,
    submit_failure,
)
from airflow_provider_videotask.operators.results import (
    ItemResult,
    batch_summary,
    check_allowed_failures,
    failure_list,
    item_results,
    keep_items,
    past_allowed,
)
from airflow_provider_videotask.outputs import OUTPUT_TEMPLATE_FIELDS, KeepsVideos, declare_output
from airflow_provider_videotask.spend import (
    RUNNABLE_STATES,
    batch_estimate,
    check_limit,
    cost_refusal,
    fan_out_refusal,
    price_of,
    task_prices,
)
from airflow_provider_videotask.storage import DEFAULT_FILE_NAME
from airflow_provider_videotask.wait_rules import (
    DEFAULT_POLL_INTERVAL,
    Verdict,
    WaitSettings,
    check_seconds,
    stopped_waiting,
)
from airflow_provider_videotask.waiting import WaitPlan, push_tasks, push_video_task_ids, read_event, with_done
from airflow_provider_videotask.xcoms import ESTIMATED_COST_XCOM_KEY, REQUEST_XCOM_KEY, VIDEOS_XCOM_KEY, request_record

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

# Every vendor operator's template fields end with these.
VIDEO_TEMPLATE_FIELDS = ("prompts", *OUTPUT_TEMPLATE_FIELDS)
DEFAULT_SUBMIT_TIMEOUT = 60 * 60.0
# A refused submit's wait up to this long is slept in the worker; a longer one, in deferrable mode, is
# spent in the triggerer (a timer trigger), so a fan-out waiting its turn holds no worker slots.
SLEEP_IN_WORKER_AT_MOST = 5.0
SUBMIT_BACKOFF = SubmitBackoff()
# A batch logs how its submits go at most this often.
SUBMIT_PROGRESS_SECONDS = 30.0

# Indirection so tests can observe the waits between refused submits without waiting.
_sleep = time.sleep


class VideoGenerationOperator(KeepsVideos, BaseOperator):
    """Submit video tasks (paid, each sent once), wait for them, and return their video URLs.

    Subclasses say how to validate and submit one video; this class owns the rest. Every submit is kept
    in a ledger that outlives the try (``ledger.py``), so a retry, a killed worker or a cleared task
    reattaches to what was paid on every supported Airflow, and never sends a submit of unknown fate again.

    :param prompts: many videos in one task (templated): a list whose items are a prompt, or a dict of this
        operator's own per-video arguments (``{"prompt": ..., "model": ...}``); the operator's arguments are
        the defaults. ``return_value`` then holds one entry per item, in order. See ``docs/batches.md``.
    :param allowed_failures: how many videos may fail while the task succeeds: a count, or a fraction of
        the batch (``0.05``); default 0. Past it the task fails once every video is final, after keeping
        and recording every video that succeeded.
    :param wait_for_completion: wait for the videos (default) or return the task ids at once.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param poll_interval: seconds between status polls; ``timeout``: seconds to wait before the task fails;
        ``unknown_grace_period``, ``max_consecutive_errors``, ``unrecognised_state_grace_period`` and
        ``progress_interval``: how the wait judges what it sees (``wait_rules.WaitSettings``).
    :param submit_timeout: seconds refused submits (HTTP 429, the connection's pacing: nothing billed) are
        tried again without one getting through (default 3600). See ``docs/spend-safety.md``.
    :param max_videos_per_run: the most videos this task may make in a run, counting a batch's items and
        the instances of a mapped fan-out (default: no limit); past it nothing is submitted.
    :param max_cost: the most the task's submits may cost together by the connection's price table (extra
        ``prices``); a batch estimated above it, or with a video it cannot price, is refused before
        anything is paid. See ``docs/spend-safety.md``.
    :param output_path: where to keep the videos (templated), e.g. ``s3://bucket/videos/{{ ds }}/``; with
        ``output_conn_id`` (its connection) and ``file_name`` (each file's name): ``docs/outputs.md``.
    :param callbacks: ask the vendor to call back when a task ends, waking the wait within seconds at one read
        a video (default: on when the connection has the extras ``callback_base_url`` and ``callback_secret``;
        ``False`` polls only; ``True`` fails before paying when the connection cannot). See ``docs/callbacks.md``.

    Returns (XCom ``return_value``) the video URLs (a list per item with ``prompts``); the vendor task ids
    are pushed as XCom ``video_task_ids`` once submitted, and the tasks' states as XCom ``tasks``.
    """

    template_fields: Sequence[str] = VIDEO_TEMPLATE_FIELDS

    # The vendor connection's argument: hidream_conn_id, hailuo_conn_id ... (a subclass of its own that passes
    # ``conn_id=`` instead, as before 0.3, keeps it under ``_conn_id``).
    conn_id_argument: ClassVar[str] = "_conn_id"
    operator_extra_links = (VideoLink(), RunVideosLink())
    ui_color = "#e4d4ff"

    def __init__(
        self,
        *,
        conn_id: str | None = None,
        prompts: Any = None,
        allowed_failures: float = 0,
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
        _check_arguments(locals())  # every argument by its name, as the messages name them
        self.prompts = prompts
        self.allowed_failures = allowed_failures
        self.max_videos_per_run = max_videos_per_run
        self.max_cost = max_cost
        # A batch waits until every video is final, and judges the failures itself (allowed_failures).
        self.wait_settings = WaitSettings(
            fail_on="all",
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
        self.callbacks = callbacks
        self._callback: CallbackPlan | None = None  # where this try's submits ask the vendor to call back
        self._keep_output(output_path, output_conn_id, file_name, output_asset)
        if conn_id is not None:
            self._conn_id = conn_id
        self._video_task_ids: list[str] = []  # the paid tasks this try waits on, once they exist
        # Refused submits in a row, and when the first was refused: carried across a wait in the triggerer;
        # submits the vendor rejected in this try (index -> why), which a wave after a refusal must not resend.
        self._refusals, self._rejected = 0, dict[int, str]()
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

    # ----- what each vendor fills in: one video ------------------------------------------------------

    @property
    def hook(self) -> VideoTaskHook:
        raise NotImplementedError

    @property
    def module(self) -> str | None:
        """The HiDream module, or Ace's service, the tasks live in (None for Hailuo)."""
        return None

    def validate(self) -> None:
        """Refuse, before anything is paid for, what the vendor would refuse."""
        raise NotImplementedError

    def fields(self) -> dict[str, Any]:
        """The submit's fields (recorded with each stored video, secrets left out)."""
        return {}

    def submit(self) -> str:
        """Send :meth:`submit_fields`; the new task's id."""
        raise NotImplementedError

    @property
    def priced_as(self) -> str | None:
        """What the connection's price table is keyed by for this submit (HiDream: the module)."""
        return self.module

    def submit_fields(self) -> dict[str, Any]:
        """What the submit sends: :meth:`fields` and, when callbacks are on, the callback URL (kept out of
        ``fields``, which is recorded with the videos: the URL is a credential)."""
        fields = self.fields()
        if self._callback is not None:
            fields[self._callback.submit_field] = self._callback.url
        return fields

    def _validate_if_known(self) -> None:
        """At parse time, check what is already known, with the message the run would give; a task
        whose fields are rendered later (templates, upstream outputs) is checked at run time, before paying."""
        if not any(renders_later(getattr(self, name, None)) for name in self.template_fields):
            check_items(self, self._item_arguments())

    def _item_arguments(self) -> list[dict[str, Any]]:
        return [{}] if self.prompts is None else batch_items(self, self.prompts)

    @property
    def _is_batch(self) -> bool:
        return self.prompts is not None

    # ----- execution ---------------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        mark_no_video_yet(context)
        if self._is_batch and not self._item_arguments():  # e.g. an upstream task found nothing to make
            raise AirflowSkipException("prompts is empty: there is no video to make, nothing was submitted")
        return self._run(context, self._prepare(context, first_look=True), read_vendor=True)

    def resume_submit(
        self,
        context: Context,
        event: Any = None,
        refusals: int = 0,
        first_refused_at: float | None = None,
        rejected: dict[str, str] | None = None,
    ) -> Any:
        """Back from a refused submit's wait in the triggerer: go on submitting where the ledger says."""
        self._refusals, self._first_refused_at = refusals, first_refused_at
        self._rejected = {int(index): str(why) for index, why in (rejected or {}).items()}
        return self._run(context, self._prepare(context, first_look=False), read_vendor=False)

    def _prepare(self, context: Context, *, first_look: bool, submits: bool = True) -> list[Item]:
        """Every video checked, the spend guards passed, the callback planned: nothing is paid before."""
        videos = check_items(self, self._item_arguments())  # each named by its index
        self.output_spec()  # as rendered: a bad output is known before anything is paid
        if submits:
            deferred = self.deferrable and self.wait_for_completion
            self._callback = plan_callback(
                self.hook, self.conn_id, self.callbacks, self.fields(), context["ti"], self.log, deferred=deferred
            )
            for video in videos:  # the items were copied before the plan: each submit carries it
                video._callback = self._callback
        if first_look:
            self._guard_spend(context, videos)
            size = len(videos) if self._is_batch else None
            request = request_record(self.hook.conn_type, self.module, videos[0].fields(), batch_size=size)
            context["ti"].xcom_push(key=REQUEST_XCOM_KEY, value=request)
        return [Item(index, video, fingerprint(video.fields())) for index, video in enumerate(videos)]

    def _guard_spend(self, context: Context, videos: Sequence[VideoGenerationOperator]) -> None:
        """The spend guards (``spend.py``), before anything is paid: the videos counted, their costs summed."""
        ti = context["ti"]
        if self.max_videos_per_run is not None:
            size, how = len(videos), f"{len(videos)} in this task"
            if getattr(ti, "map_index", -1) not in (None, -1):
                instances = ti.get_ti_count(
                    dag_id=ti.dag_id, task_ids=[ti.task_id], run_ids=[ti.run_id], states=RUNNABLE_STATES
                )
                size, how = size * instances, f"{instances} mapped instances of {len(videos)}"
            refusal = fan_out_refusal(size, self.max_videos_per_run, self.task_id, how=how if self._is_batch else None)
            if refusal is not None:
                raise AirflowFailException(refusal)
        total, priced_as = batch_estimate(self._prices(), [(video.priced_as or "", video.fields()) for video in videos])
        if total is not None:
            self.log.info("Estimated cost: %g (%s, from connection %r)", total, priced_as, self.conn_id)
            ti.xcom_push(key=ESTIMATED_COST_XCOM_KEY, value=total)
        if (refusal := cost_refusal(total, self.max_cost, priced_as, self.conn_id)) is not None:
            raise AirflowFailException(refusal)

    def _prices(self) -> dict[str, Any]:
        prices = self.hook.get_settings().extra("prices")
        return task_prices(prices, self.conn_id, strict=self.max_cost is not None, log=self.log)

    def _run(self, context: Context, items: list[Item], *, read_vendor: bool) -> Any:
        """Reattach to what the ledger holds, submit the rest, then wait (here or in the triggerer)."""
        new = read_vendor and getattr(context["ti"], "try_number", None) == 1  # the first look of the first try
        store = open_store(context)
        ledger, where = Ledger(store, len(items), new=new), where_kept(store)
        found = reattach(ledger, items, self.hook, self.module, self.log, read_vendor=read_vendor, where=where)
        failures = {**found.unknown, **self._rejected}
        to_send = [items[index] for index in found.to_send if index not in failures]
        self._submit_all(ledger, to_send, failures, where)
        ids = ledger.paid_ids(range(len(items)))
        self._video_task_ids = [ids[index] for index in sorted(ids)]
        if self._video_task_ids:
            push_video_task_ids(context, self._video_task_ids)
        if not self.wait_for_completion:
            return self._end_without_waiting(context, items, ids, failures, ledger)
        done = [task.to_dict() for task in found.succeeded]  # travel through the deferral, not waited on again
        if not (waiting := found.waiting(self._video_task_ids)):
            return self._end(
                context, items, with_done(Verdict("success", [], "no video task to wait for"), done), failures, ledger
            )
        plan = WaitPlan(
            self.conn_id,
            self.hook.conn_type,
            waiting,
            self.module,
            self.poll_interval,
            self.wait_settings,
            started_at=time.time(),
            timeout=self.timeout,
            callback_fallback_interval=None if self._callback is None else self._callback.fallback_interval,
            hook_kwargs=self.hook.request_arguments(),
        )
        if self.deferrable:
            plan.defer(self, kwargs={"failures": {str(index): why for index, why in failures.items()}, "done": done})
        verdict = plan.waiter(self.hook, self.log).wait(self.poll_interval)
        return self._end(context, items, with_done(verdict, done), failures, ledger)

    def _submit_all(self, ledger: Ledger, to_send: list[Item], failures: dict[int, str], where: str) -> None:
        """Submit in waves of the connection's ``max_submits_in_flight``; a refusal waits its turn (here, or in
        the triggerer) and sends again; a rejected or unknown submit fails its video alone."""
        if not to_send:
            return
        in_flight = self.hook.get_settings().max_submits_in_flight  # the connection is read before any intent
        submits = PaidSubmits(ledger, in_flight, self._count_submit)
        pending, started, logged = list(to_send), time.time(), time.time()
        while pending:
            wave, pending = pending[:in_flight], pending[in_flight:]
            sent_at = time.time()
            outcomes = submits.send(wave)
            by_index = {item.index: item for item in wave}
            for outcome in outcomes:
                if outcome.fate in (SubmitFate.REJECTED.value, SubmitFate.UNKNOWN.value):
                    failures[outcome.index] = submit_failure(outcome, self.hook, sent_at, where)
                    if outcome.fate == SubmitFate.REJECTED.value:
                        self._rejected[outcome.index] = failures[outcome.index]
            refused = [by_index[outcome.index] for outcome in outcomes if outcome.fate == SubmitFate.REFUSED.value]
            if len(refused) < len(wave):  # one got through: the refusals' clock starts again
                self._refusals, self._first_refused_at = 0, None
            if time.time() - logged >= SUBMIT_PROGRESS_SECONDS:
                logged = time.time()
                done = len(to_send) - len(pending) - len(refused)
                self.log.info("Submitted %d of %d videos in %.0fs", done, len(to_send), logged - started)
            if refused and (error := refusal_of(outcomes)) is not None:
                pending = refused + pending
                self._wait_to_submit_again(error)

    def _count_submit(self, fate: str, video: VideoGenerationOperator) -> None:
        metrics.submitted(fate, vendor=self.hook.conn_type, conn_id=self.conn_id, model=video.priced_as)

    def _wait_to_submit_again(self, error: VideoTaskApiError) -> None:
        """A refused wave: wait its turn (here, or in the triggerer), or give up at ``submit_timeout``."""
        now = time.time()
        if self._first_refused_at is None:
            self._first_refused_at = now
        self._refusals += 1
        delay = SUBMIT_BACKOFF.delay_for(self._refusals, error)
        waited = now - self._first_refused_at
        if waited + delay > self.submit_timeout:
            raise AirflowException(
                f"{error}. Submits were refused {self._refusals} time(s) in a row over {waited:.0f}s, and the next "
                f"try would pass submit_timeout={self.submit_timeout:g}s; nothing was billed for them (a retry sends "
                "only what was never sent). Raise submit_timeout, or submit fewer at once (docs/spend-safety.md)."
            )
        in_triggerer = self.deferrable and delay > SLEEP_IN_WORKER_AT_MOST
        self.log.warning(
            "Submit attempt %d refused, nothing billed: %s. Trying again in %.1fs (%s); giving up %.0fs after "
            "the first refusal in a row (submit_timeout).",
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
                kwargs={
                    "refusals": self._refusals,
                    "first_refused_at": self._first_refused_at,
                    "rejected": {str(index): why for index, why in self._rejected.items()},
                },
            )
        _sleep(delay)

    def on_kill(self) -> None:
        """A person marked the task failed or success, or cleared it, while it waited in a worker."""
        if self._video_task_ids:
            self.log.warning(stopped_waiting(self._video_task_ids, self.hook.vendor))

    def execute_complete(self, context: Context, event: Any = None, failures: Any = None, done: Any = None) -> Any:
        """Resume after the trigger fired: validate the event and branch on its status."""
        verdict = with_done(read_event(event), done or [])
        items = self._prepare(context, first_look=False, submits=False)
        ledger = Ledger(open_store(context), len(items))
        return self._end(context, items, verdict, {int(k): str(v) for k, v in (failures or {}).items()}, ledger)

    # ----- the end: item by item ---------------------------------------------------------------------

    def _end(
        self, context: Context, items: list[Item], verdict: Verdict, failures: dict[int, str], ledger: Ledger
    ) -> Any:
        """Every video is final (or the wait failed): keep, record, return; fail past ``allowed_failures``."""
        push_tasks(context, verdict.tasks)
        if verdict.status in ("timeout", "error"):  # the wait failed, not the videos: a retry reattaches
            raise AirflowException(f"Waiting for the video tasks failed ({verdict.status}): {verdict.message}")
        ids = ledger.paid_ids(range(len(items)))
        results = item_results([(item.index, item.video.fields()) for item in items], ids, verdict.tasks, failures)
        prices = self._prices() if self._is_batch else {}
        for result, item in zip(results, items, strict=True):
            result.cost = price_of(prices, item.video.priced_as or "", result.fields)[0]
        self.log.info("How the videos ended:\n%s", batch_summary(results))
        output = self.output_spec()
        if output is not None:
            keep_items(context, results, output, self.hook.conn_type)
        metrics.finished(verdict.tasks, vendor=self.hook.conn_type, conn_id=self.conn_id, source=verdict.source)
        self._push_records(context, results)
        self._fail_past_allowed([result for result in results if not result.succeeded], len(results))
        ledger.delete()
        woken = " (woken by the vendor's callback)" if verdict.source == "callback" else ""
        succeeded = sum(result.succeeded for result in results)
        self.log.info("%d of %d videos succeeded%s", succeeded, len(results), woken)
        return [result.outputs for result in results] if self._is_batch else results[0].outputs

    def _end_without_waiting(
        self, context: Context, items: list[Item], ids: dict[int, str], failures: dict[int, str], ledger: Ledger
    ) -> Any:
        failed = [ItemResult(index, items[index].video.fields(), reason=why) for index, why in failures.items()]
        self._fail_past_allowed(sorted(failed, key=lambda result: result.index), len(items))
        ledger.delete()
        return [ids.get(item.index) for item in items] if self._is_batch else self._video_task_ids

    def _push_records(self, context: Context, results: list[ItemResult]) -> None:
        """XCom ``videos``: a batch's one record per item; one video's kept copies, as the sensor pushes them."""
        if self._is_batch:
            context["ti"].xcom_push(key=VIDEOS_XCOM_KEY, value=[result.record() for result in results])
        elif results[0].kept:
            context["ti"].xcom_push(key=VIDEOS_XCOM_KEY, value=results[0].kept)

    def _fail_past_allowed(self, failed: list[ItemResult], size: int) -> None:
        """Fail the task when more videos failed than ``allowed_failures``; list them either way."""
        why = past_allowed(failed, size, self.allowed_failures, batch=self._is_batch, kept=bool(self.output_path))
        if why is not None:
            raise AirflowFailException(why)
        if failed:
            listed = failure_list(failed, batch=self._is_batch)
            self.log.warning(
                "%d of %d videos failed (allowed_failures=%g):\n%s", len(failed), size, self.allowed_failures, listed
            )


def _check_arguments(given: dict[str, Any]) -> None:
    """The operator's own arguments, refused when the DAG is parsed, naming the argument."""
    for name in ("submit_timeout", "poll_interval"):
        check_seconds(name, given[name])
    check_limit("max_videos_per_run", given["max_videos_per_run"], int)
    check_limit("max_cost", given["max_cost"], float)
    check_allowed_failures(given["allowed_failures"])
    if given["callbacks"] is not None and not isinstance(given["callbacks"], bool):
        raise VideoTaskValidationError(f"callbacks must be True, False or None, got {given['callbacks']!r}")
    if given["output_path"] is not None and not given["wait_for_completion"]:
        raise VideoTaskValidationError(
            "output_path needs wait_for_completion=True: videos are kept when the task sees them finished"
        )

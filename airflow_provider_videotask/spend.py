"""Spend guards, checked before anything is paid: how many videos one run may buy, and what each costs.

- ``max_videos_per_run`` (operators): a mapped operator expanded past it fails every instance before
  any submits, naming the size and the limit. Airflow knows the expansion before the first instance
  runs, so no instance pays while another is refused.
- The price table (connection extra ``prices``): the price of one video by model (Hailuo) or module
  (HiDream), e.g. ``{"minimax-t2v": 0.25, "txt2video": 0.4}``. Where the vendor prices by a submit
  field too (duration, resolution), a price may instead be ``{field: {value: price, ...}}``, nested as
  deep as needed, with ``"*"`` for any other value:
  ``{"txt2video": {"resolution_ratio": {"4096": 1.6, "*": 0.4}}}``. No prices are built in: vendors
  change them, and only the account holder knows their tier. Each submit's estimate is logged and
  pushed as XCom ``estimated_cost``.
- ``max_cost`` (operators): a submit whose estimate exceeds it is refused; without a price for its
  model it is refused too, since the budget could not be checked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_videotask.api.errors import VideoTaskValidationError


def check_limit(name: str, value: Any, kind: type[int] | type[float]) -> None:
    """A guard's argument is a number above 0 (or None: no guard)."""
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value <= 0
        or (kind is int and value != int(value))
    ):
        what = "a whole number above 0" if kind is int else "a number above 0"
        raise VideoTaskValidationError(f"{name} must be {what} (or None for no limit), got {value!r}")


def fan_out_refusal(size: int, limit: int | None, task_id: str, *, how: str | None = None) -> str | None:
    """Why a run that makes ``size`` videos may not submit, or None when it may. ``how`` says how the count
    was made (a batch's items, mapped instances); without it, the size is a mapped fan-out's."""
    if limit is None or size <= limit:
        return None
    what = f"would make {size} videos in this run ({how})" if how else f"is mapped over {size} prompts"
    return (
        f"{task_id} {what}, more than max_videos_per_run={limit}: nothing was submitted, nothing was billed. "
        "Raise max_videos_per_run, or split the prompts over several runs."
    )


# Every TaskInstance state but "removed": the instances a shrunk expansion left behind never run, so they
# must not count towards a fan-out's size ("null" is Airflow's word for an instance not scheduled yet).
try:
    from airflow.sdk import TaskInstanceState  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # Airflow < 3.1
    from airflow.utils.state import TaskInstanceState  # type: ignore[assignment,no-redef,unused-ignore]
RUNNABLE_STATES = ["null", *(state.value for state in TaskInstanceState if state.value != "removed")]


def prices_of(extras_value: Any, conn_id: str) -> dict[str, Any]:
    """The connection's price table (a mapping, or its JSON as the UI stores it); {} when unset."""
    if extras_value in (None, ""):
        return {}
    try:
        table = json.loads(extras_value) if isinstance(extras_value, str) else extras_value
    except ValueError:
        table = None
    problem = "it is not a JSON object" if not isinstance(table, Mapping) else _price_problem(table, "prices")
    if problem is not None:
        raise VideoTaskValidationError(
            f"connection {conn_id!r}: extra 'prices' must map a model or module to the price of one video, "
            f'e.g. {{"minimax-t2v": 0.25}}, or to {{field: {{value: price}}}}; {problem}'
        )
    return {str(name): price for name, price in table.items()}


def task_prices(extras_value: Any, conn_id: str, *, strict: bool, log: Any) -> dict[str, Any]:
    """The price table for a task: a bad one fails only a task that must check a budget (``strict``); any
    other logs a warning and estimates nothing, since a typo in prices must not stop other work."""
    try:
        return prices_of(extras_value, conn_id)
    except VideoTaskValidationError as error:
        if strict:
            raise
        log.warning("%s; no cost is estimated", error)
        return {}


def _price_problem(table: Mapping[str, Any], where: str) -> str | None:
    for name, price in table.items():
        if isinstance(price, Mapping):
            if len(price) != 1 or not isinstance(next(iter(price.values())), Mapping):
                return f"{where}[{name!r}] must be one field name mapped to {{value: price}}, got {price!r}"
            [(field_name, by_value)] = price.items()
            if (problem := _price_problem(by_value, f"{where}[{name!r}][{field_name!r}]")) is not None:
                return problem
        elif isinstance(price, bool) or not isinstance(price, (int, float)) or price < 0:
            return f"{where}[{name!r}] must be a price >= 0, got {price!r}"
    return None


def price_of(prices: Mapping[str, Any], priced_as: str, fields: Mapping[str, Any]) -> tuple[float | None, str]:
    """The estimate for one submit of ``priced_as`` with these fields, and what it was priced as
    (``'txt2video' with resolution_ratio=4096``); None when the table has no price for it."""
    price, what = prices.get(priced_as), repr(priced_as)
    while isinstance(price, Mapping):
        [(field_name, by_value)] = price.items()
        value = _as_key(fields.get(field_name))
        what += f"{' with' if ' with ' not in what else ','} {field_name}={value}"
        price = by_value.get(value, by_value.get("*"))
    return (None if price is None else float(price)), what


def batch_estimate(
    prices: Mapping[str, Any], videos: Sequence[tuple[str, Mapping[str, Any]]]
) -> tuple[float | None, str]:
    """The estimate of several submits together (what each is priced as, and its fields), and what was
    priced; None with the first video the table has no price for, since the total could not be checked."""
    estimates = [price_of(prices, priced_as, fields) for priced_as, fields in videos]
    unpriced = next((what for estimate, what in estimates if estimate is None), None)
    if unpriced is not None:
        return None, unpriced
    what = estimates[0][1] if len(estimates) == 1 else f"{len(estimates)} videos"
    return sum(estimate or 0.0 for estimate, _ in estimates), what


def _as_key(value: Any) -> str:
    """A field's value as the table's JSON keys spell it: ``10`` for 10 and 10.0, ``true`` for True."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, str) else json.dumps(value)


def cost_refusal(estimate: float | None, max_cost: float | None, priced_as: str, conn_id: str) -> str | None:
    """Why a submit may not go out under ``max_cost``, or None when it may."""
    if max_cost is None:
        return None
    if estimate is None:
        return (
            f"max_cost={max_cost:g} is set but connection {conn_id!r} has no price for {priced_as} in its extra "
            "'prices', so the cost cannot be checked: nothing was submitted. Add the price, or drop max_cost."
        )
    if estimate > max_cost:
        return f"the estimated cost {estimate:g} of {priced_as} exceeds max_cost={max_cost:g}: nothing was submitted."
    return None


def estimated_cost(conn_id: str, priced_as: str, fields: Mapping[str, Any] | None = None) -> float | None:
    """One video's estimate by connection ``conn_id``'s price table, as the operators make it (None: no
    price for it). For a task that estimates a whole fan-out before anything is submitted, e.g. to ask
    for approval (``example_dags/example_approve_spend.py``)."""
    from airflow_provider_videotask.hooks.registry import get_hook

    prices = prices_of(get_hook(conn_id).get_settings().extra("prices"), conn_id)
    return price_of(prices, priced_as, fields or {})[0]

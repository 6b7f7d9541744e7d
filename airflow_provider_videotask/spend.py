"""Spend guards, checked before anything is paid: how many videos one run may buy, and what each costs.

- ``max_videos_per_run`` (operators): a mapped operator expanded past it fails every instance before
  any submits, naming the size and the limit. Airflow knows the expansion before the first instance
  runs, so no instance pays while another is refused.
- The price table (connection extra ``prices``): the price of one video by model (Hailuo) or module
  (HiDream), e.g. ``{"minimax-t2v": 0.25, "txt2video": 0.4}``. No prices are built in: vendors change
  them, and only the account holder knows their tier. Each submit's estimate is logged and pushed as
  XCom ``estimated_cost``.
- ``max_cost`` (operators): a submit whose estimate exceeds it is refused; without a price for its
  model it is refused too, since the budget could not be checked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from airflow_provider_videotask.api.errors import VideoTaskValidationError

ESTIMATED_COST_XCOM_KEY = "estimated_cost"


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


def fan_out_refusal(size: int, limit: int | None, task_id: str) -> str | None:
    """Why a run of ``size`` mapped instances may not submit, or None when it may."""
    if limit is None or size <= limit:
        return None
    return (
        f"{task_id} is mapped over {size} prompts, more than max_videos_per_run={limit}: no instance "
        f"submits, nothing was billed. Raise max_videos_per_run, or split the prompts over several runs."
    )


def prices_of(extras_value: Any, conn_id: str) -> dict[str, float]:
    """The connection's price table (a mapping, or its JSON as the UI stores it); {} when unset."""
    if extras_value in (None, ""):
        return {}
    try:
        table = json.loads(extras_value) if isinstance(extras_value, str) else extras_value
    except ValueError:
        table = None
    if not isinstance(table, Mapping) or not all(
        isinstance(price, (int, float)) and not isinstance(price, bool) and price >= 0 for price in table.values()
    ):
        raise VideoTaskValidationError(
            f"connection {conn_id!r}: extra 'prices' must map a model or module to the price of one video, "
            f'e.g. {{"minimax-t2v": 0.25}}, got {extras_value!r}'
        )
    return {str(name): float(price) for name, price in table.items()}


def cost_refusal(estimate: float | None, max_cost: float | None, priced_as: str, conn_id: str) -> str | None:
    """Why a submit may not go out under ``max_cost``, or None when it may."""
    if max_cost is None:
        return None
    if estimate is None:
        return (
            f"max_cost={max_cost:g} is set but connection {conn_id!r} has no price for {priced_as!r} in its extra "
            "'prices', so the cost cannot be checked: nothing was submitted. Add the price, or drop max_cost."
        )
    if estimate > max_cost:
        return f"the estimated cost {estimate:g} of {priced_as!r} exceeds max_cost={max_cost:g}: nothing was submitted."
    return None

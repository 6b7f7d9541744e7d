"""The videos one operator makes: its own arguments (``prompt=``, a batch of one) or a list (``prompts=``).

Each item of ``prompts`` is a prompt string, or a dict of the operator's own per-video arguments (its
prompt among them); the operator's arguments are the defaults. An item is the operator itself with those
arguments set (:func:`item_operator`), so every vendor's checks, request fields and submit are the ones a
single video goes through: there is no second code path.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from airflow_provider_videotask.api.errors import VideoTaskValidationError

if TYPE_CHECKING:
    from airflow_provider_videotask.operators.base import VideoGenerationOperator

# Arguments that shape the whole task, not one video: the connection, the request's target (HiDream's
# module, Ace's service: one wait reads one), and what the hook sends on every request.
TASK_WIDE = frozenset({"module", "service", "api_user_id"})


@cache
def per_video_arguments(operator_class: type[VideoGenerationOperator]) -> frozenset[str]:
    """The arguments an item may set: those the vendor operator (and its parents below the base) take."""
    from airflow_provider_videotask.operators.base import VideoGenerationOperator

    names: set[str] = set()
    for klass in operator_class.__mro__:
        if (
            not (isinstance(klass, type) and issubclass(klass, VideoGenerationOperator))
            or klass is VideoGenerationOperator
        ):
            continue
        for name, parameter in inspect.signature(klass.__init__).parameters.items():
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
                names.add(name)
    return frozenset(name for name in names if name not in TASK_WIDE and not name.endswith("_conn_id"))


def batch_items(operator: VideoGenerationOperator, prompts: Any) -> list[dict[str, Any]]:
    """``prompts`` as rendered, each item as the arguments it sets; refused naming the index and the field."""
    name = type(operator).__name__
    if isinstance(prompts, (str, Mapping)) or not isinstance(prompts, Sequence):
        raise VideoTaskValidationError(
            f"{name}: prompts must be a list of prompts (strings) or of dicts of per-video arguments, "
            f"got {type(prompts).__name__}: {str(prompts)[:80]!r} (a template renders to text unless the DAG "
            "sets render_template_as_native_obj=True; an upstream task's output can be passed as it is)"
        )
    allowed = per_video_arguments(type(operator))
    items: list[dict[str, Any]] = []
    for index, item in enumerate(prompts):
        if isinstance(item, str):
            items.append({"prompt": item})
            continue
        if not isinstance(item, Mapping):
            raise VideoTaskValidationError(
                f"{name}: prompts[{index}] must be a prompt string or a dict of per-video arguments, "
                f"got {type(item).__name__}"
            )
        unknown = sorted(str(key) for key in item if key not in allowed)
        if unknown:
            wide = [key for key in unknown if key in TASK_WIDE or key.endswith("_conn_id")]
            why = f"{', '.join(wide)} apply to the whole task: pass them to {name} itself" if wide else ""
            raise VideoTaskValidationError(
                f"{name}: prompts[{index}] sets {', '.join(unknown)}, not an argument of one video. "
                + (why or f"Known: {', '.join(sorted(allowed))}.")
            )
        items.append(dict(item))
    return items


def item_operator(operator: VideoGenerationOperator, arguments: Mapping[str, Any]) -> VideoGenerationOperator:
    """The operator as it is for one item: a shallow copy with the item's arguments set. The copy shares
    the operator's hook, callback plan and settings; ``__dict__`` is copied directly, so Airflow's
    attribute bookkeeping on the task (its init kwargs) is left untouched."""
    if not arguments:
        return operator
    copy = object.__new__(type(operator))
    copy.__dict__.update(operator.__dict__)
    copy.__dict__.update(arguments)
    return copy


def check_items(operator: VideoGenerationOperator, items: Sequence[Mapping[str, Any]]) -> list[VideoGenerationOperator]:
    """Every item checked before the first is paid for; a bad one is named by its index."""
    checked = []
    for index, arguments in enumerate(items):
        video = item_operator(operator, arguments)
        try:
            video.validate()
        except VideoTaskValidationError as error:
            if len(items) == 1 and not arguments:
                raise
            raise VideoTaskValidationError(f"prompts[{index}]: {error}") from None
        checked.append(video)
    return checked


def short(prompt: Any, length: int = 60) -> str:
    """The start of a prompt, for a line that lists many."""
    text: str = " ".join(str(prompt or "").split())
    return text if len(text) <= length else text[: length - 1] + "…"


def renders_later(value: Any) -> bool:
    """A field value Airflow renders only when the task runs: a template, or an upstream output."""
    if value is None or isinstance(value, (bool, int, float)):
        return False
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(renders_later(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(renders_later(item) for item in value)
    return True  # an XComArg and the like

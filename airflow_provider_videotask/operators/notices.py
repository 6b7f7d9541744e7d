"""What the video operators warn of once: a retry that pays again (Airflow before 3.3), and arguments on
their way out."""

from __future__ import annotations

import warnings
from typing import Any

_warned_no_reattach: list[bool] = []  # said once per process, not on every execute


def warn_no_reattach(log: Any) -> None:
    if _warned_no_reattach:
        return
    _warned_no_reattach.append(True)
    log.warning(
        "Airflow %s has no task state store: if a video task is retried, the retry submits (and pays for) "
        "a new video task. Airflow 3.3+ reattaches to the first one.",
        _airflow_version(),
    )


def _airflow_version() -> str:
    from airflow import __version__

    return str(__version__)


def deprecated_arguments(operator: str, *, fail_on: Any, conn_id: str | None) -> None:
    """Warn of the arguments an operator still takes for a while."""
    if fail_on is not None:
        warnings.warn(
            f"{operator}(fail_on=...) is deprecated and ignored: an operator waits for one task, so 'any' and "
            "'all' are the same. It goes in 0.3.",
            DeprecationWarning,
            stacklevel=3,
        )
    if conn_id is not None:
        warnings.warn(
            f"{operator}: VideoGenerationOperator(conn_id=...) is deprecated: keep the connection under its own "
            "argument (e.g. my_vendor_conn_id) and name it in conn_id_argument. It goes in 0.4.",
            DeprecationWarning,
            stacklevel=3,
        )

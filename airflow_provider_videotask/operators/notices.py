"""What the video operators warn of: arguments on their way out."""

from __future__ import annotations

import warnings
from typing import Any


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

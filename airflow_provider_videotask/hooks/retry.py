"""When a failed read is worth another try, and how long to wait first."""

from __future__ import annotations

import random
from dataclasses import dataclass

from airflow_provider_videotask.api.errors import VideoTaskApiError


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for reads; a vendor's ``Retry-After`` wins, up to a cap.

    With the defaults a read is tried 5 times over about 15 s before the error reaches the caller; the
    sensor and trigger then apply their own, longer bound on consecutive failed polls.
    """

    max_retries: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 60.0

    def delay_for(self, retries_done: int, error: VideoTaskApiError) -> float | None:
        """Seconds to wait before the next try, or None when the error should reach the caller."""
        if not error.retryable or retries_done >= self.max_retries:
            return None
        if error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.max_retry_after)
        ceiling = min(self.max_delay, self.base_delay * 2**retries_done)
        # "Equal jitter": never less than half the backoff, so waiters spread out but still back off.
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography


NO_RETRY = RetryPolicy(max_retries=0)

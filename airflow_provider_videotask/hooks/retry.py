"""When a failed call is worth another try, and how long to wait first: reads (``RetryPolicy``) and
refused submits (``SubmitBackoff``; which submits count as refused is ``api.errors.submit_fate``)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

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

    def next_delay(self, retries_done: int, error: VideoTaskApiError, what: str, log: Any) -> float | None:
        """:meth:`delay_for`, and the warning that says so (what failed, which retry, how long): the one
        retry decision of the hooks' reads and of the video downloads."""
        delay = self.delay_for(retries_done, error)
        if delay is not None:
            log.warning(
                "%s failed, retry %d of %d in %.1fs: %s", what, retries_done + 1, self.max_retries, delay, error
            )
        return delay


NO_RETRY = RetryPolicy(max_retries=0)


@dataclass(frozen=True)
class SubmitBackoff:
    """How long a refused submit waits before the next try (the operators keep trying until their
    ``submit_timeout``).

    The vendor's ``Retry-After`` wins, plus up to a second of jitter so that a fan-out refused together
    does not come back in one burst. Without one: exponential backoff with *full* jitter (anywhere from 0
    to the ceiling), which spreads mapped instances over the window instead of synchronising them.
    """

    base_delay: float = 2.0
    max_delay: float = 60.0

    def delay_for(self, refusals: int, error: VideoTaskApiError) -> float:
        """Seconds to wait after the ``refusals``-th refusal in a row (1 for the first)."""
        if error.retry_after is not None:
            return max(error.retry_after, 0.0) + random.uniform(0, 1)  # noqa: S311 - jitter
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(refusals - 1, 0))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography

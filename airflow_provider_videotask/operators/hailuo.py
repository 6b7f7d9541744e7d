"""HailuoVideoOperator: generate a Hailuo (MiniMax) video on Ace Data Cloud and return its URL."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow_provider_videotask.api import hailuo
from airflow_provider_videotask.hooks.hailuo import HailuoHook
from airflow_provider_videotask.operators.base import VIDEO_TEMPLATE_FIELDS, VideoGenerationOperator


class HailuoVideoOperator(VideoGenerationOperator):
    """Submit one Hailuo video task (paid, sent once, always asynchronous), wait for it, return its URL.

    :param prompt: what to generate (templated; required by every model).
    :param model: ``minimax-t2v`` (default), ``minimax-i2v`` or ``minimax-i2v-director``.
    :param first_image_url: the first frame, an http(s) URL (i2v models: required; templated).
    :param callback_url: the vendor calls it when the task is done.
    :param hailuo_conn_id: the Airflow connection (type ``hailuo``).

    Waiting (``wait_for_completion``, ``deferrable``, ``poll_interval``, ``timeout``, ``fail_on``) and
    XComs: see :class:`~airflow_provider_videotask.operators.base.VideoGenerationOperator`.
    """

    template_fields: Sequence[str] = ("prompt", "first_image_url", "callback_url", *VIDEO_TEMPLATE_FIELDS)
    conn_id_argument = "hailuo_conn_id"

    def __init__(
        self,
        *,
        prompt: str | None = None,
        model: str = hailuo.DEFAULT_MODEL,
        first_image_url: str | None = None,
        callback_url: str | None = None,
        hailuo_conn_id: str = HailuoHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.prompt = prompt
        self.model = model or hailuo.DEFAULT_MODEL
        self.first_image_url = first_image_url
        self.callback_url = callback_url
        self.hailuo_conn_id = hailuo_conn_id
        self._validate_if_known()

    @cached_property
    def hook(self) -> HailuoHook:  # type: ignore[override]
        return HailuoHook(self.hailuo_conn_id)

    def fields(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "model": self.model,
            "first_image_url": self.first_image_url,
            "callback_url": self.callback_url,
        }

    @property
    def priced_as(self) -> str:
        """Ace Data Cloud prices Hailuo videos by model."""
        return self.model

    def validate(self) -> None:
        hailuo.validate_submit(self.fields())

    def submit(self) -> str:
        return self.hook.submit(**self.submit_fields())

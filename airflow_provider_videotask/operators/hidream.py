"""HiDreamVideoOperator: generate a HiDream video (txt2video, img2video, video_edit) and return its URLs."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow_provider_videotask.api import hidream
from airflow_provider_videotask.hooks.hidream import HiDreamHook
from airflow_provider_videotask.operators.base import VideoGenerationOperator
from airflow_provider_videotask.outputs import OUTPUT_TEMPLATE_FIELDS


class HiDreamVideoOperator(VideoGenerationOperator):
    """Submit one HiDream video task (paid, sent once), wait for it, return its video URLs.

    :param module: ``txt2video`` (default), ``img2video`` or ``video_edit``.
    :param prompt: what to generate (txt2video: required; templated).
    :param image: the image to animate, URL or base64 (img2video: required; templated).
    :param video: the video to restyle, URL or base64 (video_edit: required; sent as ``video_name``; templated).
    :param style: video_edit style, one of the vendor's list (``anime``, ``watercolor``, ...).
    :param aspect_ratio: ``16:9``, ``1:1`` or ``9:16``.
    :param resolution_ratio: 1024, 2048 or 4096.
    :param motion_strength: 0 to 30.
    :param camera_move_horizontal: camera pan, -5 to 5.
    :param camera_move_vertical: camera tilt, -5 to 5.
    :param camera_move_depth: camera push or pull, -5 to 5.
    :param notify_url: the vendor calls it when the task is done.
    :param payload: any further vendor fields, passed through as they are (templated).
    :param api_user_id: the ``API-User-ID`` header (default: the connection's).
    :param hidream_conn_id: the Airflow connection (type ``hidream``).

    Waiting (``wait_for_completion``, ``deferrable``, ``poll_interval``, ``timeout``, ``fail_on``) and
    XComs: see :class:`~airflow_provider_videotask.operators.base.VideoGenerationOperator`.
    """

    template_fields: Sequence[str] = (
        "prompt", "image", "video", "style", "payload", "notify_url", "api_user_id", *OUTPUT_TEMPLATE_FIELDS,
    )  # fmt: skip

    def __init__(
        self,
        *,
        module: str = hidream.DEFAULT_MODULE,
        prompt: str | None = None,
        image: str | None = None,
        video: str | None = None,
        style: str | None = None,
        aspect_ratio: str | None = None,
        resolution_ratio: int | None = None,
        motion_strength: float | None = None,
        camera_move_horizontal: int | None = None,
        camera_move_vertical: int | None = None,
        camera_move_depth: int | None = None,
        notify_url: str | None = None,
        payload: dict[str, Any] | None = None,
        api_user_id: str | None = None,
        hidream_conn_id: str = HiDreamHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=hidream_conn_id, **kwargs)
        self.hidream_module = hidream.check_module(module)
        self.prompt = prompt
        self.image = image
        self.video = video
        self.style = style
        self.aspect_ratio = aspect_ratio
        self.resolution_ratio = resolution_ratio
        self.motion_strength = motion_strength
        self.camera_move_horizontal = camera_move_horizontal
        self.camera_move_vertical = camera_move_vertical
        self.camera_move_depth = camera_move_depth
        self.notify_url = notify_url
        self.payload = payload
        self.api_user_id = api_user_id
        self.hidream_conn_id = hidream_conn_id
        self._validate_if_known()

    @cached_property
    def hook(self) -> HiDreamHook:  # type: ignore[override]
        return HiDreamHook(self.hidream_conn_id, api_user_id=self.api_user_id)

    @property
    def module(self) -> str:
        return self.hidream_module

    def fields(self) -> dict[str, Any]:
        """The submit body: ``payload`` first, the named arguments over it."""
        named = {
            "prompt": self.prompt,
            "image": self.image,
            "video_name": self.video,
            "style": self.style,
            "aspect_ratio": self.aspect_ratio,
            "resolution_ratio": self.resolution_ratio,
            "motion_strength": self.motion_strength,
            "camera_move_horizontal": self.camera_move_horizontal,
            "camera_move_vertical": self.camera_move_vertical,
            "camera_move_depth": self.camera_move_depth,
            "notify_url": self.notify_url,
        }
        return {**(self.payload or {}), **{key: value for key, value in named.items() if value is not None}}

    def validate(self) -> None:
        hidream.validate_submit(self.module, self.fields())

    def submit(self) -> str:
        return self.hook.submit(self.module, **self.fields())

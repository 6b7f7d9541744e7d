"""HiDreamVideoOperator: generate a HiDream video (any module of the connection's API version) and return its URLs."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow_provider_videotask.api import hidream, hidream_submit
from airflow_provider_videotask.hooks.hidream import HiDreamHook
from airflow_provider_videotask.operators.base import VIDEO_TEMPLATE_FIELDS, VideoGenerationOperator


class HiDreamVideoOperator(VideoGenerationOperator):
    """Submit one HiDream video task (paid, sent once), wait for it, return its video URLs.

    The connection's extra ``api_version`` says which API the task goes to (v2 by default); each
    argument is sent only when set, and checked against that version's rules before paying.

    :param module: v2: ``txt2video`` (default), ``img2video`` or ``video_edit``; v3: ``txt2video``,
        ``img2video`` or ``keyframe2video``; v4: ``hidream-Q2`` (Kling), ``hidream-R`` (Seedance 1.0
        Pro) or ``hidream-R2-Audio`` (Seedance 1.5 Pro).
    :param prompt: what to generate (txt2video, hidream-R, hidream-R2-Audio: required; templated).
    :param negative_prompt: what not to show (v3, v4; templated).
    :param image: the image to animate, URL or base64 (img2video: required; templated).
    :param images: a list of images, URLs or base64: keyframe2video's [first frame, last frame]
        (required), or v4's input images (templated).
    :param video: the video to restyle, URL or base64 (video_edit: required; sent as ``video_name``; templated).
    :param style: video_edit style, one of the vendor's list (``anime``, ``watercolor``, ...).
    :param version: the model version: v3 ``v2`` (keyframe2video ``v1.0-standard``); v4 hidream-Q2
        ``Q2.5T-std``, ``Q2.5T-pro`` or ``Q2.6-pro`` (required); hidream-R ``R1``, hidream-R2-Audio
        ``R2-Audio`` (filled in when unset).
    :param aspect_ratio: v2: ``16:9``, ``1:1`` or ``9:16``.
    :param resolution_ratio: v2: 1024, 2048 or 4096.
    :param resolution: v3: ``960*960``, ``1280*720`` or ``720*1280`` (keyframe2video ``keep``); v4
        Seedance: ``480p``, ``720p`` or ``1080p``.
    :param wh_ratio: v4 aspect ratio: hidream-Q2 ``16:9``, ``9:16`` or ``1:1``; Seedance adds ``4:3``,
        ``3:4`` and ``adaptive`` (hidream-R2-Audio also ``keep``).
    :param duration: seconds, 5 or 10 (keyframe2video, v4).
    :param sound: hidream-Q2: ``on`` or ``off`` (``on`` needs ``Q2.6-pro`` and ``images``).
    :param generate_audio: Seedance on v4: generate a soundtrack.
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

    conn_id_argument = "hidream_conn_id"
    template_fields: Sequence[str] = (
        "prompt", "negative_prompt", "image", "images", "video", "style", "payload", "notify_url", "api_user_id",
        *VIDEO_TEMPLATE_FIELDS,
    )  # fmt: skip

    def __init__(
        self,
        *,
        module: str = hidream.DEFAULT_MODULE,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        image: str | None = None,
        images: list[str] | None = None,
        video: str | None = None,
        style: str | None = None,
        version: str | None = None,
        aspect_ratio: str | None = None,
        resolution_ratio: int | None = None,
        resolution: str | None = None,
        wh_ratio: str | None = None,
        duration: int | None = None,
        sound: str | None = None,
        generate_audio: bool | None = None,
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
        super().__init__(**kwargs)
        self.hidream_module = hidream.check_module(module)
        self.prompt = prompt
        self.negative_prompt = negative_prompt
        self.image = image
        self.images = images
        self.video = video
        self.style = style
        self.version = version
        self.aspect_ratio = aspect_ratio
        self.resolution_ratio = resolution_ratio
        self.resolution = resolution
        self.wh_ratio = wh_ratio
        self.duration = duration
        self.sound = sound
        self.generate_audio = generate_audio
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
            "negative_prompt": self.negative_prompt,
            "image": self.image,
            "images": self.images,
            "video_name": self.video,
            "style": self.style,
            # A v4 module's only version, named here too so a price table keyed by version sees it.
            "version": self.version or hidream_submit.V4_ONLY_VERSION.get(self.module),
            "aspect_ratio": self.aspect_ratio,
            "resolution_ratio": self.resolution_ratio,
            "resolution": self.resolution,
            "wh_ratio": self.wh_ratio,
            "duration": self.duration,
            "sound": self.sound,
            "generate_audio": self.generate_audio,
            "motion_strength": self.motion_strength,
            "camera_move_horizontal": self.camera_move_horizontal,
            "camera_move_vertical": self.camera_move_vertical,
            "camera_move_depth": self.camera_move_depth,
            "notify_url": self.notify_url,
        }
        return {**(self.payload or {}), **{key: value for key, value in named.items() if value is not None}}

    def validate(self) -> None:
        # By the module's first API version: the connection (and its api_version) is not read here; the
        # hook checks the task against the connection's own version before sending it.
        hidream_submit.validate_submit(self.module, self.fields(), api_version=None)

    def submit(self) -> str:
        return self.hook.submit(self.module, **self.submit_fields())

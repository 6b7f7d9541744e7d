"""The video services of Ace Data Cloud, one operator each, on one ``acedatacloud`` connection.

``AceVideoOperator`` runs any service given its name and fields (e.g. mapped over services on the same
prompt); ``KlingVideoOperator``, ``VeoVideoOperator``, ``LumaVideoOperator``, ``WanVideoOperator`` and
``SeedanceVideoOperator`` take each service's documented arguments, typed. Waiting, reattaching,
fan-out throttling, outputs, spend guards and metrics come from
:class:`~airflow_provider_videotask.operators.base.VideoGenerationOperator`. The request rules of each
service are in its ``api/<service>.py``; ``docs/services.md`` has the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow_provider_videotask.api import kling, luma, seedance, veo, wan
from airflow_provider_videotask.api.errors import VideoTaskValidationError
from airflow_provider_videotask.api.services import SERVICES
from airflow_provider_videotask.hooks.ace import AceDataCloudHook
from airflow_provider_videotask.operators.base import VIDEO_TEMPLATE_FIELDS, VideoGenerationOperator


class AceVideoOperator(VideoGenerationOperator):
    """Submit one video task to an Ace Data Cloud service (paid, sent once), wait for it, return its URLs.

    :param service: any Ace video service by name (templated, so it can be mapped over): ``kling``, ``veo``,
        ``luma``, ``wan``, ``seedance`` and ``hailuo`` with their documented checks, ``sora``, ``pika``,
        ``pixverse`` or any other through the generic request (the fields as they are).
    :param prompt: what to generate (templated).
    :param model: the service's model (default: the service's own; a model its sources do not list is sent
        with a warning, and the vendor decides).
    :param payload: any further fields of the service's request, passed through as they are (templated).
    :param acedatacloud_conn_id: the Airflow connection (type ``acedatacloud``): one token for every service.

    Waiting, XComs and outputs: see :class:`~airflow_provider_videotask.operators.base.VideoGenerationOperator`.
    XCom ``tasks`` holds each task's ``video_ids``, what an ``extend`` of Kling or Luma takes.
    """

    template_fields: Sequence[str] = ("service", "prompt", "payload", *VIDEO_TEMPLATE_FIELDS)
    conn_id_argument = "acedatacloud_conn_id"
    service: str = ""

    def __init__(
        self,
        *,
        service: str | None = None,
        prompt: str | None = None,
        model: str | None = None,
        payload: dict[str, Any] | None = None,
        acedatacloud_conn_id: str = AceDataCloudHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if service is not None:
            if type(self).service and service != type(self).service:
                raise VideoTaskValidationError(
                    f"{type(self).__name__} submits to {type(self).service}: use AceVideoOperator(service={service!r})"
                )
            self.service = service
        self.prompt = prompt
        self.model = model
        self.payload = payload
        self.acedatacloud_conn_id = acedatacloud_conn_id
        self._request_fields: tuple[str, ...] = ("prompt", "model")
        if type(self) is AceVideoOperator:  # a service's operator checks once its own arguments are set
            self._validate_if_known()

    def _set_request_fields(self, **fields: Any) -> None:
        """A service's own arguments: kept as attributes (templated ones are rendered in place), sent as
        request fields, and checked now if they are known."""
        for name, value in fields.items():
            setattr(self, name, value)
        self._request_fields += tuple(fields)
        self._validate_if_known()

    @cached_property
    def hook(self) -> AceDataCloudHook:  # type: ignore[override]
        return AceDataCloudHook(self.acedatacloud_conn_id)

    @property
    def module(self) -> str:
        """The service: what the waiting layers call a module (one shared poller per connection and service)."""
        return self.service

    @property
    def priced_as(self) -> str:
        """A price table keys Ace's services by model, as the request names it (``payload`` included, and
        what the service forces: Veo's ingredients model); by service for Luma, which has none."""
        body = self.hook.service(self.service).body(self.fields())
        return str(body.get("model") or self.service)

    def named_fields(self) -> dict[str, Any]:
        """The request fields the operator's own arguments give."""
        return {name: getattr(self, name) for name in self._request_fields}

    def fields(self) -> dict[str, Any]:
        """The submit's fields: ``payload`` first, the named arguments over it."""
        named = {key: value for key, value in self.named_fields().items() if value is not None}
        return {**(self.payload or {}), **named}

    def validate(self) -> None:
        self.hook.service(self.service).body(self.fields())

    def submit(self) -> str:
        return self.hook.submit(self.service, **self.submit_fields())


class KlingVideoOperator(AceVideoOperator):
    """A Kling video (``api/kling.py``): text to video, image to video, or extend a finished one.

    :param action: ``text2video`` (default), ``image2video`` or ``extend``.
    :param model: ``kling-v1`` (default) ... ``kling-v3-omni``, ``kling-o1``.
    :param prompt: what to generate (text2video and image2video: required; templated).
    :param start_image_url: the first frame, an http(s) URL (image2video: required; templated).
    :param end_image_url: the last frame (image2video; templated).
    :param video_id: the video to extend (extend: required; templated), e.g.
        ``"{{ ti.xcom_pull('first', key='tasks')[0]['video_ids'][0] }}"``.
    :param mode: ``std`` (default), ``pro`` or ``4k``.
    :param duration: seconds of video (5 or 10; 3 to 15 for the v3 models).
    :param aspect_ratio: ``16:9`` (default), ``9:16`` or ``1:1``.
    :param negative_prompt: what to avoid.
    :param callback_url: Ace calls it when the task is done.
    """

    template_fields: Sequence[str] = (
        "prompt", "start_image_url", "end_image_url", "video_id", "payload", *VIDEO_TEMPLATE_FIELDS,
    )  # fmt: skip
    service = kling.SERVICE.name

    def __init__(
        self,
        *,
        prompt: str | None = None,
        model: str = kling.DEFAULT_MODEL,
        action: str = "text2video",
        start_image_url: str | None = None,
        end_image_url: str | None = None,
        video_id: str | None = None,
        mode: str | None = None,
        duration: float | None = None,
        aspect_ratio: str | None = None,
        negative_prompt: str | None = None,
        callback_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(prompt=prompt, model=model, **kwargs)
        self._set_request_fields(
            action=action,
            start_image_url=start_image_url,
            end_image_url=end_image_url,
            video_id=video_id,
            mode=mode,
            duration=duration,
            aspect_ratio=aspect_ratio,
            negative_prompt=negative_prompt,
            callback_url=callback_url,
        )


class VeoVideoOperator(AceVideoOperator):
    """A Veo video (``api/veo.py``): from text, from images, from ingredients, or a finished one in 1080p.

    :param action: ``text2video`` (default), ``image2video``, ``ingredients2video`` or ``get1080p``.
    :param model: ``veo3-fast`` (default), ``veo3``, ``veo31``, ``veo31-fast``.
    :param prompt: what to generate (templated; all but get1080p).
    :param image_urls: image2video: 1 (first frame) or 2 (first and last) URLs; ingredients2video: 1 to 3 (templated).
    :param video_id: get1080p: the video (its ``video_ids`` in XCom ``tasks``; templated).
    :param resolution: ``1080p``, ``4k`` (veo31) or ``gif``.
    :param aspect_ratio: ``16:9`` or ``9:16``.
    :param callback_url: Ace calls it when the task is done.
    """

    template_fields: Sequence[str] = ("prompt", "image_urls", "video_id", "payload", *VIDEO_TEMPLATE_FIELDS)
    service = veo.SERVICE.name

    def __init__(
        self,
        *,
        prompt: str | None = None,
        model: str = veo.DEFAULT_MODEL,
        action: str = "text2video",
        image_urls: list[str] | None = None,
        video_id: str | None = None,
        resolution: str | None = None,
        aspect_ratio: str | None = None,
        callback_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(prompt=prompt, model=model, **kwargs)
        self._set_request_fields(
            action=action,
            image_urls=image_urls,
            video_id=video_id,
            resolution=resolution,
            aspect_ratio=aspect_ratio,
            callback_url=callback_url,
        )


class LumaVideoOperator(AceVideoOperator):
    """A Luma video (``api/luma.py``; Luma takes no model): generate, or extend a finished one.

    :param action: ``generate`` (default) or ``extend``.
    :param prompt: what to generate (generate: required; templated).
    :param start_image_url: the first frame (templated).
    :param end_image_url: the last frame (templated).
    :param video_id: extend: the video (its ``video_ids`` in XCom ``tasks``; templated).
    :param video_url: extend: a video by URL instead (templated).
    :param aspect_ratio: e.g. ``16:9`` (default), ``9:16``, ``1:1``.
    :param loop: a seamless loop.
    :param enhancement: let Luma enhance the prompt (default true at Luma).
    :param callback_url: Ace calls it when the task is done.
    """

    template_fields: Sequence[str] = (
        "prompt", "start_image_url", "end_image_url", "video_id", "video_url", "payload", *VIDEO_TEMPLATE_FIELDS,
    )  # fmt: skip
    service = luma.SERVICE.name

    def __init__(
        self,
        *,
        prompt: str | None = None,
        action: str = "generate",
        start_image_url: str | None = None,
        end_image_url: str | None = None,
        video_id: str | None = None,
        video_url: str | None = None,
        aspect_ratio: str | None = None,
        loop: bool | None = None,
        enhancement: bool | None = None,
        callback_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(prompt=prompt, **kwargs)
        self._set_request_fields(
            action=action,
            start_image_url=start_image_url,
            end_image_url=end_image_url,
            video_id=video_id,
            video_url=video_url,
            aspect_ratio=aspect_ratio,
            loop=loop,
            enhancement=enhancement,
            callback_url=callback_url,
        )


class WanVideoOperator(AceVideoOperator):
    """A Wan video (``api/wan.py``): text or image to video.

    :param model: ``wan2.6-t2v`` (default), ``wan2.6-i2v``, ``wan2.6-i2v-flash`` or ``wan2.6-r2v``.
    :param prompt: what to generate (required; templated).
    :param image_url: the first frame, an http(s) URL (i2v models: required; templated).
    :param negative_prompt: what to avoid.
    :param duration: 5, 10 or 15 seconds.
    :param resolution: ``480P``, ``720P`` or ``1080P``.
    :param audio: generate sound too.
    :param callback_url: Ace calls it when the task is done.

    The action follows the model (``image2video`` for the i2v models), unless ``payload`` names one.
    """

    template_fields: Sequence[str] = ("prompt", "image_url", "payload", *VIDEO_TEMPLATE_FIELDS)
    service = wan.SERVICE.name

    def __init__(
        self,
        *,
        prompt: str | None = None,
        model: str = wan.DEFAULT_MODEL,
        image_url: str | None = None,
        negative_prompt: str | None = None,
        duration: int | None = None,
        resolution: str | None = None,
        audio: bool | None = None,
        callback_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(prompt=prompt, model=model, **kwargs)
        self._set_request_fields(
            image_url=image_url,
            negative_prompt=negative_prompt,
            duration=duration,
            resolution=resolution,
            audio=audio,
            callback_url=callback_url,
        )


class SeedanceVideoOperator(AceVideoOperator):
    """A Seedance video (``api/seedance.py``): from a prompt, frames or reference images.

    :param model: ``doubao-seedance-2-0-260128`` (default) or another of ``api/seedance.py``'s ``MODELS``.
    :param prompt: what to generate (templated; at most 1,000 characters).
    :param first_frame_url: the first frame, an http(s) URL (templated).
    :param last_frame_url: the last frame (templated).
    :param reference_image_urls: reference images, not mixed with frames (templated).
    :param resolution: ``480p``, ``720p`` (default at Seedance), ``1080p`` or ``4k``.
    :param ratio: ``16:9`` (default at Seedance), ``4:3``, ``1:1``, ``3:4``, ``9:16``, ``21:9`` or ``adaptive``.
    :param duration: seconds of video (by model: 2 to 15, or -1 for the model's choice).
    :param seed: for repeatable results.
    :param generate_audio: sound too (1.5 Pro and 2.x models).
    :param callback_url: Ace calls it when the task is done.

    These become the request's ``content`` list (a text item, image items with their roles).
    """

    template_fields: Sequence[str] = (
        "prompt", "first_frame_url", "last_frame_url", "reference_image_urls", "payload", *VIDEO_TEMPLATE_FIELDS,
    )  # fmt: skip
    service = seedance.SERVICE.name

    def __init__(
        self,
        *,
        prompt: str | None = None,
        model: str = seedance.DEFAULT_MODEL,
        first_frame_url: str | None = None,
        last_frame_url: str | None = None,
        reference_image_urls: list[str] | None = None,
        resolution: str | None = None,
        ratio: str | None = None,
        duration: int | None = None,
        seed: int | None = None,
        generate_audio: bool | None = None,
        callback_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(prompt=prompt, model=model, **kwargs)
        self._set_request_fields(
            first_frame_url=first_frame_url,
            last_frame_url=last_frame_url,
            reference_image_urls=reference_image_urls,
            resolution=resolution,
            ratio=ratio,
            duration=duration,
            seed=seed,
            generate_audio=generate_audio,
            callback_url=callback_url,
        )


__all__ = [
    "SERVICES",
    "AceVideoOperator",
    "KlingVideoOperator",
    "LumaVideoOperator",
    "SeedanceVideoOperator",
    "VeoVideoOperator",
    "WanVideoOperator",
]

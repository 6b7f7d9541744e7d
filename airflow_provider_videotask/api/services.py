"""Every Ace Data Cloud video service the provider speaks, by name (the path segment and the sensor's
``service``). Adding one: its ``api/<service>.py`` with a ``SERVICE``, a line here, its operator, and its
result shape in the sandbox (``sandbox/ace.py``). Sora stays out: Ace publishes no guide for it now
(AceDataCloud/APIs, sora/README.md: "No API guides for this service are currently published")."""

from __future__ import annotations

from airflow_provider_videotask.api import ace, hailuo, kling, luma, seedance, veo, wan

SERVICES: dict[str, ace.Service] = {
    module.SERVICE.name: module.SERVICE for module in (hailuo, kling, veo, luma, wan, seedance)
}

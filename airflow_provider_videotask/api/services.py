"""Every Ace Data Cloud video service by name (the path segment and the sensor's ``service``).

The services with a module of their own (typed fields, documented checks, an operator) are listed in
``SERVICES``; any other name of Ace's path pattern (Sora, Pika, PixVerse, next month's) is served by the
generic request (``ace.generic``), and every answer is read by the one reader (``ace.parse_task``).
Adding a module: its ``api/<service>.py`` with a ``SERVICE``, a line here, its operator, and its result
shape in the sandbox (``sandbox/ace.py``).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_videotask.api import ace, hailuo, kling, luma, seedance, veo, wan

SERVICES: dict[str, ace.Service] = {
    module.SERVICE.name: module.SERVICE for module in (hailuo, kling, veo, luma, wan, seedance)
}


def service_named(name: Any) -> ace.Service:
    """The service's own module, or the generic request for a name of Ace's path pattern."""
    return SERVICES.get(ace.check_service_name(name)) or ace.generic(name)

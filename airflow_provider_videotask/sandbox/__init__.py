"""A local stand-in for the HiDream and Hailuo APIs: develop and test DAGs offline, without credits.

Run it with ``python -m airflow_provider_videotask.sandbox --port 8090`` or in-process with
:class:`Sandbox`. Point a connection's host at it (``http://127.0.0.1:8090``); any bearer token is
accepted unless ``--token`` asks for a given one.

Tasks go queued -> running (progress rising) -> succeeded over ``--duration`` seconds. Keywords in a
prompt change that:

- ``[fail]``: the task fails; ``[reject]``: content review rejects it (Hailuo reports it as failed);
- ``[duration=N]``: this task takes N seconds; ``[videos=N]``: a HiDream task with N sub-tasks (up to 4).

Faults (``--fault KIND[:key=value,...]``, ``Sandbox.add_fault`` or ``POST /_sandbox/faults``) hit the
next ``count`` vendor requests (``count=-1``: until cleared; ``only=reads|submits|all``):
``rate_limit`` (429, ``retry_after``), ``server_error`` (``status``, 500), ``html`` (a proxy's error page,
502), ``slow`` (``delay`` seconds, then the answer), ``malformed`` (cut JSON), ``wrong_types`` (a
well-formed answer of the wrong shape), ``drop`` (connection closed unanswered), ``unauthorized`` (401),
``used_up`` (403).

Control: ``GET /_sandbox/stats`` (request counts by route), ``POST /_sandbox/reset``,
``DELETE /_sandbox/faults``, ``GET /_sandbox/health``.
"""

from airflow_provider_videotask.sandbox.server import Fault, Sandbox

__all__ = ["Fault", "Sandbox"]

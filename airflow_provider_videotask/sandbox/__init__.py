"""A local stand-in for the HiDream and Hailuo APIs: develop and test DAGs offline, without credits.

Run it with ``python -m airflow_provider_videotask.sandbox --port 8090`` or in-process with
:class:`Sandbox`. Point a connection's host at it (``http://127.0.0.1:8090``). It behaves as the
vendors document, by default:

- HiDream: the connection's password is an API key (any, unless ``--api-key`` names one), exchanged at
  ``/prod-api/user/apikey2token`` for a token that lives ``--token-ttl`` seconds (a day); an expired
  or unknown token is refused with HTTP 401. Submits are limited per minute and module (10 for
  txt2video and img2video, 2 for video_edit; ``--no-limits`` lifts them), refused with HTTP 429.
- Ace Data Cloud (Hailuo): any bearer token unless ``--token`` names one; ``retrieve_batch`` is a
  paged query (``limit``, ``offset``; ``--page-size``, 12, when no limit is sent) whose ``count`` is
  every match.

Tasks go queued -> running (progress rising) -> succeeded over ``--duration`` seconds. Keywords in a
prompt change that:

- ``[fail]``: the task fails; ``[reject]``: content review rejects it (Hailuo reports it as failed);
- ``[duration=N]``: this task takes N seconds; ``[videos=N]``: a HiDream task with N sub-tasks (up to 4);
- how a finished task reads: ``[no_video]`` (done, but no video URL), ``[odd_state]`` (a state nobody
  documents), and for Hailuo ``[word=W]`` (the done word, e.g. ``completed``), ``[key=status]``.

Faults (``--fault KIND[:key=value,...]``, ``Sandbox.add_fault`` or ``POST /_sandbox/faults``) hit the
next ``count`` vendor requests (``count=-1``: until cleared; ``only=reads|submits|all``):
``rate_limit`` (429, ``retry_after``), ``server_error`` (``status``, 500), ``html`` (a proxy's error page,
502), ``slow`` (``delay`` seconds, then the answer), ``malformed`` (cut JSON), ``wrong_types`` (a
well-formed answer of the wrong shape), ``drop`` (connection closed unanswered), ``unauthorized`` (401),
``used_up`` (403).

Control: ``GET /_sandbox/stats`` (request counts by route, tokens issued, submits accepted and
refused), ``POST /_sandbox/reset``,
``DELETE /_sandbox/faults``, ``GET /_sandbox/health``.
"""

from airflow_provider_videotask.sandbox.server import Sandbox
from airflow_provider_videotask.sandbox.world import Fault, SubmitLimit

__all__ = ["Fault", "Sandbox", "SubmitLimit"]

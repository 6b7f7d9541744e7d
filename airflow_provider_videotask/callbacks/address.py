"""Where a vendor calls back: a URL that carries the capability to wake one waiting task. Pure.

Neither vendor signs its callbacks (Ace: "callbacks currently carry no signature header ... include an
unguessable token in your callback_url", AceDataCloud/Docs ``en/concepts/async-tasks.mdx``; HiDream
documents none), so the URL itself is the credential, as in Temporal's task tokens: it names the waiting
task (:class:`WaitAddress`, in the path) and an HMAC-SHA256 of that name under the connection's
``callback_secret`` (the ``token`` query parameter).

The address names the Airflow task instance, not the vendor task (unknown before the submit), and not
the try: a retry that reattaches to the task an earlier try paid for is still woken by its callback.
A forged or altered URL fails the constant-time comparison; a leaked one can only make the receiver
read the vendor (it never trusts the body), so the worst it buys is a few status reads.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_videotask.api.errors import VideoTaskValidationError
from airflow_provider_videotask.connection_form import DEFAULT_CALLBACK_FALLBACK_INTERVAL, MIN_CALLBACK_SECRET_LENGTH

PATH = "/videotask/callbacks/"
# Far above any real address (Airflow's ids are at most 250 characters each): a longer name is refused unread.
MAX_NAME_LENGTH = 2048
# Bound into the MAC so a signature made for anything else under the same secret is never accepted here.
_PURPOSE = b"videotask-callback-v1\0"


@dataclass(frozen=True)
class WaitAddress:
    """What identifies a waiting task: its vendor connection and its Airflow task instance."""

    conn_id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1


@dataclass(frozen=True)
class CallbackConfig:
    """A connection's callback extras: ``callback_base_url`` (the Airflow api-server's public base URL as
    the vendor reaches it), ``callback_secret`` (signs the URLs) and ``callback_fallback_interval``."""

    base_url: str
    secret: str = field(repr=False)
    fallback_interval: float = DEFAULT_CALLBACK_FALLBACK_INTERVAL


def callback_config(extra: Callable[[str], Any], conn_id: str) -> CallbackConfig | None:
    """The connection's callbacks (``extra``: its extras by name, empty as None); None when neither extra is
    set. A half or bad setting raises, naming the extra and the fix."""
    base_url, secret = extra("callback_base_url"), extra("callback_secret")
    if base_url is None and secret is None:
        return None
    where = f"connection {conn_id!r}"
    if not (isinstance(base_url, str) and base_url.startswith(("https://", "http://"))):
        raise VideoTaskValidationError(
            f"{where}: extra 'callback_base_url' must be the http(s) URL at which the vendor reaches the Airflow "
            f"api-server (e.g. https://airflow.example.com), got {base_url!r}; clear both callback extras to poll only"
        )
    if not isinstance(secret, str) or len(secret) < MIN_CALLBACK_SECRET_LENGTH:
        raise VideoTaskValidationError(
            f"{where}: extra 'callback_secret' must be a random string of at least {MIN_CALLBACK_SECRET_LENGTH} "
            "characters (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'); clear both callback "
            "extras to poll only"
        )
    fallback = extra("callback_fallback_interval")
    if fallback is None:
        return CallbackConfig(base_url, secret)
    try:
        seconds = float(fallback)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(fallback, bool) or not (math.isfinite(seconds) and seconds >= 1):
        raise VideoTaskValidationError(
            f"{where}: extra 'callback_fallback_interval' must be a number of seconds, at least 1, got {fallback!r}"
        )
    return CallbackConfig(base_url, secret, seconds)


def address_name(address: WaitAddress) -> str:
    """The address as it goes in the URL's path: compact JSON, base64url without padding. Not a secret."""
    parts = [address.conn_id, address.dag_id, address.run_id, address.task_id, address.map_index]
    return _b64(json.dumps(parts, separators=(",", ":")).encode())


def signature_for(name: str, secret: str) -> str:
    """The HMAC-SHA256 of an address name under ``secret``, base64url: the credential."""
    return _b64(_mac(name, secret))


def callback_url(base_url: str, address: WaitAddress, secret: str) -> str:
    """The URL to give the vendor: ``<base>/videotask/callbacks/<address>?token=<signature>``. The signature
    is a query parameter named ``token`` so that Airflow's access log (3.3+) writes it as ``***``."""
    name = address_name(address)
    return f"{base_url.rstrip('/')}{PATH}{name}?token={signature_for(name, secret)}"


def read_address(name: str) -> WaitAddress | None:
    """The address a URL names, NOT verified (it says whose secret to verify with); None if malformed."""
    if len(name) > MAX_NAME_LENGTH:
        return None
    try:
        conn_id, dag_id, run_id, task_id, map_index = json.loads(_unb64(name))
    except (ValueError, TypeError, binascii.Error, RecursionError):
        return None
    if not all(isinstance(part, str) and part for part in (conn_id, dag_id, run_id, task_id)):
        return None
    if isinstance(map_index, bool) or not isinstance(map_index, int):
        return None
    return WaitAddress(conn_id, dag_id, run_id, task_id, map_index)


def verify(name: str, signature: str, secret: str | list[str]) -> bool:
    """True when ``signature`` was made for ``name`` under ``secret`` (or any of a list: the current one and
    those rotated out); compared in constant time, against every secret whichever matches."""
    secrets = [secret] if isinstance(secret, str) else secret
    if not (name and signature and secrets and signature.isascii()):
        return False
    # The text itself, not its decoding: base64 ignores a last character's spare bits and padding, so
    # other spellings would decode to the same bytes.
    matches = [hmac.compare_digest(signature, signature_for(name, each)) for each in secrets if each]
    return any(matches)


def _mac(name: str, secret: str) -> bytes:
    return hmac.new(secret.encode(), _PURPOSE + name.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

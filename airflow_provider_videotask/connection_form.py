"""The connection forms of every connection type, declared once.

Airflow 3.2+ reads these declarations from the provider info (``conn-fields``, ``ui-field-behaviour``);
older releases call the hooks' ``get_connection_form_widgets`` / ``get_ui_field_behaviour``, which are
built from the same data below.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_videotask.api import ace, hidream
from airflow_provider_videotask.api.common import DEFAULT_BATCH_SIZE, DEFAULT_PARALLEL_READS, DEFAULT_SUBMITS_IN_FLIGHT

DEFAULT_TIMEOUT_SECONDS = 30.0
# Callbacks (callbacks/address.py): while one is expected, the task is still read this often; and an HMAC
# key anyone could guess protects nothing.
DEFAULT_CALLBACK_FALLBACK_INTERVAL = 300.0
MIN_CALLBACK_SECRET_LENGTH = 16

_TIMEOUT_FIELD = {
    "label": "Request timeout (seconds)",
    "description": "How long one HTTP call may take before it is abandoned (and, for reads, retried).",
    "schema": {"type": ["number", "null"], "minimum": 1, "default": DEFAULT_TIMEOUT_SECONDS},
}

_BATCH_SIZE_FIELD = {
    "label": "Batch size",
    "description": "How many task ids one status read asks for (default 50; neither vendor documents a maximum).",
    "schema": {"type": ["integer", "null"], "minimum": 1, "default": DEFAULT_BATCH_SIZE},
}

_PARALLEL_READS_FIELD = {
    "label": "Parallel status reads",
    "description": "How many batch reads a waiting triggerer sends at once (default 4; neither vendor "
    "documents a limit for reads).",
    "schema": {"type": ["integer", "null"], "minimum": 1, "default": DEFAULT_PARALLEL_READS},
}


def _pacing_fields(vendor_rule: str) -> dict[str, Any]:
    """Optional submit limits this provider keeps to, per worker process (across workers: a pool)."""
    return {
        "max_submits_per_minute": {
            "label": "Max submits per minute",
            "description": "Optional: submits beyond it wait their turn (nothing is sent) instead of being "
            f"refused by the vendor. {vendor_rule} Counted within one process (a task that submits many); "
            "each operator instance runs in its own, so for a mapped fan-out use an Airflow pool.",
            "schema": {"type": ["integer", "null"], "minimum": 1},
        },
        "max_concurrent_tasks": {
            "label": "Max concurrent tasks",
            "description": "Optional: how many tasks submitted from one process may run at the vendor at "
            "once. For a mapped fan-out use an Airflow pool of this size with include_deferred.",
            "schema": {"type": ["integer", "null"], "minimum": 1},
        },
        "max_submits_in_flight": {
            "label": "Max submits in flight",
            "description": "How many submits of one task (prompts=[...]) are sent at once (default "
            f"{DEFAULT_SUBMITS_IN_FLIGHT}); each is paced by the limits above, and a refused one waits its turn.",
            "schema": {"type": ["integer", "null"], "minimum": 1, "default": DEFAULT_SUBMITS_IN_FLIGHT},
        },
    }


# Optional, for every vendor: the vendor calls back when a task ends (docs/callbacks.md).
_CALLBACK_FIELDS: dict[str, Any] = {
    "callback_base_url": {
        "label": "Callback base URL",
        "description": "Optional: the public base URL of this Airflow's api-server as the vendor reaches it "
        "(e.g. https://airflow.example.com; only its /videotask/ path needs to be exposed). With a callback "
        "secret, the vendor calls back when a task ends and the task wakes within seconds.",
        "schema": {"type": ["string", "null"]},
    },
    "callback_secret": {
        "label": "Callback secret",
        "description": f"Optional: a random string of {MIN_CALLBACK_SECRET_LENGTH}+ characters that signs the callback "
        "URLs (python -c 'import secrets; print(secrets.token_urlsafe(32))'). To change it while tasks wait, "
        "move the old one to the previous secrets first.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "callback_previous_secrets": {
        "label": "Previous callback secrets",
        "description": "Optional, while rotating: the secrets callback_secret had before, one a line. Callbacks "
        "signed with them are still taken, so tasks submitted before the change wake as fast. Remove them once "
        "those tasks are done (docs/callbacks.md).",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "callback_fallback_interval": {
        "label": "Fallback read interval with callbacks (seconds)",
        "description": "While a callback is expected, the task is still read this often, in case the "
        f"callback is lost (default {DEFAULT_CALLBACK_FALLBACK_INTERVAL:.0f}).",
        "schema": {"type": ["number", "null"], "minimum": 1, "default": DEFAULT_CALLBACK_FALLBACK_INTERVAL},
    },
}

_ACE_FIELDS: dict[str, Any] = {
    "request_timeout": _TIMEOUT_FIELD,
    "batch_size": _BATCH_SIZE_FIELD,
    "parallel_reads": _PARALLEL_READS_FIELD,
    **_pacing_fields("Ace Data Cloud publishes no number; it answers HTTP 429 when an account goes too fast."),
    **_CALLBACK_FIELDS,
}

CONN_FIELDS: dict[str, dict[str, Any]] = {
    "hidream": {
        "api_version": {
            "label": "API version",
            "description": "v2 (default): txt2video, img2video, video_edit, read in batches. v3: txt2video, "
            "img2video, keyframe2video. v4 (vivago.ai, the gateway of HiDream's own client): hidream-Q2 "
            "(Kling), hidream-R and hidream-R2-Audio (Seedance). v3 and v4 read each task on its own.",
            "schema": {
                "type": ["string", "null"],
                "enum": list(hidream.API_VERSIONS),
                "default": hidream.DEFAULT_API_VERSION,
            },
        },
        "request_timeout": _TIMEOUT_FIELD,
        "batch_size": _BATCH_SIZE_FIELD,
        "parallel_reads": _PARALLEL_READS_FIELD,
        # https://www.hidreamai.com/docs/pixeling ("调用限制"): tasks per minute and concurrency by tier.
        **_pacing_fields(
            "HiDream allows 10 video tasks a minute (txt2video, img2video), 2 for video_edit, and 1 to 10 "
            "running at once by account tier."
        ),
        "api_user_id": {
            "label": "API user id",
            "description": "Optional: your end user's id, sent as the API-User-ID header.",
            "schema": {"type": ["string", "null"]},
        },
        "default_module": {
            "label": "Default module",
            "description": "The module used when a task does not name one (default: the API version's "
            f"first, txt2video on v2 and v3, hidream-Q2 on v4). Documented: {', '.join(hidream.MODULES)}; "
            "a module HiDream added since is taken too (with a warning when a task is sent).",
            # No default: a filled-in txt2video would not suit a v4 connection. No enum: HiDream decides.
            "schema": {"type": ["string", "null"]},
        },
        "token": {
            "label": "Raw token (instead of the API key)",
            "description": "Optional: a token used as it is, never renewed. On v2 and v3 leave it empty and "
            "put the API key in the password (its tokens live a day and are renewed). On v4 this is where "
            "the vivago.ai token HiDream's own client uses goes (HIDREAM_AUTHORIZATION).",
            "schema": {"type": ["string", "null"], "format": "password"},
        },
        **_CALLBACK_FIELDS,
    },
    "hailuo": _ACE_FIELDS,
    # One token for every Ace Data Cloud video service; each task names its service.
    "acedatacloud": _ACE_FIELDS,
}


def ui_field_behaviour(default_base_url: str, secret_label: str, secret_placeholder: str) -> dict[str, Any]:
    return {
        "hidden-fields": ["login", "schema", "port"],
        "relabeling": {"password": secret_label, "host": "Base URL"},
        "placeholders": {"host": default_base_url, "password": secret_placeholder},
    }


UI_FIELD_BEHAVIOUR: dict[str, dict[str, Any]] = {
    # The API key (https://www.hidreamai.com/docs/pixeling/user/api_key.html) is exchanged for day-long tokens.
    "hidream": ui_field_behaviour(hidream.DEFAULT_BASE_URL, "API key", "HiDream API key (it buys day-long tokens)"),
    "hailuo": ui_field_behaviour(ace.DEFAULT_BASE_URL, "API token", "Bearer token (without 'Bearer ')"),
    "acedatacloud": ui_field_behaviour(ace.DEFAULT_BASE_URL, "API token", "Bearer token (without 'Bearer ')"),
}


def legacy_ui_field_behaviour(conn_type: str) -> dict[str, Any]:
    """``get_ui_field_behaviour()``'s shape (snake_case keys) for Airflow before 3.2."""
    behaviour = UI_FIELD_BEHAVIOUR[conn_type]
    return {
        "hidden_fields": behaviour["hidden-fields"],
        "relabeling": behaviour["relabeling"],
        "placeholders": behaviour["placeholders"],
    }


def legacy_form_widgets(conn_type: str) -> dict[str, Any]:
    """``get_connection_form_widgets()`` for Airflow before 3.2 (needs wtforms, as every provider's does)."""
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import PasswordField, StringField
    from wtforms.validators import Optional, any_of

    widgets: dict[str, Any] = {}
    for name, spec in CONN_FIELDS[conn_type].items():
        validators: list[Any] = [Optional()]
        if "enum" in spec["schema"]:
            validators.append(any_of(spec["schema"]["enum"]))
        secret = spec["schema"].get("format") == "password"
        widgets[name] = (PasswordField if secret else StringField)(
            lazy_gettext(spec["label"]),
            widget=BS3PasswordFieldWidget() if secret else BS3TextFieldWidget(),
            description=spec["description"],
            validators=validators,
            default=spec["schema"].get("default"),
        )
    return widgets

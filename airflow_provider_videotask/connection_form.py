"""The connection forms of both vendors, declared once.

Airflow 3.2+ reads these declarations from the provider info (``conn-fields``, ``ui-field-behaviour``);
older releases call the hooks' ``get_connection_form_widgets`` / ``get_ui_field_behaviour``, which are
built from the same data below.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_videotask.api import hailuo, hidream

DEFAULT_TIMEOUT_SECONDS = 30.0

_TIMEOUT_FIELD = {
    "label": "Request timeout (seconds)",
    "description": "How long one HTTP call may take before it is abandoned (and, for reads, retried).",
    "schema": {"type": ["number", "null"], "minimum": 1, "default": DEFAULT_TIMEOUT_SECONDS},
}

CONN_FIELDS: dict[str, dict[str, Any]] = {
    "hidream": {
        "request_timeout": _TIMEOUT_FIELD,
        "api_user_id": {
            "label": "API user id",
            "description": "Optional: your end user's id, sent as the API-User-ID header.",
            "schema": {"type": ["string", "null"]},
        },
        "default_module": {
            "label": "Default module",
            "description": "The module used when a task does not name one.",
            "schema": {
                "type": ["string", "null"],
                "enum": list(hidream.MODULES),
                "default": hidream.DEFAULT_MODULE,
            },
        },
    },
    "hailuo": {"request_timeout": _TIMEOUT_FIELD},
}


def ui_field_behaviour(default_base_url: str) -> dict[str, Any]:
    return {
        "hidden-fields": ["login", "schema", "port"],
        "relabeling": {"password": "API token", "host": "Base URL"},
        "placeholders": {"host": default_base_url, "password": "Bearer token (without 'Bearer ')"},
    }


UI_FIELD_BEHAVIOUR: dict[str, dict[str, Any]] = {
    "hidream": ui_field_behaviour(hidream.DEFAULT_BASE_URL),
    "hailuo": ui_field_behaviour(hailuo.DEFAULT_BASE_URL),
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
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import StringField
    from wtforms.validators import Optional, any_of

    widgets: dict[str, Any] = {}
    for name, spec in CONN_FIELDS[conn_type].items():
        validators: list[Any] = [Optional()]
        if "enum" in spec["schema"]:
            validators.append(any_of(spec["schema"]["enum"]))
        widgets[name] = StringField(
            lazy_gettext(spec["label"]),
            widget=BS3TextFieldWidget(),
            description=spec["description"],
            validators=validators,
            default=spec["schema"].get("default"),
        )
    return widgets

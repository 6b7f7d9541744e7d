"""Airflow discovers the provider, validates its info, and shows both connection forms."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import airflow
import jsonschema
import pytest
from packaging.version import Version

from airflow_provider_videotask.get_provider_info import get_provider_info
from airflow_provider_videotask.hooks.hailuo import HailuoHook
from airflow_provider_videotask.hooks.hidream import HiDreamHook

AIRFLOW_DIR = Path(airflow.__file__).parent


def test_entry_point_is_registered() -> None:
    [entry] = [
        e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("airflow_provider_videotask")
    ]
    assert entry.load() is get_provider_info


def test_provider_info_matches_airflows_schema() -> None:
    schema = json.loads((AIRFLOW_DIR / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_every_listed_module_imports_and_holds_the_public_classes() -> None:
    """As official providers do: operators, sensors, triggers and hooks listed with their modules."""
    import importlib

    info = get_provider_info()
    expected = {
        "operators": {
            "HiDreamVideoOperator", "HailuoVideoOperator", "StoreVideosOperator", "AceVideoOperator",
            "KlingVideoOperator", "VeoVideoOperator", "LumaVideoOperator", "WanVideoOperator", "SeedanceVideoOperator",
        },
        "sensors": {"VideoTaskSensor"},
        "triggers": {"VideoTaskTrigger"},
        "hooks": {"HiDreamHook", "HailuoHook", "AceDataCloudHook"},
    }  # fmt: skip
    vendors = {"HiDream", "Hailuo", "Ace Data Cloud"}
    for kind, classes in expected.items():
        modules = {module for entry in info[kind] for module in entry["python-modules"]}
        found = {name for module in modules for name in vars(importlib.import_module(module))}
        assert classes <= found, kind
        integrations = {*vendors, "Video storage"} if kind == "operators" else vendors
        assert {entry["integration-name"] for entry in info[kind]} == integrations, kind
    assert {entry["integration-name"] for entry in info["integrations"]} == {*vendors, "Video storage"}


def test_connection_forms_match_the_declarative_schema() -> None:
    """Airflow 3.2+ reads conn-fields and ui-field-behaviour from here; its provider.yaml schema defines them."""
    yaml_schema_path = AIRFLOW_DIR / "provider.yaml.schema.json"
    if not yaml_schema_path.exists():
        pytest.skip("this Airflow has no provider.yaml schema")
    item_schema = json.loads(yaml_schema_path.read_text())["properties"]["connection-types"]["items"]
    if "conn-fields" not in item_schema["properties"]:
        pytest.skip("this Airflow predates declarative connection forms (3.2)")
    for connection_type in get_provider_info()["connection-types"]:
        jsonschema.validate(connection_type, item_schema)


@pytest.mark.parametrize(
    ("hook", "default_url", "secret"),
    [(HiDreamHook, "https://www.hidreamai.com", "API key"), (HailuoHook, "https://api.acedata.cloud", "API token")],
)
def test_form_relabels_the_secret_and_base_url_and_hides_the_rest(hook: type, default_url: str, secret: str) -> None:
    info = {c["connection-type"]: c for c in get_provider_info()["connection-types"]}[hook.conn_type]
    assert info["hook-class-name"] == f"{hook.__module__}.{hook.__name__}"
    behaviour = info["ui-field-behaviour"]
    assert behaviour["relabeling"] == {"password": secret, "host": "Base URL"}
    assert behaviour["placeholders"]["host"] == default_url
    assert set(behaviour["hidden-fields"]) == {"login", "schema", "port"}
    assert "request_timeout" in info["conn-fields"]
    # The classmethods for Airflow < 3.2 say the same.
    assert hook.get_ui_field_behaviour()["relabeling"] == behaviour["relabeling"]


def test_hidream_form_has_its_extra_fields() -> None:
    fields = {c["connection-type"]: c for c in get_provider_info()["connection-types"]}["hidream"]["conn-fields"]
    assert set(fields) == {
        "api_version",
        "request_timeout",
        "batch_size",
        "parallel_reads",
        "max_submits_per_minute",
        "max_concurrent_tasks",
        "max_submits_in_flight",
        "api_user_id",
        "default_module",
        "token",
        "callback_base_url",
        "callback_secret",
        "callback_previous_secrets",
        "callback_fallback_interval",
    }
    assert fields["token"]["schema"]["format"] == "password"  # a secret: the UI hides it
    assert fields["callback_secret"]["schema"]["format"] == "password"
    # No module is filled in (each API version has its own first module); every version is offered.
    assert "default" not in fields["default_module"]["schema"]
    assert fields["api_version"]["schema"]["enum"] == ["v2", "v3", "v4"]
    assert fields["api_version"]["schema"]["default"] == "v2"


def test_pacing_fields_name_the_vendor_limits() -> None:
    forms = {c["connection-type"]: c["conn-fields"] for c in get_provider_info()["connection-types"]}
    assert "10 video tasks a minute" in forms["hidream"]["max_submits_per_minute"]["description"]
    assert "429" in forms["hailuo"]["max_submits_per_minute"]["description"]
    for fields in forms.values():
        assert fields["max_concurrent_tasks"]["schema"] == {"type": ["integer", "null"], "minimum": 1}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_providers_manager_builds_both_forms() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    hooks = manager.hooks
    assert hooks["hidream"] is not None
    assert hooks["hidream"].hook_class_name == "airflow_provider_videotask.hooks.hidream.HiDreamHook"
    assert hooks["hailuo"] is not None
    if Version(airflow.__version__) >= Version("3.2"):
        # Declarative forms need no wtforms; before 3.2 Airflow builds forms only where FAB is installed.
        assert manager.field_behaviours["hailuo"]["relabeling"]["password"] == "API token"
        assert "extra__hidream__api_user_id" in manager.connection_form_widgets


def test_airflow_cli_lists_both_hooks() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "hooks", "-o", "plain"],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
        check=True,
    )
    lines = result.stdout.splitlines()
    assert any("hidream" in line and "HiDreamHook" in line for line in lines), result.stdout[-2000:]
    assert any("hailuo" in line and "HailuoHook" in line for line in lines), result.stdout[-2000:]


def test_the_video_link_loads_without_the_http_stack() -> None:
    """The api-server imports extra links: the link must not pull in the hooks (requests, httpx, the sandbox)."""
    code = (
        "import sys, airflow_provider_videotask.links; "
        "print(sorted(m for m in sys.modules if m.startswith('airflow_provider_videotask.')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded = set(ast.literal_eval(result.stdout.strip()))
    assert "airflow_provider_videotask.links" in loaded
    heavy = {f"airflow_provider_videotask.{name}" for name in ("hooks.base", "waiting", "triggers", "sandbox")}
    assert not loaded & heavy, loaded


def test_every_connection_type_offers_callbacks_and_the_plugin_is_declared() -> None:
    info = get_provider_info()
    for connection in info["connection-types"]:
        fields = connection["conn-fields"]
        assert {"callback_base_url", "callback_secret", "callback_fallback_interval"} <= set(fields), connection
        assert fields["callback_secret"]["schema"]["format"] == "password"
    # The plugin (callbacks, the Videos tab) comes through its own entry point: provider-info plugins load only
    # with lazy_discover_providers = False.
    assert "plugins" not in info
    [entry] = [entry for entry in entry_points(group="airflow.plugins") if entry.name == "videotask"]
    loaded = entry.load()
    [app] = loaded.fastapi_apps
    assert app["url_prefix"] == "/videotask"
    [view] = loaded.external_views
    assert (view["destination"], view["href"]) == ("dag_run", "/videotask/runs/{DAG_ID}/{RUN_ID}")

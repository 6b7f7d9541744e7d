"""The provider in Airflow's UI, in a real browser: Debian's Chromium, driven by Playwright for Python.

A person logs in, adds a connection of each of the provider's types (the relabelled fields, their
placeholders and extras as ``get_provider_info`` declares them), saves a Hailuo one, runs a DAG on it,
and opens the finished task's Video link. A failing step leaves a screenshot of the page (its path is in
the failure's report, under ``build/test-artifacts/``: see ``conftest.py``).
"""

from __future__ import annotations

import json
from typing import Any

import requests

from airflow_provider_videotask.get_provider_info import get_provider_info
from airflow_provider_videotask.sandbox import Sandbox
from tests.conftest import SENTINEL_TOKEN
from tests.stack.conftest import AIRFLOW_VERSION, Stack, log_in

TYPES = {kind["connection-type"]: kind for kind in get_provider_info()["connection-types"]}


def pick_type(page: Any, conn_type: str) -> None:
    page.get_by_role("combobox").last.click()
    page.keyboard.type(TYPES[conn_type]["hook-name"])
    page.keyboard.press("Enter")
    page.get_by_text("Standard Fields").wait_for()


def assert_form_is_the_providers(page: Any, conn_type: str) -> None:
    """The fields as the provider declares them: relabelled, with placeholders, hidden ones gone, its extras."""
    if AIRFLOW_VERSION < (3, 1):
        # Airflow 3.0's UI draws a provider's form only with the FAB provider installed (docs/versions.md):
        # without it, the standard fields and the extras as JSON, which the provider reads all the same.
        assert page.get_by_text("Extra Fields JSON", exact=True).count() == 1
        return
    behaviour = TYPES[conn_type]["ui-field-behaviour"]
    labels = [text.strip().rstrip("*").strip() for text in page.locator("label").all_inner_texts()]
    for name, spec in TYPES[conn_type]["conn-fields"].items():
        assert spec["label"] in labels, (conn_type, name, labels)
    for field, label in behaviour["relabeling"].items():
        assert label in labels, (conn_type, field, labels)
    for field, placeholder in behaviour["placeholders"].items():
        assert page.locator(f"input[name='{field}']").get_attribute("placeholder") == placeholder, (conn_type, field)
    for field in behaviour["hidden-fields"]:
        assert page.locator(f"input[name='{field}']").count() == 0, (conn_type, field)


def test_connection_forms_and_the_video_link_in_chromium(stack: Stack, sandbox: Sandbox, page: Any) -> None:
    log_in(page, stack)
    page.get_by_role("button", name="Admin").click()
    page.get_by_role("menuitem", name="Connections").click()
    page.get_by_role("button", name="Add Connection").click()
    page.get_by_label("Connection ID").fill("ui_hailuo")
    pick_type(page, "hidream")
    assert_form_is_the_providers(page, "hidream")
    pick_type(page, "hailuo")
    assert_form_is_the_providers(page, "hailuo")

    page.locator("input[name='host']").fill(sandbox.url)
    page.locator("input[name='password']").fill(SENTINEL_TOKEN)
    if AIRFLOW_VERSION >= (3, 1):  # the provider's own extra fields (3.0: JSON only, see above)
        page.get_by_text("Extra Fields", exact=True).click()
        page.locator("input[name='element_batch_size']").fill("10")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("dialog").wait_for(state="detached")

    saved = requests.get(f"{stack.api_url}/api/v2/connections/ui_hailuo", headers=stack.auth_headers(), timeout=30)
    assert saved.status_code == 200, saved.text
    connection = saved.json()
    assert (connection["conn_type"], connection["host"]) == ("hailuo", sandbox.url)
    if AIRFLOW_VERSION >= (3, 1):
        assert json.loads(connection["extra"] or "{}").get("batch_size") in (10, "10")

    run_id = stack.trigger("stack_ui_video")
    assert stack.wait_for_run("stack_ui_video", run_id, timeout=120) == "success", stack.logs()
    assert sandbox.counts()["hailuo_submit"] == 1  # made through the connection saved in the browser
    [(urls,)] = stack.query(
        "select value from xcom where run_id = %s and task_id = 'generate' and key = 'return_value'", run_id
    )
    [url] = urls if isinstance(urls, list) else json.loads(urls)

    page.goto(f"{stack.api_url}/dags/stack_ui_video/runs/{run_id}/tasks/generate")
    page.get_by_role("link", name="Details", exact=True).click()
    link = page.get_by_role("link", name="Video", exact=True)
    assert link.get_attribute("href") == url
    downloads = sandbox.counts()["video_downloads"]
    with page.context.expect_page() as opened:
        link.click()
    video = opened.value
    video.wait_for_load_state()
    assert video.url == url
    assert url.startswith(f"{sandbox.url}/_sandbox/videos/")
    assert sandbox.counts()["video_downloads"] > downloads  # the browser fetched the sandbox's video

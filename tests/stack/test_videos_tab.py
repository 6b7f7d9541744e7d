"""The run's Videos tab in a real browser (Debian's Chromium, Playwright): three mapped Kling tasks keep their
videos; signed in, the tab shows their prompts and three players whose videos load from the kept copies,
even once the vendor's links have expired; signed out, nothing of the run."""

from __future__ import annotations

import json
from typing import Any

import requests

from airflow_provider_videotask.sandbox import Sandbox
from tests.stack.conftest import AIRFLOW_VERSION, ROOT, Stack, log_in

DAG_ID = "stack_videos"
PROMPTS = ("a paper boat", "a red fox in snow", "a lighthouse")
SCREENSHOT = ROOT / "build" / "test-artifacts" / "videos-tab.png"

# Each player's state once its metadata loaded: readyState >= 1 (HAVE_METADATA) and a duration.
PLAYERS = """() => Array.from(document.querySelectorAll("video")).map(v => ({
    ready: v.readyState, duration: v.duration, error: v.error ? v.error.code : null, src: v.currentSrc}))"""


def test_the_plugin_declares_a_tab_on_every_dag_run(stack: Stack) -> None:
    answer = requests.get(f"{stack.api_url}/api/v2/plugins", headers=stack.auth_headers(), timeout=30)
    assert answer.status_code == 200, answer.text
    [plugin] = [plugin for plugin in answer.json()["plugins"] if plugin["name"] == "videotask"]
    if AIRFLOW_VERSION < (3, 1):
        # Airflow 3.0 shows no plugin views: its way to the page is each video task's "Videos of this run"
        # link (links.RunVideosLink), checked by the next test; the app itself is served.
        assert "external_views" not in plugin
        assert [app["url_prefix"] for app in plugin["fastapi_apps"]] == ["/videotask"]
        return
    [view] = plugin["external_views"]
    assert (view["name"], view["destination"]) == ("Videos", "dag_run")
    assert view["href"] == "/videotask/runs/{DAG_ID}/{RUN_ID}"
    icon = requests.get(f"{stack.api_url}{view['icon']}", timeout=30)  # served by the plugin, no third party
    assert (icon.status_code, icon.headers["content-type"]) == (200, "image/svg+xml")


def test_the_videos_tab_plays_every_kept_video_and_shows_nothing_signed_out(
    stack: Stack, sandbox: Sandbox, page: Any
) -> None:
    run_id = stack.trigger(DAG_ID)
    assert stack.wait_for_run(DAG_ID, run_id, timeout=180) == "success", stack.logs()
    sandbox.add_fault("expired", count=-1, only="videos")  # the vendor's links answer 403 from now on
    downloads = sandbox.counts()["video_downloads"]

    log_in(page, stack)
    if AIRFLOW_VERSION >= (3, 1):  # the run's Videos tab
        page.goto(f"{stack.api_url}/dags/{DAG_ID}/runs/{run_id}/plugin/videos")
        frame = page.frame_locator("iframe")
    else:  # Airflow 3.0 has no tabs: the page the tasks' "Videos of this run" link opens
        [(link,)] = stack.query(
            "select value from xcom where run_id = %s and key = '_link_RunVideosLink' and map_index = 0", run_id
        )
        page.goto(str(link if not str(link).startswith('"') else json.loads(link)))
        frame = page
    summary = frame.locator("#summary")
    summary.wait_for()
    assert summary.inner_text().startswith("3 videos: 3 succeeded, 0 failed")
    for prompt in PROMPTS:
        assert frame.get_by_text(f"{prompt} [duration=20]", exact=True).count() == 1, prompt
    tab = next(f for f in page.frames if "/videotask/runs/" in f.url)
    players = _players_loaded(tab)
    assert len(players) == 3, players
    for player in players:
        assert player["ready"] >= 1, player
        assert player["duration"] > 0, player
        assert player["error"] is None, player
        assert "/videotask/runs/" in player["src"], player  # the kept copy, through the api-server
    assert sandbox.counts()["video_downloads"] == downloads  # nothing came from the expired vendor links
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # Signed out: a fresh browser context, straight to the page and to one video.
    stranger = page.context.browser.new_context()
    try:
        alone = stranger.new_page()
        answer = alone.goto(tab.url)
        assert answer is not None
        assert answer.status == 401
        assert alone.locator("video").count() == 0
        for prompt in PROMPTS:
            assert prompt not in alone.content()
        assert alone.request.get(players[0]["src"]).status == 401
    finally:
        stranger.close()


def _players_loaded(frame: Any) -> list[dict[str, Any]]:
    frame.wait_for_function(
        "() => { const v = document.querySelectorAll('video'); "
        "return v.length > 0 && Array.from(v).every(p => p.readyState >= 1 || p.error); }",
        timeout=60_000,
    )
    return list(frame.evaluate(PLAYERS))

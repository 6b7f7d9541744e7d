"""The videos of a run through Airflow's own api-server app, in-process: three mapped Kling tasks run with
dag.test() against the sandbox, kept in a ``file://`` folder; the page and each video as a signed-in user
(the simple auth manager's JWT) and as a visitor who is not; a kept video after the vendor's link expired;
a run that kept nothing; a batch of three, a tile and a video per item; and the "Videos of this run" extra
link (Airflow 3.0's way to the page)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape, unescape
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jwt
import pytest
import requests
from fastapi.testclient import TestClient

from airflow_provider_videotask.gallery.sources import task_instance
from airflow_provider_videotask.sandbox import Sandbox
from tests.conftest import set_connection
from tests.dag_runs import parse_dags_folder, task_states, xcoms
from tests.dags.gallery_batch_dags import BATCH_PROMPTS
from tests.dags.gallery_dags import KEPT_PROMPTS, NOT_KEPT_PROMPTS

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("airflow_db")]

PASSWORD = "gallery-admin-password"
PLAYER = re.compile(r'<video controls preload="metadata" src="([^"]+)"')


@dataclass
class Runs:
    sandbox: Sandbox
    kept: Any  # the DagRun of gallery_kept
    not_kept: Any  # the DagRun of gallery_not_kept
    batch: Any  # the DagRun of gallery_batch
    client: TestClient  # Airflow's api-server app, signed out
    token: str  # the admin's API token

    @property
    def signed_in(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    """Both DAGs run once against one sandbox, then Airflow's app with the simple auth manager and one user."""
    from tests.dags.gallery_batch_dags import batch
    from tests.dags.gallery_dags import kept, not_kept

    home = tmp_path_factory.mktemp("gallery")
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({"admin": PASSWORD}))
    with Sandbox(duration=0) as sandbox, pytest.MonkeyPatch.context() as env:
        set_connection(env, "acedatacloud_default", "acedatacloud", sandbox.url)
        kept_run = kept.test(run_conf={"output": (home / "videos").as_uri() + "/"})
        not_kept_run = not_kept.test()
        batch_run = batch.test(run_conf={"output": (home / "batch").as_uri() + "/"})
        parse_dags_folder()  # the serialized DAGs, as the api-server reads them for the extra links (3.0)
        env.setenv(
            "AIRFLOW__CORE__AUTH_MANAGER",
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        )
        env.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin")
        env.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(passwords))
        env.delenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", raising=False)
        env.delenv("AIRFLOW__API__BASE_URL", raising=False)
        client = TestClient(airflow_app())
        answer = client.post("/auth/token", json={"username": "admin", "password": PASSWORD})
        assert answer.status_code == 201, answer.text
        yield Runs(sandbox, kept_run, not_kept_run, batch_run, client, answer.json()["access_token"])
    from airflow.api_fastapi.app import purge_cached_app

    purge_cached_app()


def airflow_app() -> Any:
    """A fresh api-server app: its auth manager made anew with the configuration of now."""
    from airflow.api_fastapi.app import create_app, purge_cached_app

    purge_cached_app()
    return create_app()


def players(html: str) -> list[str]:
    return [unescape(src) for src in PLAYER.findall(html)]


def page_url(dag_run: Any) -> str:
    return f"/videotask/runs/{dag_run.dag_id}/{quote(dag_run.run_id, safe='')}"


def kept_files(dag_run: Any) -> dict[int, Path]:
    """Each mapped task's kept video on disk, by map index (from its XCom ``videos``)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(
            XComModel.dag_id == dag_run.dag_id, XComModel.run_id == dag_run.run_id, XComModel.key == "videos"
        )
        records = {row.map_index: XComModel.deserialize_value(row) for row in rows}
    return {index: Path(urlsplit(record["stored_uri"]).path) for index, [record] in records.items()}


def test_the_runs_ran_and_kept_what_they_should(runs: Runs) -> None:
    assert task_states(runs.kept) == {"kling": "success"}
    assert task_states(runs.not_kept) == {"kling": "success"}
    files = kept_files(runs.kept)
    assert sorted(files) == [0, 1, 2]
    assert all(path.is_file() for path in files.values())
    assert kept_files(runs.not_kept) == {}


def test_signed_in_the_page_shows_the_three_prompts_and_players(runs: Runs) -> None:
    answer = runs.client.get(page_url(runs.kept), headers=runs.signed_in)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store"
    html = answer.text
    for prompt in KEPT_PROMPTS:
        assert prompt in html
    assert html.count("<video") == 3
    assert players(html) == [f"{page_url(runs.kept)}/videos/kling/{n}/0" for n in range(3)]
    assert "3 videos: 3 succeeded, 0 failed" in html
    for path in kept_files(runs.kept).values():
        assert f"<code>{path.as_uri()}</code>" in html
        assert hashlib.sha256(path.read_bytes()).hexdigest() in html
    assert "token=" not in html
    assert runs.token not in html
    assert runs.sandbox.url not in html  # the vendor's links are not in the page


def test_signed_in_by_the_uis_cookie_the_page_shows_the_run(runs: Runs) -> None:
    client = TestClient(runs.client.app, cookies={"_token": runs.token})
    answer = client.get(page_url(runs.kept))
    assert answer.status_code == 200, answer.text
    assert all(prompt in answer.text for prompt in KEPT_PROMPTS)
    assert runs.token not in answer.text


def test_each_player_streams_its_kept_video_whole_and_in_ranges(runs: Runs) -> None:
    html = runs.client.get(page_url(runs.kept), headers=runs.signed_in).text
    files = kept_files(runs.kept)
    for n, url in enumerate(players(html)):
        body = files[n].read_bytes()
        size = len(body)
        assert size > 100
        # httpx asks for gzip: the answer must still be the file, byte for byte, as Content-Length says.
        whole = runs.client.get(url, headers={**runs.signed_in, "Accept-Encoding": "gzip"})
        assert whole.status_code == 200
        assert whole.headers.get("content-encoding", "identity") == "identity"
        assert whole.headers["content-type"] == "video/mp4"
        assert whole.headers["accept-ranges"] == "bytes"
        assert whole.headers["content-length"] == str(size)
        assert whole.content == body
        first = runs.client.get(url, headers={**runs.signed_in, "Range": "bytes=0-99", "Accept-Encoding": "gzip"})
        assert first.status_code == 206
        assert first.headers.get("content-encoding", "identity") == "identity"
        assert first.headers["content-range"] == f"bytes 0-99/{size}"
        assert first.headers["content-length"] == "100"
        assert first.content == body[:100]
        middle = runs.client.get(url, headers={**runs.signed_in, "Range": f"bytes=100-{size + 50}"})
        assert (middle.status_code, middle.headers["content-range"]) == (206, f"bytes 100-{size - 1}/{size}")
        assert middle.content == body[100:]
        last = runs.client.get(url, headers={**runs.signed_in, "Range": "bytes=-10"})
        assert (last.status_code, last.headers["content-range"], last.content) == (
            206,
            f"bytes {size - 10}-{size - 1}/{size}",
            body[-10:],
        )
        past = runs.client.get(url, headers={**runs.signed_in, "Range": "bytes=999999999-"})
        assert past.status_code == 416
        assert past.headers["content-range"] == f"bytes */{size}"
        several = runs.client.get(url, headers={**runs.signed_in, "Range": "bytes=0-1,5-9"})
        assert (several.status_code, several.content) == (200, body)  # several ranges: the whole file


def forged(token: str, how: str) -> str:
    """The admin's token, re-signed with a key that is not Airflow's, or with none at all."""
    claims = jwt.decode(token, options={"verify_signature": False})
    if how == "none":
        return jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    return jwt.encode(claims, "not-airflows-secret-" * 4, algorithm=jwt.get_unverified_header(token)["alg"])


@pytest.mark.parametrize(
    "credentials",
    ["none", "garbage bearer", "forged bearer", "unsigned bearer", "forged cookie"],
)
def test_signed_out_sees_nothing_of_the_run(runs: Runs, credentials: str) -> None:
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    if credentials == "garbage bearer":
        headers["Authorization"] = "Bearer not.a.token"
    elif credentials == "forged bearer":
        headers["Authorization"] = f"Bearer {forged(runs.token, 'other key')}"
    elif credentials == "unsigned bearer":
        headers["Authorization"] = f"Bearer {forged(runs.token, 'none')}"
    elif credentials == "forged cookie":
        cookies["_token"] = forged(runs.token, "other key")
    client = TestClient(runs.client.app, cookies=cookies)
    answer = client.get(page_url(runs.kept), headers=headers)
    assert answer.status_code == 401
    html = answer.text
    assert "Sign in to Airflow" in html
    for prompt in KEPT_PROMPTS:
        assert prompt not in html
    assert "<video" not in html
    assert "kling" not in html
    assert "token=" not in html
    assert 'path="+"/videotask/"+"' in html  # the 3.0 sign-in bridge's cookie, for this app only
    for n in range(3):
        video = client.get(f"{page_url(runs.kept)}/videos/kling/{n}/0", headers=headers)
        assert (video.status_code, video.content) == (401, b"")


def test_a_kept_video_still_plays_when_the_vendors_link_has_expired(runs: Runs) -> None:
    html = runs.client.get(page_url(runs.kept), headers=runs.signed_in).text
    files = kept_files(runs.kept)
    vendor_urls = [record["source_url"] for record in xcoms(runs.kept, "kling")["videos"]]
    runs.sandbox.add_fault("expired", count=-1, only="videos")
    try:
        assert requests.get(vendor_urls[0], timeout=10).status_code == 403
        for n, url in enumerate(players(html)):
            answer = runs.client.get(url, headers=runs.signed_in)
            assert answer.status_code == 200
            assert answer.content == files[n].read_bytes()
    finally:
        runs.sandbox.clear_faults()


def test_a_kept_copy_removed_from_storage_falls_back_to_the_vendors_link(runs: Runs) -> None:
    path = kept_files(runs.kept)[1]
    aside = path.with_name(path.name + ".aside")
    [record] = xcoms_of(runs.kept, "kling", 1)["videos"]
    path.rename(aside)
    try:
        url = f"{page_url(runs.kept)}/videos/kling/1/0"
        for headers in ({}, {"Range": "bytes=0-99"}):
            moved = runs.client.get(url, headers={**runs.signed_in, **headers}, follow_redirects=False)
            assert (moved.status_code, moved.headers["location"]) == (302, record["source_url"])
    finally:
        aside.rename(path)


def test_a_video_not_kept_plays_from_the_vendors_link(runs: Runs) -> None:
    answer = runs.client.get(page_url(runs.not_kept), headers=runs.signed_in)
    assert answer.status_code == 200
    html = answer.text
    for prompt in NOT_KEPT_PROMPTS:
        assert prompt in html
    assert "not kept" in html
    assert runs.sandbox.url not in html
    urls = players(html)
    assert len(urls) == 2
    for n, url in enumerate(urls):
        moved = runs.client.get(url, headers=runs.signed_in, follow_redirects=False)
        assert moved.status_code == 302
        [task] = xcoms_of(runs.not_kept, "kling", n)["tasks"]
        assert moved.headers["location"] == task["video_urls"][0]
        video = requests.get(moved.headers["location"], timeout=10)
        assert (video.status_code, video.headers["content-type"]) == (200, "video/mp4")


def xcoms_of(dag_run: Any, task_id: str, map_index: int) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(
            XComModel.dag_id == dag_run.dag_id,
            XComModel.run_id == dag_run.run_id,
            XComModel.task_id == task_id,
            XComModel.map_index == map_index,
        )
        return {row.key: XComModel.deserialize_value(row) for row in rows}


@pytest.mark.parametrize("path", ["/videos/kling/0/1", "/videos/kling/7/0", "/videos/other/0/0", "/videos/kling/-1/0"])
def test_a_video_the_run_does_not_have_is_not_found(runs: Runs, path: str) -> None:
    assert runs.client.get(page_url(runs.kept) + path, headers=runs.signed_in).status_code == 404


def test_a_run_that_does_not_exist_has_no_videos(runs: Runs) -> None:
    answer = runs.client.get("/videotask/runs/gallery_kept/no_such_run", headers=runs.signed_in)
    assert answer.status_code == 200
    assert "This run has no video tasks." in answer.text


def test_a_batch_is_a_tile_per_item_and_each_plays_its_own_video(runs: Runs) -> None:
    assert task_states(runs.batch) == {"kling": "success"}  # one item failed, as allowed
    records = xcoms(runs.batch, "kling")["videos"]
    answer = runs.client.get(page_url(runs.batch), headers=runs.signed_in)
    assert answer.status_code == 200, answer.text
    html = answer.text
    labels = re.findall(r'<section class="tile" data-task="([^"]*)" data-state="([^"]*)"', html)
    assert labels == [("kling #0", "succeeded"), ("kling #1", "failed"), ("kling #2", "succeeded")]
    assert [f'<p class="prompt">{escape(prompt)}</p>' in html for prompt in BATCH_PROMPTS] == [True] * 3
    assert "3 videos: 2 succeeded, 1 failed" in html
    assert escape(records[1]["reason"]) in html
    assert records[1]["reason"] == "failed: api_error: content rejected by review"
    urls = players(html)
    assert urls == [f"{page_url(runs.batch)}/videos/kling/-1/0?item={n}" for n in (0, 2)]
    for url, n in zip(urls, (0, 2), strict=True):
        [kept] = records[n]["kept"]
        path = Path(urlsplit(kept["stored_uri"]).path)
        # The sandbox's clips are alike: each item's kept copy is marked (its size kept, as recorded), so that
        # only that item's copy is the answer.
        mark = f"item {n} ".encode()
        body = mark + path.read_bytes()[len(mark) :]
        path.write_bytes(body)
        whole = runs.client.get(url, headers=runs.signed_in)
        assert (whole.status_code, whole.content) == (200, body)
        first = runs.client.get(url, headers={**runs.signed_in, "Range": "bytes=0-99"})
        assert (first.status_code, first.content) == (206, body[:100])
    assert runs.client.get(urls[0]).status_code == 401  # signed out: nothing


def test_a_batch_is_parsed_once_for_its_players_and_again_when_its_xcoms_change(runs: Runs) -> None:
    from airflow.models.xcom import XComModel

    batch = runs.batch
    first = task_instance(batch.dag_id, batch.run_id, "kling", -1)
    assert first is not None
    assert task_instance(batch.dag_id, batch.run_id, "kling", -1) is first  # unchanged: not read again
    records = first.xcoms["videos"]
    try:
        XComModel.set("videos", records[:1], dag_id=batch.dag_id, task_id="kling", run_id=batch.run_id)
        changed = task_instance(batch.dag_id, batch.run_id, "kling", -1)
        assert changed is not None
        assert changed.xcoms["videos"] == records[:1]
    finally:
        XComModel.set("videos", records, dag_id=batch.dag_id, task_id="kling", run_id=batch.run_id)
    assert task_instance(batch.dag_id, batch.run_id, "kling", 5) is None  # no such task instance


def test_a_batch_video_by_its_old_address_is_the_nth_kept_copy_of_the_task(runs: Runs) -> None:
    records = xcoms(runs.batch, "kling")["videos"]
    kept = [Path(urlsplit(copy["stored_uri"]).path) for record in records for copy in record["kept"]]
    assert len(kept) == 2
    for n, path in enumerate(kept):
        answer = runs.client.get(f"{page_url(runs.batch)}/videos/kling/-1/{n}", headers=runs.signed_in)
        assert (answer.status_code, answer.content) == (200, path.read_bytes())


@pytest.mark.parametrize(
    "path", ["/videos/kling/-1/0?item=1", "/videos/kling/-1/1?item=0", "/videos/kling/-1/0?item=3"]
)
def test_a_batch_item_without_that_video_is_not_found(runs: Runs, path: str) -> None:
    assert runs.client.get(page_url(runs.batch) + path, headers=runs.signed_in).status_code == 404


def run_videos_link(dag_run: Any, map_index: int) -> str:
    from airflow.models.taskinstancekey import TaskInstanceKey

    from airflow_provider_videotask.links import RunVideosLink
    from tests.dags.gallery_dags import kept

    key = TaskInstanceKey(dag_run.dag_id, "kling", dag_run.run_id, 1, map_index)
    return RunVideosLink().get_link(kept.get_task("kling"), ti_key=key)


def test_the_extra_link_opens_the_same_page(runs: Runs) -> None:
    link = run_videos_link(runs.kept, 1)
    assert link == f"/videotask/runs/gallery_kept/{quote(runs.kept.run_id, safe='')}"
    assert "%3A" in link  # the run id's ":" and "+" are quoted
    answer = runs.client.get(link, headers=runs.signed_in)
    assert answer.status_code == 200
    assert all(prompt in answer.text for prompt in KEPT_PROMPTS)
    assert answer.text.count("<video") == 3
    assert runs.client.get(link).status_code == 401


def test_the_extra_link_starts_with_the_api_servers_base_url(runs: Runs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example/team/")
    link = run_videos_link(runs.kept, 0)
    assert link == f"https://airflow.example/team/videotask/runs/gallery_kept/{quote(runs.kept.run_id, safe='')}"


def test_the_extra_link_airflow_lists_for_a_video_task_opens_the_page(runs: Runs) -> None:
    """What the UI does on Airflow 3.0 (no plugin tabs): the task instance's extra links from the REST API
    (the link deserialized from the provider's "extra-links"), then the one to the run's videos."""
    tis = f"/api/v2/dags/gallery_kept/dagRuns/{quote(runs.kept.run_id, safe='')}/taskInstances"
    answer = runs.client.get(f"{tis}/kling/links", params={"map_index": 2}, headers=runs.signed_in)
    assert answer.status_code == 200, answer.text
    link = answer.json()["extra_links"]["Videos of this run"]
    assert link == page_url(runs.kept)
    page = runs.client.get(link, headers=runs.signed_in)
    assert page.status_code == 200
    assert all(prompt in page.text for prompt in KEPT_PROMPTS)

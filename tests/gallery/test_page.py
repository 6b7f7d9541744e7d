"""The run's page as HTML (``gallery/page.py``): escaped, a page of 24 tiles at a time (a batch's items each),
kept videos described, and no token, secret or signed link ever written into it."""

from __future__ import annotations

import re
from html import escape

import pytest

from airflow_provider_videotask.gallery.page import PAGE_SIZE, clip_path, render_run, render_signed_out
from airflow_provider_videotask.gallery.tiles import (
    VENDOR_LINK_NOTE,
    Clip,
    Instance,
    Summary,
    Tile,
    summary_of,
    tiles_of,
)
from airflow_provider_videotask.xcoms import REQUEST_XCOM_KEY, item_record

RUN_PAGE = "/videotask/runs/gallery/manual__2026-12-04T10%3A00%3A00%2B00%3A00"
JWT = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJBRE1JTiJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
SIGNED_URL = f"https://cdn.example/videos/t1.mp4?token={JWT}&X-Amz-Signature=abc123"
NOTE = escape(VENDOR_LINK_NOTE)  # as the page writes it
JWT_LOOKING = re.compile(r"eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}")

KEPT = Clip(
    kept_uri="s3://videos/acedatacloud/t1.mp4",
    conn_id="aws_videos",
    bytes=3_456_789,
    sha256="0123456789abcdef" * 4,
    vendor_url=SIGNED_URL,
)
NOT_KEPT = Clip(kept_uri=None, conn_id=None, bytes=None, sha256=None, vendor_url=SIGNED_URL)


def tile(n: int = 0, *, prompt: str = "a paper boat", clips: tuple[Clip, ...] = (KEPT,), **fields: object) -> Tile:
    values: dict[str, object] = {
        "state": "succeeded",
        "prompt": prompt,
        "vendor": "acedatacloud",
        "service": "kling",
        "model": "kling-v1",
        "seconds": 42.4,
        "cost": 0.25,
        "video_task_ids": ("t1",),
        "clips": clips,
        **fields,
    }
    return Tile(task_id="kling", map_index=n, **values)  # type: ignore[arg-type]


def render(tiles: list[Tile], page: int = 1, run_id: str = "manual__2026-12-04T10:00:00+00:00") -> str:
    return render_run("gallery", run_id, tiles, summary_of(tiles), page, lambda t, n: clip_path(RUN_PAGE, t, n))


def shown_labels(html: str) -> list[str]:
    return re.findall(r'<section class="tile" data-task="([^"]*)"', html)


def assert_nothing_secret(html: str) -> None:
    assert "token=" not in html
    assert JWT not in html
    assert JWT_LOOKING.search(html) is None
    assert "X-Amz-Signature" not in html
    assert "cdn.example" not in html  # the vendor's link goes through the page's own video URL


def test_prompts_and_every_other_value_are_escaped() -> None:
    hostile = '<script>alert("boat")</script> & <img src=x onerror=alert(1)>'
    html = render_run(
        'dag"><script>x</script>',
        "run<b>",
        [tile(prompt=hostile, model="<i>m</i>", reason=None)],
        Summary(1, 0, 0, None),
        1,
        lambda t, n: clip_path(RUN_PAGE, t, n),
    )
    assert "&lt;script&gt;alert(&quot;boat&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>" not in html  # the run's page has no script at all
    assert "<img" not in html
    assert "<i>m</i>" not in html
    assert "&lt;i&gt;m&lt;/i&gt;" in html
    assert "run&lt;b&gt;" in html
    assert "dag&quot;&gt;&lt;script&gt;x&lt;/script&gt;" in html


def test_a_failed_tile_shows_the_vendors_reason_escaped() -> None:
    failed = tile(1, state="failed", reason="failed: <no> video", clips=())
    html = render([failed])
    assert 'data-state="failed"' in html
    assert "failed: &lt;no&gt; video" in html
    assert "<video" not in html


def test_a_large_run_is_shown_24_tiles_a_page_with_a_pager() -> None:
    tiles = [tile(n) for n in range(50)]
    assert PAGE_SIZE == 24
    second = render(tiles, page=2)
    assert shown_labels(second) == [f"kling[{n}]" for n in range(24, 48)]
    assert second.count("<video ") == 24
    pager = re.findall(r'<nav class="pages">(.*?)</nav>', second)
    assert len(pager) == 2  # above and below the tiles
    assert pager[0] == '<a href="?page=1">page 1</a><span>page 2</span><a href="?page=3">page 3</a>'
    assert shown_labels(render(tiles, page=3)) == ["kling[48]", "kling[49]"]
    assert "50 videos: 50 succeeded, 0 failed; estimated cost 12.5" in second


@pytest.mark.parametrize(("asked", "shown"), [(0, 1), (-3, 1), (99, 3)])
def test_a_page_out_of_range_shows_the_nearest(asked: int, shown: int) -> None:
    html = render([tile(n) for n in range(50)], page=asked)
    assert f"<span>page {shown}</span>" in html


def test_one_page_has_no_pager_and_an_empty_run_says_so() -> None:
    assert "<nav" not in render([tile(n) for n in range(PAGE_SIZE)])
    empty = render([])
    assert "This run has no video tasks." in empty
    assert "0 videos: 0 succeeded, 0 failed" in empty
    assert "estimated cost" not in empty


def test_a_kept_video_shows_where_it_is_kept_and_plays_from_the_page() -> None:
    html = render([tile(3)])
    assert "<code>s3://videos/acedatacloud/t1.mp4</code>" in html
    assert "3.5 MB" in html
    assert f"<code>{'0123456789abcdef' * 4}</code>" in html
    assert NOTE not in html
    [src] = re.findall(r'<video controls preload="metadata" src="([^"]*)"', html)
    assert src == f"{RUN_PAGE}/videos/kling/3/0"
    assert "acedatacloud / kling" in html
    assert "kling-v1" in html
    assert "<dt>seconds</dt><dd>42</dd>" in html
    assert "<dt>est. cost</dt><dd>0.25</dd>" in html
    assert_nothing_secret(html)


def test_a_video_not_kept_says_it_plays_from_the_vendors_link() -> None:
    html = render([tile(0, clips=(NOT_KEPT,), cost=None)])
    assert NOTE in html
    assert "<dt>kept" not in html
    assert "est. cost" not in html
    [src] = re.findall(r'<video[^>]* src="([^"]*)"', html)
    assert src == f"{RUN_PAGE}/videos/kling/0/0"
    assert_nothing_secret(html)


def test_several_videos_of_one_task_are_numbered() -> None:
    html = render([tile(0, clips=(KEPT, KEPT))])
    assert re.findall(r'src="([^"]*)"', html) == [f"{RUN_PAGE}/videos/kling/0/0", f"{RUN_PAGE}/videos/kling/0/1"]
    assert "<dt>kept 1</dt>" in html
    assert "<dt>kept 2</dt>" in html


def test_a_video_url_quotes_the_task_id() -> None:
    odd = Tile(task_id="group.make video", map_index=-1, state="succeeded")
    assert clip_path(RUN_PAGE, odd, 2) == f"{RUN_PAGE}/videos/group.make%20video/-1/2"


def test_the_signed_out_page_shows_nothing_of_the_run() -> None:
    html = render_signed_out()
    assert "Sign in to Airflow" in html
    for run_value in ("kling", "a paper boat", "gallery", "manual__", "s3://", "MB"):
        assert run_value not in html
    assert 'path="+"/videotask/"+"' in html  # the 3.0 sign-in bridge: a cookie for this app's path only
    assert_nothing_secret(html)


def test_the_sign_in_cookie_follows_the_app_path_and_cannot_end_the_script() -> None:
    assert 'path="+"/airflow/videotask/"+"' in render_signed_out("/airflow/videotask")
    hostile = render_signed_out('/x</script><script>alert(1)//"')
    assert hostile.count("</script>") == 1
    assert "<script>alert" not in hostile


def test_no_page_holds_a_token_or_signed_link_passed_in() -> None:
    tiles = [
        tile(0, clips=(KEPT,)),
        tile(1, clips=(NOT_KEPT,)),
        tile(2, state="failed", reason="failed: expired", clips=()),
        tile(3, state="waiting", clips=()),
    ]
    html = render(tiles)
    assert len(shown_labels(html)) == 4
    assert "aws_videos" not in html  # the storage connection's name is not shown either
    assert_nothing_secret(html)


def batch_of(size: int, *, fail_every: int = 200) -> list[Tile]:
    """The tiles of one task of ``size`` items (as ``tiles_of`` reads its records); one in ``fail_every``
    rejected by the vendor, the others kept."""
    records = []
    for n in range(size):
        task = {"task_id": f"v{n}", "state": "succeeded", "video_urls": [SIGNED_URL], "seconds": 30.0}
        kept = {"stored_uri": f"s3://videos/kling/v{n}.mp4", "bytes": 2_000_000, "source_url": SIGNED_URL}
        if n % fail_every == fail_every - 1:
            task = {**task, "state": "failed", "video_urls": [], "error": "content <rejected> by review"}
            records.append(item_record(n, f"shot {n}", task, "failed: content <rejected> by review", [], 0.28))
        else:
            records.append(item_record(n, f"shot {n}", task, None, [kept], 0.28))
    request = {"prompt": f"{size} videos: shot 0", "videos": size, "vendor": "acedatacloud", "module": "kling"}
    return tiles_of([Instance("generate", -1, "success", {REQUEST_XCOM_KEY: request, "videos": records})])


def test_a_batch_of_2000_is_a_tile_per_item_24_a_page() -> None:
    tiles = batch_of(2000)
    first = render(tiles)
    assert shown_labels(first) == [f"generate #{n}" for n in range(PAGE_SIZE)]
    assert [f"shot {n}" in first for n in (0, 23, 24)] == [True, True, False]
    srcs = re.findall(r'<video controls preload="metadata" src="([^"]*)"', first)
    assert srcs == [f"{RUN_PAGE}/videos/generate/-1/0?item={n}" for n in range(PAGE_SIZE)]
    assert "2,000 videos: 1,990 succeeded, 10 failed; estimated cost 560" in first
    assert_nothing_secret(first)
    pages = -(-2000 // PAGE_SIZE)
    assert pages == 84
    last = render(tiles, page=pages)
    assert shown_labels(last) == [f"generate #{n}" for n in range(83 * PAGE_SIZE, 2000)]
    assert len(shown_labels(last)) == 2000 - 83 * PAGE_SIZE == 8
    assert shown_labels(render(tiles, page=999)) == shown_labels(last)


def test_a_failed_item_shows_its_reason_and_no_player() -> None:
    tiles = batch_of(48, fail_every=24)
    html = render(tiles)
    [failed] = re.findall(r'<section class="tile" data-task="generate #23" data-state="failed">(.*?)</section>', html)
    assert "failed: content &lt;rejected&gt; by review" in failed
    assert '<p class="prompt">shot 23</p>' in failed
    assert "<video" not in failed
    assert "<dt>vendor task</dt><dd>v23</dd>" in failed
    assert html.count("<video ") == PAGE_SIZE - 1
    assert "48 videos: 46 succeeded, 2 failed;" in html


def test_the_pager_of_many_pages_lists_the_first_the_last_and_those_near() -> None:
    tiles = batch_of(2000)
    first = re.findall(r'<nav class="pages">(.*?)</nav>', render(tiles))[0]
    assert re.findall(r"page (\d+)", first) == ["1", "2", "3", "4", "84"]
    assert first.count("&hellip;") == 1
    middle = re.findall(r'<nav class="pages">(.*?)</nav>', render(tiles, page=42))[0]
    assert re.findall(r"page (\d+)", middle) == ["1", "39", "40", "41", "42", "43", "44", "45", "84"]
    assert middle.count("&hellip;") == 2
    assert "<span>page 42</span>" in middle
    assert '<a href="?page=84">page 84</a>' in middle


@pytest.mark.parametrize(
    ("summary", "count", "line"),
    [
        (Summary(1, 0, 0, None), 1, "1 video: 1 succeeded, 0 failed"),
        (Summary(1990, 10, 0, 557.2), 2000, "2,000 videos: 1,990 succeeded, 10 failed; estimated cost 557.2"),
        (Summary(0, 1, 1500, None), 1501, "1,501 videos: 0 succeeded, 1 failed, 1,500 waiting"),
    ],
)
def test_the_summary_line_counts_videos(summary: Summary, count: int, line: str) -> None:
    tiles = [tile(n) for n in range(count)]
    html = render_run("gallery", "run", tiles, summary, 1, lambda t, n: clip_path(RUN_PAGE, t, n))
    [shown] = re.findall(r'<p class="summary" id="summary">([^<]*)</p>', html)
    assert shown == line

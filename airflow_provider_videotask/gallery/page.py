"""The run's videos as one HTML page: a summary line, then one tile per video (a batch's items each), a page
at a time. Pure.

Plain HTML and a little CSS, no script but the sign-in bridge (``_SIGN_IN``): it renders on the server, in
a few milliseconds for a page of tiles, and each player asks only for its video's metadata until it is
played (``preload="metadata"``), so a run of 2,000 videos opens as fast as one of 24. Every value shown is
escaped; no token, secret or signed query string is ever written into the page.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from html import escape
from urllib.parse import quote

from airflow_provider_videotask.gallery.tiles import VENDOR_LINK_NOTE, Clip, Summary, Tile

PAGE_SIZE = 24
# The pager lists every page up to this many; past it, the first, the last and the pages around this one
# (a batch of 2,000 is 84 pages: one row of links, not four).
PAGER_LINKS = 15
_NEAR = 3

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:16px;color:#1f2933;background:#fff}
h1{font-size:18px;margin:0 0 4px} .summary{margin:0 0 16px;color:#52606d}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:16px}
.tile{border:1px solid #d9e2ec;border-radius:8px;padding:10px;overflow-wrap:anywhere}
.tile video{width:100%;max-height:240px;background:#000;border-radius:4px}
.state{font-weight:600} .succeeded{color:#147d64} .failed{color:#ba2525} .waiting{color:#8d6708}
.prompt{margin:6px 0;font-style:italic} dl{display:grid;grid-template-columns:auto 1fr;gap:2px 8px;margin:6px 0}
dt{color:#52606d} dd{margin:0} .note{color:#8d6708;font-size:12px} .pages{margin:16px 0}
.pages a,.pages span{margin-right:8px} code{font-size:12px}
@media (prefers-color-scheme:dark){body{background:#1a1d21;color:#e4e7eb}.tile{border-color:#3e4c59}}
"""

# Airflow 3.0's UI keeps the user's API token in the browser's localStorage ("token") and drops its cookie;
# the page, same origin, hands it to the server once as the cookie Airflow reads (``access.py``), scoped to
# this app's path (3.1+ keep that cookie for the whole api-server, and the browser sends it here by itself).
# The token is the browser's own, read there: the page holds none. The cookie's name is spelled in two parts
# so that no page ever contains "token=", the mark of a signed query string (the tests look for it).
_SIGN_IN = """<script>
(function(){var t=localStorage.getItem("token"),c="_" + "token";
if(t&&!sessionStorage.getItem("videotask-signed-in")){sessionStorage.setItem("videotask-signed-in","1");
document.cookie=c+"="+encodeURIComponent(t)+"; path="+%s+"; SameSite=Strict";location.reload();}})();
</script>"""
APP_PATH = "/videotask"


def render_run(
    dag_id: str,
    run_id: str,
    tiles: Sequence[Tile],
    summary: Summary,
    page: int,
    clip_href: Callable[[Tile, int], str],
) -> str:
    """The page ``page`` (1-based) of the run's tiles; ``clip_href(tile, n)`` is where its n-th video plays."""
    pages = max(1, math.ceil(len(tiles) / PAGE_SIZE))
    page = min(max(1, page), pages)
    shown = tiles[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    body = "".join(_tile(tile, clip_href) for tile in shown) or "<p>This run has no video tasks.</p>"
    return _document(
        f"Videos of {dag_id} / {run_id}",
        f"<h1>Videos of {escape(dag_id)} / {escape(run_id)}</h1>"
        f'<p class="summary" id="summary">{escape(_summary_line(summary, len(tiles)))}</p>'
        f'{_pager(page, pages)}<div class="grid">{body}</div>{_pager(page, pages)}',
    )


def render_signed_out(app_path: str = APP_PATH) -> str:
    """What a visitor who is not signed in (or may not read the DAG) sees: nothing of the run. ``app_path``:
    where the api-server serves this app (``/videotask``, after the path of ``[api] base_url``)."""
    return _document(
        "Videos",
        "<h1>Videos</h1><p>Sign in to Airflow, with access to this DAG, to see its videos.</p>"
        + _SIGN_IN % _script_string(app_path.rstrip("/") + "/"),
    )


def _script_string(text: str) -> str:
    """``text`` as a JavaScript string literal that cannot end the script element."""
    return json.dumps(text).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _summary_line(summary: Summary, total: int) -> str:
    """The run's videos counted (a batch's items each): "2,000 videos: 1,990 succeeded, 10 failed"."""
    line = f"{total:,} video{'' if total == 1 else 's'}: {summary.succeeded:,} succeeded, {summary.failed:,} failed"
    if summary.waiting:
        line += f", {summary.waiting:,} waiting"
    if summary.cost is not None:
        line += f"; estimated cost {summary.cost:g}"
    return line


def _tile(tile: Tile, clip_href: Callable[[Tile, int], str]) -> str:
    players = "".join(_player(clip, clip_href(tile, n)) for n, clip in enumerate(tile.clips))
    facts = [
        ("state", f'<span class="state {tile.state}">{escape(tile.state)}</span>'),
        ("why", escape(tile.reason) if tile.reason else ""),
        ("vendor", escape(" / ".join(part for part in (tile.vendor, tile.service) if part))),
        ("model", escape(tile.model or "")),
        ("seconds", f"{tile.seconds:.0f}" if tile.seconds is not None else ""),
        ("est. cost", f"{tile.cost:g}" if tile.cost is not None else ""),
        ("vendor task", escape(", ".join(tile.video_task_ids))),
    ]
    facts += [fact for n, clip in enumerate(tile.clips) for fact in _kept(clip, n, len(tile.clips))]
    listed = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts if value)
    prompt = f'<p class="prompt">{escape(tile.prompt)}</p>' if tile.prompt else ""
    return (
        f'<section class="tile" data-task="{escape(tile.label)}" data-state="{tile.state}">'
        f"<strong>{escape(tile.label)}</strong>{players}{prompt}<dl>{listed}</dl></section>"
    )


def _player(clip: Clip, href: str) -> str:
    note = "" if clip.kept_uri else f'<p class="note">{escape(VENDOR_LINK_NOTE)}</p>'
    return (
        f'<video controls preload="metadata" src="{escape(href)}"><a href="{escape(href)}">the video</a></video>{note}'
    )


def _kept(clip: Clip, n: int, count: int) -> list[tuple[str, str]]:
    if not clip.kept_uri:
        return []
    suffix = f" {n + 1}" if count > 1 else ""
    size = _size(clip.bytes) if clip.bytes is not None else ""
    return [
        (f"kept{suffix}", f"<code>{escape(clip.kept_uri)}</code>"),
        (f"size{suffix}", size),
        (f"sha-256{suffix}", f"<code>{escape(clip.sha256)}</code>" if clip.sha256 else ""),
    ]


def _size(count: int) -> str:
    """Bytes as a person reads them: 7.2 MB, 48 KB, 512 bytes."""
    if count >= 1_000_000:
        return f"{count / 1e6:.1f} MB"
    return f"{count / 1e3:.0f} KB" if count >= 1_000 else f"{count} bytes"


def _pager(page: int, pages: int) -> str:
    if pages == 1:
        return ""
    links, last = [], 0
    for number in _listed_pages(page, pages):
        if number > last + 1:
            links.append("<span>&hellip;</span>")
        links.append(f"<span>page {number}</span>" if number == page else f'<a href="?page={number}">page {number}</a>')
        last = number
    return f'<nav class="pages">{"".join(links)}</nav>'


def _listed_pages(page: int, pages: int) -> list[int]:
    """Every page of a short run; of a long one, the first, the last and those near ``page``."""
    if pages <= PAGER_LINKS:
        return list(range(1, pages + 1))
    return sorted({1, pages, *range(max(1, page - _NEAR), min(pages, page + _NEAR) + 1)})


def _document(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_STYLE}</style></head>'
        f"<body>{body}</body></html>"
    )


def clip_path(run_page: str, tile: Tile, n: int) -> str:
    """The stream of a tile's n-th video, relative to the run's page (``routes.py`` serves it); a batch's
    item says which (``?item=``), so that the route builds that item's clips alone."""
    path = f"{run_page}/videos/{quote(tile.task_id, safe='')}/{tile.map_index}/{n}"
    return path if tile.item is None else f"{path}?item={tile.item}"

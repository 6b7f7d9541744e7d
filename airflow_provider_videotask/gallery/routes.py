"""The run's videos in the provider's api-server app: the page, and each kept video streamed in ranges.

``GET /videotask/runs/<dag_id>/<run_id>?page=N``: the page (``page.py``) for a user who may read the DAG
(``access.py``), else a sign-in note (401) with nothing of the run. ``GET .../videos/<task_id>/<map_index>/<n>``:
the n-th video of that task instance (``?item=<i>``: of its batch's item i), under the same check: its kept
copy streamed from object storage (``Range`` requests answered 206, so the player can seek), or a redirect
to the vendor's link when it was not kept (or its kept copy is gone). Database and storage calls run in
threads, off the api-server's event loop.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from airflow_provider_videotask.gallery import page as pages
from airflow_provider_videotask.gallery.access import may_read
from airflow_provider_videotask.gallery.sources import (
    ByteRange,
    byte_range,
    kept_size,
    open_kept,
    read_kept,
    run_instances,
    task_instance,
)
from airflow_provider_videotask.gallery.tiles import Clip, clip_of, summary_of, tiles_of
from airflow_provider_videotask.links import run_videos_path

RUN_PAGE = "/runs/{dag_id}/{run_id}"
router = APIRouter()
# The pages are the signed-in user's own: no cache keeps them (a kept video stays a few minutes in the
# browser's own cache, so that seeking does not ask again).
_PRIVATE = {"Cache-Control": "no-store"}


@router.get(RUN_PAGE, response_class=HTMLResponse)
async def run_page(dag_id: str, run_id: str, request: Request, page: int = 1) -> HTMLResponse:
    app_path = request.scope.get("root_path", "")  # where the api-server mounts this app: .../videotask
    if not await may_read(request, dag_id):
        return HTMLResponse(pages.render_signed_out(app_path), status_code=401, headers=_PRIVATE)
    tiles = tiles_of(await run_in_threadpool(run_instances, dag_id, run_id))
    here = app_path + run_videos_path(dag_id, run_id)
    html = pages.render_run(
        dag_id, run_id, tiles, summary_of(tiles), page, lambda tile, n: pages.clip_path(here, tile, n)
    )
    return HTMLResponse(html, headers=_PRIVATE)


@router.get(RUN_PAGE + "/videos/{task_id}/{map_index}/{n}")
async def video(
    dag_id: str, run_id: str, task_id: str, map_index: int, n: int, request: Request, item: int | None = None
) -> Response:
    if not await may_read(request, dag_id):
        return Response(status_code=401, headers=_PRIVATE)
    # That one task instance read (parsed again only when its XComs changed), and of a batch that one item's
    # clips made: not the run's tiles.
    instance = await run_in_threadpool(task_instance, dag_id, run_id, task_id, map_index)
    clip = clip_of(instance, item, n) if instance is not None else None
    if clip is None:
        return Response(status_code=404, headers=_PRIVATE)
    if clip.kept_uri is None:
        return _to_vendor(clip)
    try:
        size = await run_in_threadpool(kept_size, clip)
        wanted = byte_range(request.headers.get("range"), size)
        start = wanted.start if isinstance(wanted, ByteRange) else 0
        stream = None if wanted == "unsatisfiable" else await run_in_threadpool(open_kept, clip, start)
    except FileNotFoundError:  # the kept copy was removed: the vendor's link, while it lasts
        return _to_vendor(clip)
    headers = {"Cache-Control": "private, max-age=300", "Accept-Ranges": "bytes"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        # With it the api-server's GZipMiddleware leaves the video alone: before Starlette 1.5 (Airflow 3.0)
        # it compressed video, a 206 too, whose Content-Range then no longer matched the body. (Players ask
        # for "identity" themselves.)
        headers["Content-Encoding"] = "identity"
    if stream is None:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    if not isinstance(wanted, ByteRange):
        headers["Content-Length"] = str(size)
        return StreamingResponse(read_kept(stream, size), media_type=clip.content_type, headers=headers)
    headers |= {"Content-Length": str(wanted.length), "Content-Range": f"bytes {wanted.start}-{wanted.end}/{size}"}
    return StreamingResponse(
        read_kept(stream, wanted.length), status_code=206, media_type=clip.content_type, headers=headers
    )


def _to_vendor(clip: Clip) -> Response:
    """A video not kept: a redirect to the vendor's link (an http(s) one only), else 404."""
    url = clip.vendor_url or ""
    if not url.startswith(("https://", "http://")):
        return Response(status_code=404, headers=_PRIVATE)
    return RedirectResponse(url, status_code=302, headers=_PRIVATE)


# The tab's icon (a film strip, Lucide's "film", ISC licence), served here: no third party is asked by the UI.
ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24" fill="none" '
    'stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">'
    '<rect width="18" height="18" x="3" y="3" rx="2"/><path d="M7 3v18M3 7.5h4M3 12h18M3 16.5h4M17 3v18'
    'M17 7.5h4M17 16.5h4"/></svg>'
)


@router.get("/icon.svg")
async def icon() -> Response:
    return Response(ICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})

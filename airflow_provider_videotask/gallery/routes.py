"""The run's videos in the provider's api-server app: the page, and each kept video streamed in ranges.

``GET /videotask/runs/<dag_id>/<run_id>?page=N``: the page (``page.py``) for a user who may read the DAG
(``access.py``), else a sign-in note (401) with nothing of the run. ``GET .../videos/<task_id>/<map_index>/<n>``:
the n-th video of that task instance, under the same check: its kept copy streamed from object storage
(``Range`` requests answered 206, so the player can seek), or a redirect to the vendor's link when it was
not kept. Database and storage calls run in threads, off the api-server's event loop.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from airflow_provider_videotask.gallery import page as pages
from airflow_provider_videotask.gallery.access import may_read
from airflow_provider_videotask.gallery.sources import byte_range, kept_size, read_kept, run_instances
from airflow_provider_videotask.gallery.tiles import summary_of, tiles_of

RUN_PAGE = "/runs/{dag_id}/{run_id}"
router = APIRouter()


@router.get(RUN_PAGE, response_class=HTMLResponse)
async def run_page(dag_id: str, run_id: str, request: Request, page: int = 1) -> HTMLResponse:
    if not await may_read(request, dag_id):
        return HTMLResponse(pages.render_signed_out(), status_code=401)
    tiles = tiles_of(await run_in_threadpool(run_instances, dag_id, run_id))
    here = f"{request.scope.get('root_path', '')}/runs/{quote(dag_id, safe='')}/{quote(run_id, safe='')}"
    html = pages.render_run(
        dag_id, run_id, tiles, summary_of(tiles), page, lambda tile, n: pages.clip_path(here, tile, n)
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get(RUN_PAGE + "/videos/{task_id}/{map_index}/{n}")
async def video(dag_id: str, run_id: str, task_id: str, map_index: int, n: int, request: Request) -> Response:
    if not await may_read(request, dag_id):
        return Response(status_code=401)
    tiles = tiles_of(await run_in_threadpool(run_instances, dag_id, run_id, task_id, map_index))
    clip = tiles[0].clips[n] if tiles and 0 <= n < len(tiles[0].clips) else None
    if clip is None:
        return Response(status_code=404)
    if clip.kept_uri is None:
        return RedirectResponse(clip.vendor_url, status_code=302) if clip.vendor_url else Response(status_code=404)
    size = await run_in_threadpool(kept_size, clip)
    wanted = byte_range(request.headers.get("range"), size)
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=300"}
    if wanted == "unsatisfiable":
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    if wanted is None or isinstance(wanted, str):
        headers["Content-Length"] = str(size)
        return StreamingResponse(read_kept(clip, 0, size), media_type=clip.content_type, headers=headers)
    headers |= {"Content-Length": str(wanted.length), "Content-Range": f"bytes {wanted.start}-{wanted.end}/{size}"}
    return StreamingResponse(
        read_kept(clip, wanted.start, wanted.length), status_code=206, media_type=clip.content_type, headers=headers
    )

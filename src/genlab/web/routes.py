"""Pages and images of the runs: gallery, model card, sampler, latent explorer.

Handlers are plain ``def`` (FastAPI runs them in its thread pool), because sampling is
CPU work; query values are read as text and checked by :mod:`genlab.web.forms`, so a
malformed value is a 400 with a message naming the field.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from genlab.config import to_dict
from genlab.errors import CheckpointError
from genlab.files import MIB, read_bytes
from genlab.marks.provenance import fields_of, read_text_chunks
from genlab.models.base import sampling_keys
from genlab.web.app import WebState, page
from genlab.web.runs import gallery, gallery_and_left_out, latest_grid, resolve_run, run_file
from genlab.web.sampling import (
    KNOBS,
    knobs_of,
    parse_explore_request,
    parse_sample_request,
    render_interpolation,
    render_samples,
)

router = APIRouter()
EXPLORER_FRAMES = 9  # images in the explorer's strip, ends included
MAX_GRID_BYTES = 64 * MIB  # a training's sample grid is ~100 KiB
MAX_CARD_BYTES = MIB  # a model card is ~5 KiB


class NotThere(CheckpointError):
    """A run that exists lacks the file asked for (no grid yet, no card)."""

    status = 404


def _state(request: Request) -> WebState:
    return request.app.state.web


def _query(request: Request) -> dict[str, str]:
    """The query as one string per name (the last, when a name repeats)."""
    return {k: v for k, v in request.query_params.items()}


@router.get("/", response_class=HTMLResponse)
@router.get("/gallery", response_class=HTMLResponse)  # the page's name, as people type it
def gallery_page(request: Request):
    state = _state(request)
    runs, skipped = gallery_and_left_out(state.runs_root)
    return page(request, "gallery.html", runs=runs, skipped=skipped, root=str(state.runs_root))


@router.get("/runs/grid.png")
def run_grid(request: Request):
    state = _state(request)
    name = _query(request).get("run", "")
    run_dir = resolve_run(state.runs_root, name)
    grid = latest_grid(run_dir)
    if grid is None:
        raise NotThere(f"run {name!r} has no sample grid yet (samples/step_*.png appear during training)")
    png = read_bytes(grid, MAX_GRID_BYTES, "sample grid", CheckpointError)  # a regular file, read once
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/runs/card", response_class=HTMLResponse)
def run_card(request: Request):
    state = _state(request)
    name = _query(request).get("run", "")
    card = run_file(resolve_run(state.runs_root, name), "card.md")
    if not card.exists():
        raise NotThere(
            f"run {name!r} has no card.md yet (training writes it at the end; `genlab card RUN` writes one now)"
        )
    text = read_bytes(card, MAX_CARD_BYTES, "model card", CheckpointError).decode("utf-8", errors="replace")
    return page(request, "card.html", run=name, text=text)


def _runs_to_sample(state: WebState) -> list[str]:
    return [r.name for r in gallery(state.runs_root) if r.can_sample]


@router.get("/sample", response_class=HTMLResponse)
def sampler_page(request: Request):
    state, form = _state(request), _query(request)
    runs = _runs_to_sample(state)
    if not form.get("run"):
        return page(request, "sampler.html", runs=runs, req=None)
    req = parse_sample_request(form)
    run_dir = resolve_run(state.runs_root, req.run)
    rendered = render_samples(state.cache, run_dir, req)
    base = state.cache.family(run_dir, req.checkpoint)[0]
    takes, values = sampling_keys(base), to_dict(base.cfg)
    defaults = {name: values[key] for name, key in KNOBS.items() if key in takes}
    query = urlencode({k: v for k, v in form.items() if v and k != "download"})
    return page(
        request,
        "sampler.html",
        runs=runs,
        req=req,
        rendered=rendered,
        knobs=knobs_of(base),
        defaults=defaults,
        num_classes=base.info.num_classes,
        embedded=fields_of(read_text_chunks(rendered.png)),
        image_url=f"/sample.png?{query}",
        download_url=f"/sample.png?{query}&download=1",
    )


@router.get("/sample.png")
def sample_png(request: Request):
    state, form = _state(request), _query(request)
    req = parse_sample_request(form)
    rendered = render_samples(state.cache, resolve_run(state.runs_root, req.run), req)
    headers = {"Cache-Control": "no-store"}
    if form.get("download") == "1":
        name = f"genlab-{req.run.replace('/', '_')}-seed{req.seed}-n{req.n}.png"
        plain = re.sub(r"[^A-Za-z0-9._-]", "_", name)  # RFC 6266: an ASCII fallback, then the UTF-8 name
        disposition = f'attachment; filename="{plain}"'
        if plain != name:
            disposition += f"; filename*=UTF-8''{quote(name, safe='')}"
        headers["Content-Disposition"] = disposition
    return Response(rendered.png, media_type="image/png", headers=headers)


@router.get("/explore", response_class=HTMLResponse)
def explorer_page(request: Request):
    state, form = _state(request), _query(request)
    runs = _runs_to_sample(state)
    if not form.get("run"):
        return page(request, "explore.html", runs=runs, req=None)
    req = parse_explore_request(form)
    run_dir = resolve_run(state.runs_root, req.run)
    frame = render_interpolation(
        state.cache, run_dir, req
    )  # fails here, as a 400, for a family without a latent space
    family = state.cache.family(run_dir, req.checkpoint)[0]
    common = {
        k: v
        for k, v in (
            ("run", req.run),
            ("a", req.a),
            ("b", req.b),
            ("label", req.label),
            ("checkpoint", req.checkpoint),
        )
        if v is not None
    }
    return page(
        request,
        "explore.html",
        runs=runs,
        req=req,
        rendered=frame,
        conditional=family.conditional,
        num_classes=family.info.num_classes,
        base_query=urlencode(common),
        frame_url=f"/explore.png?{urlencode({**common, 't': req.t})}",
        strip_url=f"/explore.png?{urlencode({**common, 'frames': EXPLORER_FRAMES})}",
        frames=EXPLORER_FRAMES,
    )


@router.get("/explore.png")
def explore_png(request: Request):
    state = _state(request)
    req = parse_explore_request(_query(request))
    rendered = render_interpolation(state.cache, resolve_run(state.runs_root, req.run), req)
    return Response(rendered.png, media_type="image/png", headers={"Cache-Control": "no-store"})

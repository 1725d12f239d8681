"""The human-rating survey: one image per page, four questions, answers into SQLite.

A respondent is a random token in an HttpOnly, SameSite=Strict cookie. Each page load
draws an item (real or generated, at random) and keeps it in memory as shown to that
respondent (:mod:`genlab.web.survey_pending`); the form sends back only the item's random
token and the answers, so the truth about the image never reaches the browser, and an
answer can only go to one's own, unanswered item. The respondent and the item reach the
database with the first answer, so page loads alone store nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from genlab.errors import CheckpointError, ConfigError
from genlab.web import forms
from genlab.web.app import WebState, page
from genlab.web.survey_db import TOKEN_BYTES, Answer, valid_token

router = APIRouter()
COOKIE = "genlab_survey"
COOKIE_AGE = 365 * 24 * 3600
MAX_FIELDS = 20
MIN_TOKEN = 16  # characters: a cookie shorter than the tokens handed out gets a fresh one


class NoSuchImage(CheckpointError):
    status = 404


def _state(request: Request) -> WebState:
    return request.app.state.web


def _required_rating(form: Mapping[str, str], name: str) -> int:
    value = forms.integer(form, name, 1, 5)
    if value is None:
        raise ConfigError(f"{name} is missing: rate it from 1 to 5")
    return value


def parse_answer(form: Mapping[str, str]) -> Answer:
    """The answer in a survey form; a missing or out-of-range field raises ConfigError naming it."""
    guess = forms.choice(form, "guess", ("real", "generated"))
    if guess is None:
        raise ConfigError("guess is missing: say whether the image is real or generated")
    answer = Answer(
        _required_rating(form, "realism"),
        _required_rating(form, "appropriateness"),
        _required_rating(form, "novelty"),
        guess,
    )
    answer.check()
    return answer


@router.get("/survey", response_class=HTMLResponse)
def survey_page(request: Request):
    state = _state(request)
    token = request.cookies.get(COOKIE)
    fresh = not valid_token(token) or len(token) < MIN_TOKEN
    if fresh:
        token = secrets.token_urlsafe(TOKEN_BYTES)  # stored with the first answer, not now
    item, png = state.survey.draw()
    item_token = state.pending.add(token, item, png)
    response = page(
        request,
        "survey.html",
        item_token=item_token,
        answered=state.db.count_answers(token),
        models=state.survey.models(),
        thanks=request.query_params.get("thanks") == "1",
    )
    response.headers["Cache-Control"] = "no-store"
    if fresh:
        response.set_cookie(COOKIE, token, max_age=COOKIE_AGE, httponly=True, samesite="strict")
    return response


@router.post("/survey/answer")
async def survey_answer(request: Request):
    state = _state(request)
    raw = await request.form(max_files=0, max_fields=MAX_FIELDS)  # a file or too many fields: 400 from Starlette
    form = {k: v for k, v in raw.items()}
    answer = parse_answer(form)
    item_token = forms.text(form, "item")
    respondent = request.cookies.get(COOKIE)
    shown = state.pending.take(item_token, respondent)
    if shown is not None:
        await run_in_threadpool(state.db.record_first_answer, respondent, item_token, shown.item, shown.png, answer)
    else:  # answered already (409), someone else's (403), or an item stored by an older version
        await run_in_threadpool(state.db.record_answer, respondent, item_token, answer)
    return RedirectResponse("/survey?thanks=1", status_code=303)


@router.get("/survey/image/{token}.png")
def survey_image(request: Request, token: str):
    state = _state(request)
    png = state.pending.png(token) or state.db.item_png(token)
    if png is None:
        raise NoSuchImage("no survey image with that token; open /survey for a new one")
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

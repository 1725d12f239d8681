"""The web app through fastapi's TestClient: pages, images, downloads, the survey, and every
kind of bad request answered with a 4xx and a clear message, never a 500."""

import random
import shutil

import pytest
from fastapi.testclient import TestClient

from genlab.marks.provenance import fields_of, read_text_chunks
from genlab.web import create_app
from genlab.web.routes_survey import COOKIE

HTML = {"accept": "text/html"}
BASE = "http://localhost"  # the app answers only to loopback host names


def test_gallery_lists_every_run_with_links_and_grids(client):
    page = client.get("/", headers=HTML)
    assert page.status_code == 200
    for name in ("gan", "cgan", "vae", "group/ddpm"):
        assert f'data-run="{name}"' in page.text and f"/sample?run={name}" in page.text
    assert "no checkpoints yet" in page.text and "/runs/card?run=cgan" in page.text
    grid = client.get("/runs/grid.png?run=group/ddpm")
    assert grid.status_code == 200 and grid.content.startswith(b"\x89PNG")
    assert "Model card" in client.get("/runs/card?run=gan").text


def test_security_headers_on_every_response(client):
    for url in ("/", "/static/style.css", "/nope"):
        headers = client.get(url).headers
        assert (
            "default-src 'self'" in headers["content-security-policy"]
            and headers["x-content-type-options"] == "nosniff"
        )


def test_everything_rendered_is_escaped(runs_root, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(runs_root / "gan", root / "gan")
    with open(root / "gan" / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "note": "<script>alert(1)</script>"}\n')
    (root / "gan" / "card.md").write_text("# card <img src=x onerror=alert(1)>\n")
    with TestClient(create_app(root, tmp_path / "s.sqlite"), base_url=BASE) as c:
        gallery, card = c.get("/").text, c.get("/runs/card?run=gan").text
    assert "<script>alert" not in gallery and "&lt;script&gt;alert(1)&lt;/script&gt;" in gallery
    assert "<img src=x" not in card and "&lt;img src=x onerror=alert(1)&gt;" in card


def test_sampler_page_shows_knobs_notes_and_provenance(client):
    page = client.get("/sample?run=cgan&n=4&seed=3&label=5&steps=9", headers=HTML)
    assert page.status_code == 200
    assert "steps ignored: cgan has no steps setting" in page.text and 'id="f-steps"' in page.text
    assert 'value="5" selected' in page.text and "checkpoint_hash" in page.text
    ddpm = client.get("/sample?run=group/ddpm&n=2&steps=3&guidance=1.5", headers=HTML).text
    assert "ignored" not in ddpm and 'name="guidance" id="f-guidance"' in ddpm


def test_download_is_a_watermarked_png_with_provenance(client):
    r = client.get("/sample.png?run=cgan&n=4&seed=3&label=5&download=1")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.headers["content-disposition"] == 'attachment; filename="genlab-cgan-seed3-n4.png"'
    fields = fields_of(read_text_chunks(r.content))
    assert fields["generator"] == "cgan" and fields["seed"] == "3" and fields["visible_watermark"] == "AI GENERATED"
    assert r.content == client.get("/sample.png?run=cgan&n=4&seed=3&label=5").content


def test_explorer_page_and_images(client):
    page = client.get("/explore?run=vae&a=1&b=2&t=0.3", headers=HTML)
    assert (
        page.status_code == 200
        and 'data-frame-base="/explore.png?run=vae&amp;a=1&amp;b=2&amp;checkpoint=latest"' in page.text
    )
    assert client.get("/explore.png?run=vae&a=1&b=2&frames=9").content.startswith(b"\x89PNG")
    assert client.get("/explore?run=cgan&a=1&b=2&label=4", headers=HTML).status_code == 200


def answer(**fields):
    return {"realism": "4", "appropriateness": "3", "novelty": "2", "guess": "generated", **fields}


def item_of(page_text):
    return page_text.split('name="item" value="')[1].split('"')[0]


def test_survey_round_trip_and_no_overwriting(client, app):
    page = client.get("/survey", headers=HTML)
    assert page.status_code == 200 and COOKIE in page.cookies and "httponly" in page.headers["set-cookie"].lower()
    item = item_of(page.text)
    assert client.get(f"/survey/image/{item}.png").content.startswith(b"\x89PNG")
    done = client.post("/survey/answer", data=answer(item=item), follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/survey?thanks=1"
    assert app.state.web.db.count_answers() == 1
    again = client.post("/survey/answer", data=answer(item=item, realism="1"))
    assert again.status_code == 409 and "cannot be changed" in again.text
    with TestClient(app, base_url=BASE) as other:
        other.get("/survey")
        stolen = other.post("/survey/answer", data=answer(item=item))
        assert stolen.status_code == 403 and "not shown to you" in stolen.text
    with TestClient(app, base_url=BASE) as stranger:
        assert stranger.post("/survey/answer", data=answer(item=item)).status_code == 403
    (row,) = app.state.web.db.answer_rows()
    assert row["realism"] == 4


def test_survey_mixes_real_and_generated_images(client, app):
    for _ in range(12):
        client.post("/survey/answer", data=answer(item=item_of(client.get("/survey").text)))
    rows = app.state.web.db.answer_rows()
    sources = {r["source"] for r in rows}
    assert (
        len(rows) == 12
        and "real" in sources
        and sources - {"real"} <= {"gan", "cgan", "vae", "group/ddpm"}
        and len(sources) > 1
    )


@pytest.mark.parametrize(
    ("url", "status", "words"),
    [
        ("/sample?run=../../etc/passwd", 400, "'..'"),
        ("/sample.png?run=/etc/passwd", 400, "absolute paths are refused"),
        ("/runs/grid.png?run=..%2F..%2Fetc", 400, "'..'"),
        ("/runs/card?run=gan/../../x", 400, "'..'"),
        ("/sample?run=missing", 404, "unknown run 'missing'"),
        ("/sample?run=empty", 400, "has no checkpoints yet"),
        ("/sample?run=gan&n=-3", 400, "n must be in 1..64"),
        ("/sample?run=gan&n=100000", 400, "n must be in 1..64"),
        ("/sample.png?run=gan&n=4x", 400, "n must be a whole number"),
        ("/sample?run=gan&seed=-1", 400, "seed must be in"),
        ("/sample?run=group/ddpm&steps=0", 400, "steps must be in"),
        ("/sample?run=group/ddpm&steps=999", 400, "sample_steps must be in 1..20"),
        ("/sample?run=group/ddpm&guidance=inf", 400, "guidance must be a number"),
        ("/sample?run=cgan&label=12", 400, "class must be in 0..9"),
        ("/sample?run=gan&checkpoint=99", 400, "no checkpoint '99'"),
        ("/explore.png?run=vae&t=2", 400, "t must be a number in [0, 1]"),
        ("/explore.png?run=vae&frames=1000", 400, "frames must be in 2..16"),
        ("/runs/grid.png?run=empty", 404, "no sample grid yet"),
        ("/runs/card?run=empty", 404, "no card.md yet"),
        ("/survey/image/..%2F..%2Fsecret.png", 404, "no page"),
        ("/survey/image/nope.png", 404, "no survey image"),
        ("/does-not-exist", 404, "no page at /does-not-exist"),
    ],
)
def test_bad_requests_get_a_clear_4xx(client, url, status, words):
    r = client.get(url)
    assert r.status_code == status and words in r.text, (r.status_code, r.text)


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (answer(realism="6"), 400, "realism must be in 1..5"),
        (answer(novelty="0"), 400, "novelty must be in 1..5"),
        (answer(appropriateness="three"), 400, "appropriateness must be a whole number"),
        (answer(guess="maybe"), 400, "guess must be one of real, generated"),
        ({"realism": "3"}, 400, "guess is missing"),
        (answer(item=""), 400, "lacks a valid item token"),
        (answer(item="x' OR '1'='1"), 400, "lacks a valid item token"),
        (answer(item="abc"), 403, "not shown to you"),
    ],
)
def test_bad_survey_answers_get_a_clear_4xx(client, app, data, status, words):
    client.get("/survey")
    r = client.post("/survey/answer", data=data)
    assert r.status_code == status and words in r.text, (r.status_code, r.text)
    assert app.state.web.db.count_answers() == 0


def test_malformed_and_oversized_bodies(client):
    client.get("/survey")
    assert client.post("/survey/answer", files={"realism": ("a.txt", b"4")}).status_code == 400
    assert (
        client.post(
            "/survey/answer", content=b"\xff\xfe{", headers={"content-type": "multipart/form-data; boundary=x"}
        ).status_code
        == 400
    )
    assert client.post("/survey/answer", json={"realism": 4}).status_code == 400
    many = client.post("/survey/answer", data={f"f{i}": "1" for i in range(21)})
    assert many.status_code == 400 and "Too many fields" in many.text
    big = client.post(
        "/survey/answer", content=b"a=" + b"x" * 70_000, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert big.status_code == 413 and "too large" in big.text
    chunks = iter([b"a=" + b"x" * 40_000, b"x" * 40_000])  # streamed without a Content-Length: counted while read
    streamed = client.post(
        "/survey/answer", content=chunks, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert streamed.status_code == 413 and "too large" in streamed.text
    assert client.put("/survey/answer").status_code == 405 and client.post("/sample").status_code == 405


def test_html_errors_are_pages(client):
    r = client.get("/sample?run=../x", headers=HTML)
    assert r.status_code == 400 and 'id="error-message"' in r.text and "&#39;..&#39;" in r.text


def test_survey_with_a_chosen_run_only(runs_root, tmp_path):
    app = create_app(runs_root, tmp_path / "s.sqlite", survey_runs=["vae"], survey_rng=random.Random(1))
    assert app.state.web.survey.models() == ["vae"]
    with pytest.raises(Exception, match="--survey-runs nope"):
        create_app(runs_root, tmp_path / "s.sqlite", survey_runs=["nope"])

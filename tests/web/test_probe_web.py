"""Issue 23, part 2, the web app's items: what an outside probe found, each rebuilt in a tmp dir.

A YAML alias bomb in a run's config.yaml, a checkpoint nested 100 000 deep, metrics.jsonl
linked outside --runs or to /dev/zero, DNS rebinding and cross-site POSTs, 500s without the
security headers, respondents stored for every cookieless page load, and run folders with
spaces, non-ASCII letters or three levels deep left out of the gallery.
"""

import os
import random
import shutil
import sqlite3
import time

import pytest
from fastapi.testclient import TestClient

from genlab.web import create_app
from genlab.web.routes_survey import COOKIE

BASE = "http://localhost"
HTML = {"accept": "text/html"}
BOMB = (
    "".join(f"a{k}: &a{k} [{', '.join(['x'] * 9 if k == 0 else [f'*a{k - 1}'] * 9)}]\n" for k in range(9))
    + "family: *a8\n"
)  # 454 bytes; 9^9 leaves once expanded


@pytest.fixture
def root(runs_root, tmp_path):
    """A copy of the vae run under names the gallery must handle, plus hostile runs."""
    root = tmp_path / "runs"
    for name in ("vae", "with space", "läufe/ü-run", "a/b/c/deep", "a/b/c/d/e/too-deep", "bad\nname"):
        shutil.copytree(runs_root / "vae", root / name, ignore=shutil.ignore_patterns("card.md"))
    return root


def client_for(root, tmp_path, **kwargs):
    app = create_app(root, tmp_path / "survey.sqlite", survey_rng=random.Random(0), **kwargs)
    return TestClient(app, base_url=BASE, raise_server_exceptions=False)


def test_runs_with_spaces_non_ascii_names_and_depth_are_shown_and_the_rest_listed(root, tmp_path):
    undecodable = os.fsencode(root) + b"/latin1-\xe9"  # not UTF-8: shown as "?" in the list, never a 500
    os.mkdir(undecodable)
    shutil.copy(root / "vae" / "config.yaml", os.fsdecode(undecodable + b"/config.yaml"))
    with client_for(root, tmp_path) as c:
        page = c.get("/", headers=HTML).text
        assert "latin1-?</code>: its name is not valid UTF-8" in page
        for name in ("with space", "läufe/ü-run", "a/b/c/deep"):
            assert f'data-run="{name}"' in page
        assert "a/b/c/d" in page and "deeper than 4 levels" in page  # listed, with the reason
        assert "control characters" in page  # "bad\nname"
        r = c.get("/sample.png", params={"run": "läufe/ü-run", "n": 1, "download": 1})
        assert (
            r.status_code == 200
            and "filename*=UTF-8''genlab-l%C3%A4ufe_%C3%BC-run" in r.headers["content-disposition"]
        )
        assert c.get("/runs/grid.png", params={"run": "with space"}).status_code == 200


def test_a_yaml_alias_bomb_in_a_run_is_one_short_problem_line(root, tmp_path):
    (root / "vae" / "config.yaml").write_text(BOMB)
    with client_for(root, tmp_path) as c:
        start = time.monotonic()
        r = c.get("/", headers=HTML)
        assert r.status_code == 200 and len(r.content) < 100_000 and "aliases (*a0) are not accepted" in r.text
        assert time.monotonic() - start < 30


def test_a_deeply_nested_checkpoint_is_a_4xx(root, tmp_path):
    ckpt = sorted((root / "vae" / "checkpoints").glob("step_*.json"))[-1]
    ckpt.write_text("[" * 100_000)
    with client_for(root, tmp_path) as c:
        r = c.get("/sample.png", params={"run": "vae", "n": 1})
        assert r.status_code == 400 and "nested deeper than 128" in r.text


@pytest.mark.timeout(60)
@pytest.mark.parametrize("target", ["outside", "/dev/zero", "fifo"])
def test_metrics_and_cards_linked_elsewhere_are_never_read(root, tmp_path, target):
    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"step": 1, "stolen": "TOP-SECRET"}\n')
    run = root / "vae"
    (run / "metrics.jsonl").unlink()
    if target == "fifo":
        os.mkfifo(run / "metrics.jsonl")
        os.mkfifo(run / "card.md")
    else:
        (run / "metrics.jsonl").symlink_to(secret if target == "outside" else target)
        (run / "card.md").symlink_to(secret if target == "outside" else target)
    with client_for(root, tmp_path) as c:
        page = c.get("/", headers=HTML)
        assert page.status_code == 200 and "TOP-SECRET" not in page.text
        card = c.get("/runs/card", params={"run": "vae"}, headers=HTML)
        assert 400 <= card.status_code < 500 and "TOP-SECRET" not in card.text


def test_dns_rebinding_and_cross_site_posts_are_refused(root, tmp_path):
    with client_for(root, tmp_path, allowed_hosts=["lab.example"]) as c:
        assert c.get("/", headers={"host": "attacker.example"}).status_code == 400
        assert c.get("/", headers={"host": "lab.example:8000"}).status_code == 200
        assert c.get("/", headers={"host": "[::1]:8000"}).status_code == 200
        c.get("/survey")
        evil = c.post("/survey/answer", data={"item": "x"}, headers={"origin": "http://attacker.example"})
        assert evil.status_code == 403 and "cross-site" in evil.text
        assert c.post("/survey/answer", data={}, headers={"sec-fetch-site": "cross-site"}).status_code == 403
        same = c.post("/survey/answer", data={"item": "x"}, headers={"origin": BASE})
        assert same.status_code == 400  # through to the form check: the answer fields are missing


def test_a_500_carries_the_security_headers(root, tmp_path, monkeypatch):
    import genlab.web.routes as routes

    def broken(_root):
        raise RuntimeError("a bug")

    monkeypatch.setattr(routes, "gallery_and_left_out", broken)
    with client_for(root, tmp_path) as c:
        r = c.get("/", headers=HTML)
    assert r.status_code == 500 and "a bug" not in r.text
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"


def test_cookieless_survey_page_loads_store_nothing_until_an_answer(root, tmp_path):
    with client_for(root, tmp_path) as c:
        for _ in range(200):
            c.cookies.clear()
            assert c.get("/survey").status_code == 200
        db = sqlite3.connect(tmp_path / "survey.sqlite")
        assert db.execute("SELECT COUNT(*) FROM respondents").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0
        page = c.get("/survey", headers=HTML).text
        item = page.split('name="item" value="')[1].split('"')[0]
        assert c.get(f"/survey/image/{item}.png").content.startswith(b"\x89PNG")
        form = {"item": item, "realism": "4", "appropriateness": "3", "novelty": "2", "guess": "real"}
        assert c.post("/survey/answer", data=form, follow_redirects=False).status_code == 303
        assert c.post("/survey/answer", data=form).status_code == 409  # answered once only
        counts = [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("respondents", "items", "answers")]
        assert counts == [1, 1, 1] and c.cookies.get(COOKIE)

"""End to end in headless Chromium: gallery, sampler, latent explorer and survey against a real
uvicorn server over tiny trained runs; no console errors, no broken images, screenshots not blank."""

import random

import pytest
from browser_helpers import broken_images, chrome, console_errors, screenshot_is_blank

from genlab.web import create_app
from genlab.web.server import background_server


@pytest.fixture(scope="module")
def served(runs_root, tmp_path_factory):
    db = tmp_path_factory.mktemp("web-browser") / "survey.sqlite"
    app = create_app(runs_root, db, survey_rng=random.Random(0))
    with background_server(app) as url:
        yield url, app


@pytest.fixture(scope="module")
def browser():
    with chrome() as driver:
        yield driver


def page_is_clean(driver, shot):
    """The page shows every image, logged no console error, and renders (screenshot not blank)."""
    assert broken_images(driver) == []
    assert console_errors(driver) == []
    driver.save_screenshot(str(shot))
    assert not screenshot_is_blank(shot)


def click_and_load(driver, element):
    """Click ``element`` and wait until the browser has left the current page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 20).until(lambda d: _detached(old))
    wait_for_images(driver)


def _detached(element) -> bool:
    """``staleness_of``, also for Chromium's mid-navigation "does not belong to the document" error."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as e:
        if "does not belong to the document" in str(e):
            return True
        raise
    return False


def wait_for_images(driver):
    driver.set_script_timeout(20)
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "Promise.all(Array.from(document.images).map(i => i.complete ? 1 : new Promise(r => { i.onload = i.onerror = "
        "r; }))).then(done);"
    )


def test_gallery_sampler_explorer_survey(served, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    url, app = served
    # 1. Gallery: a card per run, each grid loads.
    browser.get(url + "/")
    wait_for_images(browser)
    names = [e.get_attribute("data-run") for e in browser.find_elements(By.CSS_SELECTOR, "section.run")]
    assert names == ["cgan", "empty", "gan", "group/ddpm", "vae"]
    page_is_clean(browser, tmp_path / "gallery.png")

    # 2. Sampler: follow the gallery's link, pick a class, generate; the grid and the provenance appear.
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, 'section[data-run="cgan"] a[href^="/sample"]'))
    Select(browser.find_element(By.ID, "f-label")).select_by_value("3")
    n = browser.find_element(By.ID, "f-n")
    n.clear()
    n.send_keys("8")
    assert browser.find_element(By.ID, "f-steps").get_attribute("disabled") is not None  # a GAN has no sampling steps
    click_and_load(browser, browser.find_element(By.ID, "generate"))
    assert "label=3" in browser.current_url and "n=8" in browser.current_url
    assert browser.execute_script("return document.getElementById('samples').naturalHeight") > 2 * 28
    assert "checkpoint_hash" in browser.find_element(By.ID, "provenance").text
    assert "download=1" in browser.find_element(By.ID, "download").get_attribute("href")
    page_is_clean(browser, tmp_path / "sampler.png")

    # 3. Latent explorer: moving the slider swaps the frame without a page load.
    browser.get(url + "/explore?run=vae&a=1&b=2&t=0")
    wait_for_images(browser)
    before = browser.find_element(By.ID, "frame").get_attribute("src")
    browser.execute_script(
        "const s = document.getElementById('t'); s.value = '0.75'; s.dispatchEvent(new Event('input'));"
    )
    wait_for_images(browser)
    after = browser.find_element(By.ID, "frame").get_attribute("src")
    assert before != after and after.endswith("t=0.75") and browser.find_element(By.ID, "t-value").text == "0.75"
    page_is_clean(browser, tmp_path / "explore.png")

    # 4. Survey: answer three images; the answers are in the database.
    browser.get(url + "/survey")
    for k in range(3):
        wait_for_images(browser)
        for field, value in (("realism", 4), ("appropriateness", 3), ("novelty", 2 + k)):
            browser.find_element(By.ID, f"{field}-{value}").click()
        browser.find_element(By.ID, "guess-generated" if k % 2 else "guess-real").click()
        click_and_load(browser, browser.find_element(By.ID, "submit-answer"))
        assert browser.find_element(By.ID, "thanks").is_displayed()
        assert browser.find_element(By.ID, "answered").text == str(k + 1)
    wait_for_images(browser)
    page_is_clean(browser, tmp_path / "survey.png")
    rows = app.state.web.db.answer_rows()
    assert [r["novelty"] for r in rows] == [2, 3, 4] and [r["guess"] for r in rows] == ["real", "generated", "real"]
    assert len({r["respondent"] for r in rows}) == 1


def test_bad_request_page_in_the_browser(served, browser, tmp_path):
    from selenium.webdriver.common.by import By

    url, _ = served
    browser.get(url + "/sample?run=../../etc/passwd")
    assert "'..'" in browser.find_element(By.ID, "error-message").text
    console_errors(browser)  # the 400 itself is logged as a failed load; nothing else may be
    browser.get(url + "/")
    wait_for_images(browser)
    assert console_errors(browser) == []

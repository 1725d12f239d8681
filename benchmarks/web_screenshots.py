"""Screenshots of `genlab serve` for docs/web.md: gallery, sampler, latent explorer, survey.

    genlab demo --out runs/demo-check            # the two runs shown (small DCGAN and VAE)
    python benchmarks/web_screenshots.py --runs runs/demo-check

Starts the app on a free loopback port in this process (survey answers go to a temporary
SQLite file), opens each page in headless Chromium (Debian's chromium + chromium-driver)
and writes docs/screenshots/app-{gallery,sampler,explorer,survey}.png. A page with a
console error, a broken image or a blank screenshot stops the script.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from genlab.atomic import atomic_write_bytes
from genlab.web import create_app
from genlab.web.server import background_server

WAIT_FOR_IMAGES = (
    "const done = arguments[arguments.length - 1];"
    "Promise.all(Array.from(document.images).map(i => i.complete ? 1 : new Promise(r => { i.onload = i.onerror = r; "
    "}))).then(done);"
)
WIDTH, HEIGHT = 1280, 900  # the browser window before it grows to the page
MAX_HEIGHT = 2000  # pixels: a longer page is cut here
BROKEN_IMAGES = "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);"


def headless_chrome(width: int, height: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not browser or not driver:
        sys.exit(
            "web_screenshots: needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def shoot(driver, url: str, out: Path) -> None:
    """Open ``url``, wait for its images, check the page, and save the screenshot to ``out``."""
    driver.set_window_size(WIDTH, HEIGHT)
    driver.get(url)
    driver.set_script_timeout(60)
    driver.execute_async_script(WAIT_FOR_IMAGES)
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    broken = driver.execute_script(BROKEN_IMAGES)
    if errors or broken:
        sys.exit(f"web_screenshots: {url}: console errors {errors}, broken images {broken}")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    viewport = driver.execute_script("return window.innerHeight")
    if height > viewport:  # grow the window to the whole page, then shoot
        size = driver.get_window_size()
        driver.set_window_size(size["width"], size["height"] + min(height, MAX_HEIGHT) - viewport)
    png = driver.get_screenshot_as_png()
    atomic_write_bytes(out, png)
    pixels = np.asarray(Image.open(out).convert("L"), dtype=np.float32)
    if pixels.std() < 2.0:
        sys.exit(f"web_screenshots: {out} is blank")
    print(f"{out}  ({url})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/demo-check"), help="runs folder to serve")
    parser.add_argument("--sample-run", default="dcgan", help="run shown on the sampler page")
    parser.add_argument("--explore-run", default="vae", help="run shown in the latent explorer")
    parser.add_argument("-o", "--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(args.runs, Path(tmp) / "survey.sqlite", survey_rng=random.Random(0))
        with background_server(app) as url:
            driver = headless_chrome(WIDTH, HEIGHT)
            try:
                shoot(driver, f"{url}/", args.out / "app-gallery.png")
                shoot(driver, f"{url}/sample?run={args.sample_run}&n=36&seed=1", args.out / "app-sampler.png")
                shoot(driver, f"{url}/explore?run={args.explore_run}&a=3&b=8&t=0.4", args.out / "app-explorer.png")
                shoot(driver, f"{url}/survey", args.out / "app-survey.png")
            finally:
                driver.quit()
    print(f"wall {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()

"""Save a screenshot of the restore page for the README, taken in headless Chromium.

    python scripts/screenshot.py --out docs/serve.png [--model default]

Serves the model on 127.0.0.1 (a free port) in this process, opens the page in Debian's
Chromium (selenium 4, no downloaded browser), restores a spun paragraph, turns the diff on,
focuses the first suggestion or else the first edit (so its tooltip shows) and saves the window
as PNG.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from restore import Restorer
from restore.serve import BackgroundServer, build_app

SPUN = (
    "The minister enumerated newspapermen that the rumbles would continue next week. "
    "Functionaries in Redvale announced new water confinements on Friday, and the celebration "
    "ejects journalists outside the depository. Rescinding the ban was a mistake, critics said."
)
CHROME_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def chromium_options(window: str = "1100,1000"):
    """Headless Debian Chromium that fetches nothing (the tests drive it the same way)."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = CHROMIUM
    for arg in (*CHROME_ARGS, f"--window-size={window}"):
        options.add_argument(arg)
    return options


def take(url: str, out: Path, text: str) -> Path:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = webdriver.Chrome(options=chromium_options(), service=Service(CHROMEDRIVER))
    try:
        driver.get(url + "/")
        driver.find_element(By.ID, "input").send_keys(text)
        driver.find_element(By.ID, "restore").click()
        WebDriverWait(driver, 60).until(
            lambda d: d.find_element(By.ID, "status").text.startswith(("Done", "Could not"))
        )
        driver.find_element(By.ID, "diff").click()
        marks = driver.find_elements(By.CSS_SELECTOR, "#output button.suggestion")
        marks = marks or driver.find_elements(By.CSS_SELECTOR, "#output mark.edit")
        if marks:
            driver.execute_script("arguments[0].focus()", marks[0])
        out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out))
    finally:
        driver.quit()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/serve.png")
    parser.add_argument("--model", default="default")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    restorer = Restorer.from_pretrained(args.model, threads=args.threads)
    server = BackgroundServer(build_app(restorer, model_name=args.model))
    try:
        print(f"wrote {take(server.url, Path(args.out), SPUN)}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

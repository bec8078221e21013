"""Shared helpers of the headless-browser tests (test_app_browser.py, test_live_dashboard_browser.py).

``flatbook app`` runs in a subprocess on a free loopback port; Selenium drives Debian's
``chromium`` through ``chromedriver`` (``make browser`` installs both). If selenium, either
binary or the app is unusable, the tests FAIL with a message; they never skip.
Test modules import these with ``from browser_util import ...`` (``tests/`` is on ``sys.path``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "results" / "test-artifacts"
START_TIMEOUT_S = 240.0  # a fresh clone compiles the numba kernels at the app's warm-up
WAIT_S = 60.0  # bounds a hang only (a loaded 2-core machine can be slow); never a budget

try:
    from selenium import webdriver
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        TimeoutException,
        WebDriverException,
    )
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as e:  # fail, do not skip: the test extra lists selenium
    pytest.fail(f"selenium is not installed ({e}); run `make test` (installs the test extra)", pytrace=False)

__all__ = [
    "ARTIFACTS",
    "RENDERING",
    "By",
    "Keys",
    "ROOT",
    "WAIT_S",
    "app_server",
    "chromium",
    "free_port",
    "text",
    "wait_for",
]


def _find(name: str, fallback: str) -> str | None:
    path = shutil.which(name)
    if path:
        return path
    return fallback if os.path.exists(fallback) else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def app_server(log: Path, *args: str) -> Iterator[str]:
    """``flatbook app --host 127.0.0.1 --port <free port> *args`` until the block ends; yields its base URL."""
    port = free_port()
    argv = ["app", "--host", "127.0.0.1", "--port", str(port), *args]
    code = f"import flatbook.cli.app_cmd; from flatbook.cli.root import main; main({argv!r})"
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"flatbook app exited with {proc.returncode}:\n{log.read_text()}", pytrace=False)
            try:
                with urllib.request.urlopen(url + "_dash-layout", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"flatbook app did not answer on {url} within {START_TIMEOUT_S:.0f} s:\n{log.read_text()}",
                    pytrace=False,
                )
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    """Headless Chromium through chromedriver; fails (never skips) when either is unusable."""
    binary = _find("chromium", "/usr/bin/chromium")
    driver_bin = _find("chromedriver", "/usr/bin/chromedriver")
    if binary is None or driver_bin is None:
        pytest.fail(
            "headless browser tests need Debian's chromium and chromium-driver "
            f"(found chromium={binary}, chromedriver={driver_bin}); install them with `make browser` "
            "or `apt-get install chromium chromium-driver`",
            pytrace=False,
        )
    opts = Options()
    opts.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1600,1650",
        "--force-device-scale-factor=1",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
    ):
        opts.add_argument(arg)
    try:
        drv = webdriver.Chrome(service=Service(driver_bin), options=opts)
    except WebDriverException as e:
        pytest.fail(f"chromium could not start through {driver_bin} ({binary}): {e.msg or e}", pytrace=False)
    drv.set_script_timeout(30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield drv
    finally:
        drv.quit()


#: raised while a page re-renders: the element is not there yet, or was replaced after it was found
RENDERING = (NoSuchElementException, StaleElementReferenceException)


def wait_for(drv, cond, what: str, timeout: float = WAIT_S):
    """``cond(drv)`` once truthy, or a test failure naming ``what``.

    ``cond`` should find its elements afresh on every call (a page refresh replaces them);
    a missing or stale element counts as "not yet" and is polled again (every 20 ms).
    ``timeout`` only bounds a hang: it is generous, never a performance budget.
    """
    try:
        return WebDriverWait(drv, timeout, poll_frequency=0.02, ignored_exceptions=RENDERING).until(cond)
    except TimeoutException:
        pytest.fail(f"timed out after {timeout:g} s waiting for {what}", pytrace=False)


def text(drv, elem_id: str) -> str:
    """The element's text, found afresh; re-found if the page replaces it between find and read."""
    for _ in range(50):
        try:
            return drv.find_element(By.ID, elem_id).text.strip()
        except StaleElementReferenceException:
            continue
    return drv.find_element(By.ID, elem_id).text.strip()

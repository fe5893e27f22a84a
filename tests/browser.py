"""Headless Debian Chromium driven through chromedriver (Selenium) for tests of what people see."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any

from tests.conftest import require_tool

# No background traffic: this machine's network is closed, and a test must talk to loopback only.
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


class Browser:
    """One Chromium session; `open` loads a page at a window size and a colour scheme."""

    def __init__(self, user_data: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = _chromium()
        for arg in (*CHROMIUM_ARGS, f"--user-data-dir={user_data}"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver: Any = webdriver.Chrome(
            service=Service(require_tool("chromedriver")), options=options
        )

    def open(self, url: str, *, width: int, height: int = 900, dark: bool = False) -> None:
        self.driver.set_window_size(width, height)
        scheme = "dark" if dark else "light"
        self.driver.execute_cdp_cmd(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
        )
        self.driver.get(url)

    def console_errors(self) -> list[str]:
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def horizontal_overflow(self) -> int:
        """Pixels the page is wider than the window (0: nothing to scroll sideways)."""
        return int(
            self.driver.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth"
            )
        )

    def screenshot(self, path: Path) -> Path:
        """The whole page as a PNG, not only the window's height."""
        metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics["cssContentSize"]
        # Captured beyond the viewport, the page is laid out without its vertical scrollbar, so
        # at the window's full width: clipping to the content width measured with the scrollbar
        # would cut the right edge off.
        width = max(size["width"], self.driver.execute_script("return window.innerWidth"))
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": width,
                    "height": size["height"],
                    "scale": 1,
                },
            },
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        print(f"screenshot: {path}")  # the test log names every picture
        return path

    def close(self) -> None:
        self.driver.quit()


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return str(shutil.which(name))
    return require_tool("chromium")

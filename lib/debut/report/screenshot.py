"""Render a report in headless Chromium to a PNG (a check that the page opens, and a picture of it)."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import Optional

BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> Optional[str]:
    for name in BINARIES:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(html_path: str, png_path: str, width: int = 1280, height: int = 4000, timeout_s: int = 120) -> str:
    """Take a full-width screenshot of ``html_path``; returns png_path. Raises when Chromium fails."""
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError(f"no Chromium binary found (looked for {', '.join(BINARIES)})")
    with tempfile.TemporaryDirectory(prefix="debut-chromium-") as profile:
        cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={width},{height}",
               f"--screenshot={os.path.abspath(png_path)}", "file://" + os.path.abspath(html_path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0 or not os.path.exists(png_path):
        raise RuntimeError(f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return png_path


if __name__ == "__main__":
    import sys

    print(screenshot(sys.argv[1], sys.argv[2]))

"""The run report: one self-contained HTML file that a browser renders with its figures."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from cnnzoo.report.run import write_run_report

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars")


@pytest.fixture(scope="module")
def report(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("report") / "run"
    shutil.copytree(trained_run, run)  # the shared run stays read-only
    return write_run_report(run, device="cpu", worst=6)


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    for heading in ("Learning curves and confusion matrix", "Per-class precision, recall, F1",
                    "worst-classified test images", "Model", "Configuration", "Provenance"):
        assert heading in text
    assert not re.search(r"""(src|href)=["'](https?:|//|file:)""", text)  # nothing fetched from elsewhere
    assert "<script" not in text
    images = re.findall(r'<img [^>]*src="data:image/png;base64,', text)
    assert len(images) >= 2 + 6  # curves, confusion matrix, six worst images
    assert 'alt="learning curves"' in text and 'alt="confusion matrix"' in text
    assert text.count('alt="Grad-CAM of test image') == 6  # cnnzoo.interpret's overlays on the worst images


def _find_chromium() -> str | None:
    return next((p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))), None)


def _chromium() -> str:
    """The browser, installed from Debian's `chromium` package where it is missing and we may
    (root with apt-get, as on CI); otherwise the browser check is skipped with the reason."""
    if path := _find_chromium():
        return path
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            try:
                subprocess.run(cmd, capture_output=True, timeout=600, env=env, check=False)
            except (OSError, subprocess.TimeoutExpired):
                break
        if path := _find_chromium():
            return path
    pytest.skip("headless Chromium is not installed and could not be installed (Debian: apt-get install chromium); "
                "the browser check is skipped")


def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    from PIL import Image
    shot = tmp_path / "shot.png"
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1300,1100",
                               "--enable-logging=stderr", "--v=0", f"--screenshot={shot}", report.as_uri()],
                              capture_output=True, text=True, timeout=180)
    assert shot.is_file(), done.stderr[-2000:]
    # the page's own console (script errors, resources that failed to load) is logged as CONSOLE lines
    console = [ln for ln in done.stderr.splitlines() if "CONSOLE" in ln or "Failed to load resource" in ln]
    assert not console, console
    a = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert a.std() > 20  # not a blank page
    # the learning curves (matplotlib's first line colour, #1f77b4) and the confusion matrix (the
    # darkest cells of the "Blues" colour map, about #08306b) are drawn in the first screenful
    curve_blue = (abs(a - [31, 119, 180]).sum(-1) < 40).sum()
    matrix_blue = (abs(a - [8, 48, 107]).sum(-1) < 40).sum()
    assert curve_blue > 200, curve_blue
    assert matrix_blue > 200, matrix_blue
    left, right = a[:, :650], a[:, 650:]
    assert (abs(left - [31, 119, 180]).sum(-1) < 40).sum() > 100  # curves on the left
    assert (abs(right - [8, 48, 107]).sum(-1) < 40).sum() > 100  # confusion matrix on the right

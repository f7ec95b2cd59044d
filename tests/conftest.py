"""Shared fixtures: small real-format data sets written by the tests, and a trained run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-epoch LeNet-5 run on the bundled digits through the CLI entry point (shared, read-only)."""
    from cnnzoo.cli import main
    out = tmp_path_factory.mktemp("runs")
    assert main(["train", "--epochs", "2", "--output", str(out), "--name", "shared", "--quiet"]) == 0
    return out / "shared"


def pytest_configure(config: pytest.Config) -> None:
    # caches (`cnnzoo models` counts) go to a throw-away folder, not the user's ~/.cache
    os.environ["XDG_CACHE_HOME"] = str(config.rootpath / ".pytest_cache" / "xdg")
    for name in ("CNNZOO_CACHE_DIR", "CNNZOO_ONNX_CACHE"):  # ONNX graphs too, whatever the user's settings
        os.environ.pop(name, None)
    torch.manual_seed(0)

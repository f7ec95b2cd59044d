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
    # Tests that start subprocesses give each one thread; the in-process ones keep torch's default.
    os.environ.setdefault("CNNZOO_TEST", "1")
    torch.manual_seed(0)

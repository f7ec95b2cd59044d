"""`--precision fp16` on a CPU trains, with one warning that bf16 is the fast half precision there."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnzoo.cli import main


def test_fp16_on_a_cpu_warns_and_still_trains(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=r"--precision fp16 on a CPU: .*bf16"):
        assert main(["train", "--epochs", "1", "--limit-train", "256", "--precision", "fp16", "--device", "cpu",
                     "--output", str(tmp_path), "--name", "fp16", "--quiet"]) == 0
    assert (tmp_path / "fp16" / "summary.json").is_file()

"""Kaggle's `Id,Expected` file: rows in the results' order, and an ambiguous Id refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnzoo.errors import DataError
from cnnzoo.train.submission import write_submission


def _result(file: str, cls: str) -> dict:
    return {"file": file, "predictions": [{"class": cls, "probability": 0.9}]}


def test_rows_follow_the_results_and_name_only_the_file(tmp_path: Path) -> None:
    out = write_submission([_result("a/img_2.jpg", "bart"), _result("a/img_1.jpg", "homer")], tmp_path / "s.csv")
    assert out.read_text() == "Id,Expected\nimg_2.jpg,bart\nimg_1.jpg,homer\n"


def test_a_file_name_in_two_folders_is_refused_and_nothing_written(tmp_path: Path) -> None:
    results = [_result(f"f{i % 3}/img_{i}.jpg", "lisa") for i in range(5000)] + [_result("g/img_7.jpg", "lisa")]
    with pytest.raises(DataError, match=r"repeat across folders \(img_7.jpg\)"):
        write_submission(results, tmp_path / "s.csv")
    assert not (tmp_path / "s.csv").exists()

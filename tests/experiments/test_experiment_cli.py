"""`cnnzoo experiment degradation|lesion|kernels`, `compare --runs` and `report` on tiny settings
(bundled digits, 8x8 inputs, one epoch): the folders they write, reuse, and the errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnzoo.cli import main

TINY = ["--data", "digits", "--epochs", "1", "--limit-train", "128", "--limit-eval", "64", "--img-size", "8",
        "--batch-size", "64", "--device", "cpu"]


@pytest.fixture(scope="module")
def degradation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("exp") / "degradation"
    assert main(["experiment", "degradation", "--depths", "8,14", *TINY, "--out", str(out)]) == 0
    return out


def test_degradation_folder(degradation: Path) -> None:
    for name in ("experiment.yaml", "curves.csv", "results.csv", "degradation.png", "summary.md", "report.html"):
        assert (degradation / name).is_file(), name
    assert sorted(p.name for p in (degradation / "runs").iterdir()) == ["plain14", "plain8", "resnet14", "resnet8"]
    summary = (degradation / "summary.md").read_text()
    assert "| plain-14 |" in summary and "| resnet-8 |" in summary
    assert 'src="data:image/png;base64,' in (degradation / "report.html").read_text()


def test_degradation_reuses_finished_runs_and_refuses_other_settings(degradation: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["experiment", "degradation", "--depths", "8,14", *TINY, "--out", str(degradation)]) == 0
    assert capsys.readouterr().out.count("finished before, reused") == 4
    assert main(["experiment", "degradation", "--depths", "8,20", *TINY, "--out", str(degradation)]) == 2
    assert "other settings" in capsys.readouterr().err
    assert main(["experiment", "degradation", "--depths", "9,14", *TINY, "--out", str(degradation) + "-x"]) == 2


def test_lesion_on_a_degradation_run(degradation: Path, tmp_path: Path) -> None:
    out = tmp_path / "lesion"
    assert main(["experiment", "lesion", str(degradation / "runs" / "resnet14"), "--samples", "2",
                 "--device", "cpu", "--out", str(out)]) == 0
    rows = (out / "lesion.csv").read_text().splitlines()
    assert rows[0] == "network,test,blocks,k,tau,error"
    assert any(r.startswith("resnet14,single") for r in rows) and any(r.startswith("plain14,single") for r in rows)
    assert (out / "lesion.png").is_file() and (out / "report.html").is_file()


def test_compare_runs_overlays_curves_with_config_differences(degradation: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    plot = tmp_path / "curves.png"
    runs = [str(degradation / "runs" / n) for n in ("plain8", "resnet14")]
    assert main(["compare", "--runs", *runs, "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "model=plain8" in out and "model=resnet14" in out and plot.stat().st_size > 10_000
    assert main(["compare", "--runs", str(tmp_path)]) == 2  # not a run folder


def test_kernels_experiment(tmp_path: Path) -> None:
    out = tmp_path / "kernels"
    assert main(["experiment", "kernels", *TINY, "--img-size", "12", "--width", "8", "--blocks", "5x5,3x3+3x3",
                 "--out", str(out)]) == 0
    table = (out / "kernels.csv").read_text().splitlines()
    assert table[0].startswith("block,block field,block parameters")
    five, three = table[1].split(","), table[2].split(",")
    assert five[1] == three[1] == "5x5"  # the same field ...
    assert int(five[2]) == 25 * 4 * 8 + 25 * 8 * 8 and int(three[2]) == 9 * (4 * 8 + 8 * 8) + 2 * 9 * 8 * 8  # ... fewer weights
    assert main(["experiment", "kernels", *TINY, "--blocks", "9x9", "--out", str(tmp_path / "k2")]) == 2


def test_report_command_on_an_experiment_folder(degradation: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(degradation)]) == 0
    assert str(degradation / "report.html") in capsys.readouterr().out

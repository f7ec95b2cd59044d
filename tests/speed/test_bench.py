"""`cnnzoo bench`: the JSON report's keys, training steps, and a model that cannot compile."""

from __future__ import annotations

import json

import pytest
import torch

from cnnzoo.cli import main
from cnnzoo.speed.bench import format_report, run_bench
from cnnzoo.speed.gemm import MachineRates

REPORT_KEYS = {"model", "device", "mode", "batch", "input_size", "threads", "mult_adds_per_image",
               "bytes_per_image", "gemm_gflops", "bandwidth_gbs", "gemm_limit_img_s", "memory_limit_img_s",
               "layers", "gemm_dtype", "rows", "best"}
ROW_KEYS = {"backend", "img_per_s", "median_ms", "p90_ms", "peak_mib", "pct_of_gemm_limit", "note"}
FAST = ["--batch", "4", "--warmup", "1", "--repeats", "3", "--json"]


def _bench(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["bench", *args, *FAST]) == 0
    return json.loads(capsys.readouterr().out)


def test_bench_json_keys_and_limits(capsys: pytest.CaptureFixture[str]) -> None:
    report = _bench(capsys, "lenet5", "--backend", "eager", "--backend", "channels_last", "--backend", "onnxruntime")
    assert set(report) == REPORT_KEYS
    assert [r["backend"] for r in report["rows"]] == ["eager", "channels_last", "onnxruntime"]
    for row in report["rows"]:
        assert set(row) == ROW_KEYS
        assert row["img_per_s"] > 0 and row["median_ms"] <= row["p90_ms"] + 1e-9
        assert row["pct_of_gemm_limit"] == pytest.approx(100 * row["img_per_s"] / report["gemm_limit_img_s"])
    assert report["rows"][0]["peak_mib"] > 0 and report["rows"][2]["peak_mib"] is None
    assert report["mult_adds_per_image"] == pytest.approx(333_000, rel=0.05)  # LeNet-5's ~0.33 M mult-adds
    assert report["input_size"] == [1, 32, 32] and report["mode"] == "inference" and report["best"]


def test_bench_training_steps_and_input_size(capsys: pytest.CaptureFixture[str]) -> None:
    report = _bench(capsys, "resnet20", "--train", "--input", "3x16x16", "--backend", "channels_last")
    assert report["mode"] == "train" and report["input_size"] == [3, 16, 16]
    assert report["rows"][0]["img_per_s"] > 0
    # a training step is ~3 forward passes of work: the limit is a third of inference's
    assert report["gemm_limit_img_s"] == pytest.approx(report["gemm_gflops"] * 1e9 / (6 * report["mult_adds_per_image"]))


def test_bf16_training_is_measured_against_the_bf16_matrix_rate_and_fp16_skipped_on_a_cpu(
        capsys: pytest.CaptureFixture[str]) -> None:
    report = _bench(capsys, "lenet5", "--train", "--precision", "bf16", "--backend", "channels_last")
    assert report["gemm_dtype"] == "bfloat16" and report["rows"][0]["backend"] == "channels_last+bf16"
    assert report["rows"][0]["img_per_s"] > 0
    report = _bench(capsys, "lenet5", "--train", "--precision", "fp16", "--backend", "channels_last")
    [row] = report["rows"]
    assert row["img_per_s"] is None and row["note"].startswith("skipped: fp16 training is measured on CUDA only")


def test_bad_input_size_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "lenet5", "--input", "32x32"]) == 2
    assert "expected CxHxW" in capsys.readouterr().err


@torch.library.custom_op("cnnzoo_test::no_fake_kernel", mutates_args=())
def _no_fake_kernel(x: torch.Tensor) -> torch.Tensor:  # no register_fake: torch.compile cannot trace it
    return x.clone()


class _Uncompilable(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _no_fake_kernel(self.conv(x)).mean((2, 3))


def test_a_model_that_cannot_compile_is_skipped_with_a_one_line_note() -> None:
    rates = MachineRates(10.0, 1.0, "float32", "cpu")
    report = run_bench(_Uncompilable().eval(), torch.randn(2, 1, 8, 8), name="uncompilable", mult_adds=100.0,
                       backends=["eager", "compile"], train=False, warmup=1, repeats=2, rates=rates)
    eager, compiled = report.rows
    assert eager.img_per_s and compiled.img_per_s is None
    assert compiled.note.startswith("skipped: torch.compile failed (") and "\n" not in compiled.note
    text = format_report(report)
    assert "Traceback" not in text and "fastest: eager" in text

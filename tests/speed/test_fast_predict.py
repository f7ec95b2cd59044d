"""`predict`/`eval` on a backend, with batching and decoding in worker processes, give the same
answers as the plain per-file path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cnnzoo.cli import main
from cnnzoo.speed.fast_predict import predict_fast
from cnnzoo.speed.photos import photo_crops
from cnnzoo.train.inference import open_model, predict_files


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for i, crop in enumerate(photo_crops(36, size=48, seed=1)):
        crop.save(folder / f"p{i:02d}.{'png' if i % 2 else 'jpg'}")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    return folder


def _by_file(results: list[dict]) -> dict[str, list[dict]]:
    return {r["file"]: r["predictions"] for r in results}


@pytest.mark.parametrize(("backend", "workers"), [("auto", 2), ("onnxruntime", 0), ("eager", 2)])
def test_backends_and_workers_agree_with_the_per_file_path(trained_run: Path, photo_folder: Path, backend: str,
                                                           workers: int) -> None:
    cpu = torch.device("cpu")
    loaded = open_model(trained_run, device=cpu)
    files = sorted(photo_folder.iterdir())
    ref, ref_bad = predict_files(loaded, files, top_k=3, tta=False, device=cpu)
    got, bad = predict_fast(loaded, files, top_k=3, tta=False, device=cpu, backend=backend, batch_size=16,
                            workers=workers)
    assert [p for p, _ in bad] == [p for p, _ in ref_bad] == [photo_folder / "broken.jpg"]
    assert [r["file"] for r in got] == [r["file"] for r in ref]
    for name, preds in _by_file(ref).items():
        ours = _by_file(got)[name]
        assert [p["class"] for p in ours] == [p["class"] for p in preds]
        assert [p["probability"] for p in ours] == pytest.approx([p["probability"] for p in preds], abs=1e-5)


def test_cli_predict_with_a_backend_and_tta(trained_run: Path, photo_folder: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", str(trained_run), str(photo_folder), "--backend", "channels_last", "--tta",
                 "--batch-size", "8", "--workers", "1", "--json", "--top-k", "2"]) == 0
    out = capsys.readouterr()
    results = json.loads(out.out)
    assert len(results) == 36 and all(len(r["predictions"]) == 2 for r in results)
    assert "36 images in" in out.err and "on channels_last, cpu, batch 8, 1 decoding worker" in out.err
    assert main(["predict", str(trained_run), str(photo_folder / "p00.jpg"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_eval_on_a_backend_matches_eager(trained_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tops = []
    for backend in ("eager", "channels_last"):
        assert main(["eval", str(trained_run), "--backend", backend, "--json",
                     "--confusion", str(trained_run.parent / f"c_{backend}.png")]) == 0
        tops.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["top1"])
    assert tops[0] == tops[1]

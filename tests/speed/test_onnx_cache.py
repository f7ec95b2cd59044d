"""`predict`'s ONNX graphs are exported once per network and weights, found again by the next
call, never reused for other weights, and not kept when the cache is turned off; `auto` tries
ONNX Runtime on the fourth batch (one warm-up and two timed batches on `fused` first) when
the graph is already there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

pytest.importorskip("onnxruntime")

from cnnzoo.models import create_model  # noqa: E402
from cnnzoo.speed import onnx_cache  # noqa: E402
from cnnzoo.speed.fast_predict import AdaptiveBackend, select_backend  # noqa: E402

SIZE = (1, 32, 32)


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CNNZOO_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("CNNZOO_ONNX_CACHE", raising=False)
    return tmp_path / "onnx"


def _lenet() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("lenet5").eval()


def test_the_graph_is_exported_once_and_found_by_the_next_call(cache: Path) -> None:
    model, example = _lenet(), torch.randn(4, *SIZE)
    assert onnx_cache.cached_graph(model, SIZE) is None
    wrapped, note = select_backend(model, "onnxruntime", example, cache_onnx=True)
    assert note == ""
    [graph] = cache.glob("*.onnx")
    assert onnx_cache.cached_graph(model, SIZE) == graph
    written = graph.stat().st_ino  # an export would replace the file (a new inode)
    again, note = select_backend(model, "onnxruntime", example, cache_onnx=True)
    assert note == "" and graph.stat().st_ino == written and list(cache.glob("*")) == [graph]
    with torch.inference_mode():
        torch.testing.assert_close(again(example), model(example), rtol=1e-4, atol=1e-5)


def test_other_weights_or_input_size_never_reuse_a_graph(cache: Path) -> None:
    model = _lenet()
    select_backend(model, "onnxruntime", torch.randn(4, *SIZE), cache_onnx=True)
    assert onnx_cache.cached_graph(model, SIZE) is not None
    assert onnx_cache.cached_graph(model, (1, 36, 36)) is None
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] += 1e-3  # one value of one weight
    assert onnx_cache.cached_graph(model, SIZE) is None


def test_a_damaged_cache_entry_is_exported_again(cache: Path) -> None:
    model, example = _lenet(), torch.randn(4, *SIZE)
    select_backend(model, "onnxruntime", example, cache_onnx=True)
    [graph] = cache.glob("*.onnx")
    graph.write_bytes(graph.read_bytes()[:100])  # damaged on disk (a partial copy of the cache folder)
    wrapped, note = select_backend(model, "onnxruntime", example, cache_onnx=True)
    assert note == "" and graph.stat().st_size > 100
    with torch.inference_mode():
        torch.testing.assert_close(wrapped(example), model(example), rtol=1e-4, atol=1e-5)


def test_the_graphs_used_longest_ago_are_pruned_first(tmp_path: Path) -> None:
    old, used, new = (tmp_path / f"{n}.onnx" for n in ("old", "used", "new"))
    for i, p in enumerate((old, used, new)):
        p.write_bytes(b"x" * 100)
        os.utime(p, (1000 + i, 1000 + i))
    os.utime(used, (5000, 5000))  # `cached_graph` touched it
    onnx_cache.prune(tmp_path, keep=new, max_bytes=250)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.onnx", "used.onnx"]
    onnx_cache.prune(tmp_path, keep=new, max_bytes=50)  # the graph just written stays, whatever its size
    assert [p.name for p in tmp_path.iterdir()] == ["new.onnx"]


def test_the_cache_can_be_turned_off(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNZOO_ONNX_CACHE", "0")
    model = _lenet()
    _, note = select_backend(model, "onnxruntime", torch.randn(4, *SIZE), cache_onnx=True)
    assert note == "" and not cache.exists()
    assert onnx_cache.cached_graph(model, SIZE) is None


def test_auto_tries_onnx_runtime_on_the_fourth_batch_when_the_graph_is_cached(cache: Path) -> None:
    model, x = _lenet(), torch.randn(4, *SIZE)
    chooser = AdaptiveBackend(model, "auto", batch_size=4, total=40, device=torch.device("cpu"))
    names = []
    for _ in range(6):
        chooser.pick(x)
        names.append(chooser.name)
        chooser.timed(0.01, images=4)
    assert names == ["fused"] * 6  # LeNet's few milliseconds of work left never repay an export

    select_backend(model, "onnxruntime", x, cache_onnx=True)  # the graph an earlier predict left
    chooser = AdaptiveBackend(model, "auto", batch_size=4, total=40, device=torch.device("cpu"))
    names, outputs = [], []
    for seconds in (0.05, 0.01, 0.01, 0.05, 0.001, 0.02, 0.01):  # ONNX Runtime's best is faster: kept
        m = chooser.pick(x)
        names.append(chooser.name)
        with torch.inference_mode():
            outputs.append(m(x))
        chooser.timed(seconds, images=4)
    assert names == ["fused"] * 3 + ["onnxruntime"] * 4
    for out in outputs[1:]:
        torch.testing.assert_close(out, outputs[0], rtol=1e-4, atol=1e-5)


def test_auto_goes_back_to_fused_when_onnx_runtime_is_slower(cache: Path) -> None:
    model, x = _lenet(), torch.randn(4, *SIZE)
    select_backend(model, "onnxruntime", x, cache_onnx=True)
    chooser = AdaptiveBackend(model, "auto", batch_size=4, total=40, device=torch.device("cpu"))
    names = []
    for seconds in (0.05, 0.01, 0.02, 0.05, 0.02, 0.011, 0.01):  # best 0.011 > 0.95 x 0.01
        chooser.pick(x)
        names.append(chooser.name)
        chooser.timed(seconds, images=4)
    assert names == ["fused"] * 3 + ["onnxruntime"] * 3 + ["fused"]


def test_as_a_module_it_switches_mid_stream_and_keeps_the_answers(cache: Path) -> None:
    model, x = _lenet(), torch.randn(4, *SIZE)
    select_backend(model, "onnxruntime", x, cache_onnx=True)
    adaptive = AdaptiveBackend(model, "auto", batch_size=4, total=40, device=torch.device("cpu"))
    with torch.inference_mode():
        ref = model(x)
        for _ in range(8):  # what `evaluate` and `predict_fast` do: call it on each batch
            torch.testing.assert_close(adaptive(x), ref, rtol=1e-4, atol=1e-5)
    assert len(adaptive.seconds["onnxruntime"]) == 3 and not adaptive.training
    assert adaptive.describe().startswith(adaptive.name)

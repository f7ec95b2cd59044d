"""ONNX export: every family exports with a dynamic batch and agrees with PyTorch (<= 1e-4 on
real photo crops); the CLI writes class names and preprocessing into the metadata.

Exporting costs seconds per network on 2 cores (tracing, ONNX passes, writing the weights), so
the default run exports `DEFAULT`: the cheapest variant (mult-adds at the card's min_size) of
each family whose graph is small (<= 250 modules, <= 30M parameters; listed, because choosing
costs a minute of meta-device counting); `CNNZOO_ONNX=families` exports the cheapest variant of
every family and `CNNZOO_ONNX=all` every registered network.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import onnx
import pytest
import torch

import cnnzoo
from cnnzoo.analysis import build_on_meta, count_mult_adds, count_params
from cnnzoo.cli import main
from cnnzoo.models import get_entry
from cnnzoo.speed.onnx_export import ExportError, export_onnx, ort_session, parity
from cnnzoo.speed.photos import photo_batch


SMALL_GRAPH = (250, 30_000_000)  # modules, parameters
DEFAULT = ["cnn_2", "lenet5", "mobilenet_v1_025", "plain18", "plain20", "resnext50_32x4d", "se_resnet50",
           "squeezenet1_1"]  # = _cheapest_per_family(small_only=True)


def _cheapest_per_family(*, small_only: bool) -> list[str]:
    families: dict[str, list[str]] = {}
    for name in cnnzoo.list_models(aliases=False):
        families.setdefault(get_entry(name).family, []).append(name)

    def cost(name: str) -> float:
        card = cnnzoo.model_card(name)
        return count_mult_adds(build_on_meta(name), (card.input_size[0], card.min_size, card.min_size))
    def small(name: str) -> bool:
        meta = build_on_meta(name)
        return len(list(meta.modules())) <= SMALL_GRAPH[0] and count_params(meta) <= SMALL_GRAPH[1]
    picked = sorted(min(names, key=cost) for names in families.values())
    return [n for n in picked if small(n)] if small_only else picked


_SCOPE = os.environ.get("CNNZOO_ONNX", "small")
NETWORKS = {"all": lambda: cnnzoo.list_models(aliases=False), "families": lambda: _cheapest_per_family(small_only=False),
            "check": lambda: _cheapest_per_family(small_only=True)}.get(_SCOPE, lambda: DEFAULT)()


def _real_batch(name: str, n: int = 3) -> torch.Tensor:
    card = cnnzoo.model_card(name)
    x = photo_batch(n, channels=card.input_size[0], size=card.min_size).float() / 255
    return (x - 0.5) / 0.25


@pytest.mark.parametrize("name", NETWORKS)
def test_network_exports_with_dynamic_batch_and_parity(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = cnnzoo.create_model(name, num_classes=5).eval()
    result = export_onnx(model, tmp_path / f"{name}.onnx", batch=_real_batch(name), metadata={"cnnzoo.model": name})
    assert result.max_abs_diff <= 1e-4 * max(1.0, result.max_abs_logit)
    # traced with 2 images, checked with 3: the batch axis is symbolic in the graph
    dims = onnx.load(str(result.path), load_external_data=False).graph.input[0].type.tensor_type.shape.dim
    assert not dims[0].HasField("dim_value"), "batch axis must be dynamic"


def test_one_image_batch_runs_too(tmp_path: Path) -> None:
    model = cnnzoo.create_model("resnet20", num_classes=4).eval()
    x = _real_batch("resnet20", 4)
    result = export_onnx(model, tmp_path / "r.onnx", batch=x, metadata={})
    diff, _ = parity(model, ort_session(result.path), x[:1])
    assert diff <= 1e-4


@torch.library.custom_op("cnnzoo_test::opaque", mutates_args=())
def _opaque(x: torch.Tensor) -> torch.Tensor:
    return x.clone()


@_opaque.register_fake
def _(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


class _Unexportable(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _opaque(x).mean((2, 3))


def test_a_network_that_cannot_export_says_why(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"_Unexportable cannot be exported to ONNX \(torchscript exporter: .*"
                                          r"dynamo exporter: ConversionError"):
        export_onnx(_Unexportable(), tmp_path / "x.onnx", batch=torch.zeros(3, 1, 4, 4), metadata={})


def test_cli_export_of_a_run_has_classes_and_preprocessing(trained_run: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "lenet.onnx"
    assert main(["export", "onnx", str(trained_run), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "max abs logit difference" in text and text.rstrip().endswith("ok")
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["cnnzoo.classes"]) == [str(i) for i in range(10)]
    pre = json.loads(meta["cnnzoo.preprocessing"])
    assert pre["input_size"] == [1, 32, 32] and len(pre["mean"]) == len(pre["std"]) == 1
    assert meta["cnnzoo.model"] == "lenet5"


def test_cli_export_of_an_unknown_model_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "onnx", "resnet_5000", "-o", str(tmp_path / "x.onnx")]) == 2
    assert "unknown model 'resnet_5000'" in capsys.readouterr().err

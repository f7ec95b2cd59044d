"""ONNX export of a zoo model: dynamic batch, class names and preprocessing in the metadata,
and a parity check against PyTorch on a real batch.

The graph is traced with PyTorch's TorchScript-based exporter (seconds per network); when it
cannot handle a network, the `torch.export`-based one (`dynamo=True`) is tried; a network
neither can export raises `ExportError` naming both reasons. Input `input` is float32
(N, C, H, W), already normalised (`metadata["cnnzoo.preprocessing"]` says how); output
`logits` is (N, num_classes). N is dynamic.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CnnzooError, OutputError

OPSET = 17  # TorchScript exporter; the torch.export one needs >= 18
DYNAMO_OPSET = 18
PARITY_TOLERANCE = 1e-4  # max abs logit difference accepted in fp32 (x the largest |logit| above 1)


class ExportError(CnnzooError):
    """A model that cannot be written as ONNX, or whose ONNX graph disagrees with PyTorch."""


@dataclass(frozen=True)
class OnnxExport:
    path: Path
    exporter: str  # "torchscript" or "dynamo"
    opset: int
    max_abs_diff: float  # ONNX Runtime vs PyTorch logits on the parity batch
    max_abs_logit: float  # PyTorch's largest |logit| on that batch (scales the tolerance)
    parity_batch: int
    input_size: tuple[int, int, int]
    bytes: int


def onnx_metadata(meta: dict[str, Any], *, input_size: tuple[int, int, int]) -> dict[str, str]:
    """String key -> value pairs for the ONNX file: model, classes (JSON) and preprocessing (JSON)."""
    data = meta.get("data", {})
    pre = {"input_size": list(input_size), "layout": "NCHW float32", "scale": 1 / 255,
           "mean": list(meta["mean"]), "std": list(meta["std"]),
           "formula": "x = (uint8 / 255 - mean) / std", "resize": "shorter side to size / eval_crop, centre crop",
           "eval_crop": float(data.get("eval_crop", 1.0)), "channels": int(input_size[0])}
    return {"cnnzoo.model": str(meta.get("model")), "cnnzoo.classes": json.dumps(list(meta["classes"])),
            "cnnzoo.preprocessing": json.dumps(pre)}


def _torchscript_export(model: nn.Module, example: torch.Tensor, path: Path) -> int:
    torch.onnx.export(model, (example,), str(path), input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=OPSET,
                      dynamo=False)
    return OPSET


def _dynamo_export(model: nn.Module, example: torch.Tensor, path: Path) -> int:
    with contextlib.redirect_stdout(io.StringIO()):  # its progress lines
        torch.onnx.export(model, (example,), str(path), input_names=["input"], output_names=["logits"],
                          dynamic_shapes=({0: torch.export.Dim("batch", min=1)},), opset_version=DYNAMO_OPSET,
                          dynamo=True, verbose=False)
    return DYNAMO_OPSET


def write_graph(model: nn.Module, example: torch.Tensor, path: Path) -> tuple[str, int]:
    """Trace `model` with `example` into `path`; (exporter, opset). Raises ExportError naming both
    exporters' reasons when neither handles the network."""
    reasons = []
    for name, export in (("torchscript", _torchscript_export), ("dynamo", _dynamo_export)):
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                return name, export(model, example, path)
        except Exception as e:  # noqa: BLE001 - any exporter failure is reported with its reason
            first = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip().splitlines()[0][:300]  # no colour codes
            reasons.append(f"{name} exporter: {type(e).__name__}: {first}")
    raise ExportError(f"{type(model).__name__} cannot be exported to ONNX ({'; '.join(reasons)})")


def _add_metadata(path: Path, metadata: dict[str, str]) -> None:
    import onnx
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    for k, v in metadata.items():
        proto.metadata_props.add(key=k, value=v)
    onnx.save(proto, str(path))


def ort_session(path: str | Path, *, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session for `path` with full graph optimisation."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


@torch.no_grad()
def parity(model: nn.Module, session: Any, x: torch.Tensor) -> tuple[float, float]:
    """(max abs difference between ONNX Runtime's and PyTorch's logits on `x`, max |logit|)."""
    ours = model(x).float()
    theirs = torch.from_numpy(session.run(None, {"input": x.numpy()})[0])
    return float((ours - theirs).abs().max()), float(ours.abs().max())


def tolerance(max_abs_logit: float) -> float:
    """1e-4, relative to the logits' scale when that exceeds 1 (an untrained 164-layer network's
    logits reach 1e3, where fp32 rounding alone differs by ~1e-4)."""
    return PARITY_TOLERANCE * max(1.0, max_abs_logit)


@contextlib.contextmanager
def staged(path: Path) -> Iterator[Path]:
    """A temporary name beside `path` (keeping the .onnx ending) to write to: moved over `path`
    when the block ends without an error and removed in any case, so a failed or interrupted
    write leaves an older file as it was."""
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def export_onnx(model: nn.Module, path: str | Path, *, batch: torch.Tensor, metadata: dict[str, str]) -> OnnxExport:
    """Write `model` (eval mode, CPU, fp32) to `path`, traced with 2 rows of the normalised
    real `batch`, and check it on the whole batch (another size: the batch axis is dynamic).
    Raises ExportError if no exporter handles the network or the logits differ by more than
    `tolerance` (1e-4 for logits up to 1)."""
    path = Path(path)
    if len(batch) < 3:
        raise ValueError("the parity batch needs at least 3 images (2 are traced)")
    model = model.float().cpu().eval()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot write {path} ({e.strerror or e})") from None
    try:
        with staged(path) as tmp:  # written and checked beside the target, then moved over it
            exporter, opset = write_graph(model, batch[:2].contiguous(), tmp)
            _add_metadata(tmp, metadata)
            diff, scale = parity(model, ort_session(tmp), batch.contiguous())
            if not diff <= tolerance(scale):
                raise ExportError(f"{path}: ONNX Runtime logits differ from PyTorch's by {diff:.3g} > "
                                  f"{tolerance(scale):.3g}")
    except OSError as e:
        raise OutputError(f"cannot write {path} ({e.strerror or e}); the previous version is kept") from None
    return OnnxExport(path, exporter, opset, diff, scale, len(batch), tuple(batch.shape[1:]), path.stat().st_size)

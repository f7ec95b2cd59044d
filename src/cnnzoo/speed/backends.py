"""Ways to run the same model: each backend turns (model, example input) into a callable
that maps a normalised float batch (N, C, H, W) to logits, or into a training step.

Inference backends: `eager` (NCHW, as written), `channels_last` (NHWC memory, oneDNN/cuDNN's
native layout), `fused` (channels-last with every batch norm that follows a convolution folded
into it, `fold_bn`: no setup beyond a graph trace, what `predict` and `eval` use by default), `compile` (`torch.compile` of the channels-last model; on CPU with inductor's
freezing, which folds batch norm into the convolutions and pre-packs the weights),
`onnxruntime` (the model exported as `cnnzoo export onnx` writes it, CPU), and on CUDA
`bf16` / `fp16` (weights and activations in that type, channels-last). A backend that cannot
be built (a model `torch.compile` cannot handle, no onnxruntime) raises `Unavailable` with a
one-line reason; callers skip it with that note.
"""

from __future__ import annotations

import copy
import logging
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models.base import split_outputs
from . import INFERENCE_BACKENDS
from .fold_bn import fold_batch_norms

INFERENCE = INFERENCE_BACKENDS
HALF = ("bf16", "fp16")  # CUDA only
TRAINING = ("eager", "channels_last", "compile")


class Unavailable(Exception):
    """This backend cannot run this model here; the message is a one-line reason."""


@dataclass
class Runner:
    name: str
    run: Callable[[Tensor], object]  # one batch: inference logits, or one training step
    torch_memory: bool = True  # allocations go through PyTorch (measurable by its profiler)
    note: str = ""


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:160] if text else ''}".rstrip(": ")


def _channels_last(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).to(memory_format=torch.channels_last)


def _inference(model: nn.Module, *, layout: torch.memory_format, dtype: torch.dtype | None = None) -> Callable:
    def run(x: Tensor) -> Tensor:
        with torch.inference_mode():
            x = x.to(dtype) if dtype is not None else x
            return model(x.contiguous(memory_format=layout))
    return run


def _compiled(model: nn.Module, example: Tensor, *, training: bool) -> nn.Module:
    from torch._inductor import config as inductor
    if not training and example.device.type == "cpu":
        inductor.freezing = True  # constant-folds BN into convs and pre-packs oneDNN weights (eval only)
    # a CPU-only torch warns once that no CUDA runtime is found while building the C++ kernels: noise here
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    compiled = torch.compile(model, dynamic=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if training:
                split_outputs(compiled(example))[0].float().sum().backward()
                model.zero_grad(set_to_none=True)
            else:
                with torch.inference_mode():
                    compiled(example)
    except Exception as e:  # noqa: BLE001 - any compiler failure means: fall back
        torch._dynamo.reset()
        raise Unavailable(f"torch.compile failed ({_one_line(e)})") from None
    return compiled


def _onnxruntime(model: nn.Module, example: Tensor, *, cache: bool) -> Runner:
    """`cache`: the graph comes from (or goes to) `onnx_cache` (predict); else a fresh export with
    `export_onnx`'s metadata and parity check (bench)."""
    if example.device.type != "cpu":
        raise Unavailable("ONNX Runtime runs here on the CPU only")
    try:
        from . import onnx_cache
        from .onnx_export import export_onnx, ort_session
    except ImportError as e:
        raise Unavailable(f"onnxruntime is not installed ({e.name}): pip install 'cnnzoo[onnx]'") from None
    batch = torch.cat([example, example[:1]]) if len(example) < 3 else example
    try:
        if cache:
            session = onnx_cache.open_session(model, batch, threads=torch.get_num_threads())
        else:
            path = Path(tempfile.mkdtemp(prefix="cnnzoo-bench-")) / "model.onnx"
            export_onnx(model, path, batch=batch, metadata={})
            session = ort_session(path, threads=torch.get_num_threads())
    except Exception as e:  # noqa: BLE001 - an export failure means: skip this backend
        raise Unavailable(f"ONNX export failed ({_one_line(e)})") from None

    def run(x: Tensor) -> Tensor:
        return torch.from_numpy(session.run(None, {"input": x.numpy()})[0])
    return Runner("onnxruntime", run, torch_memory=False)


def inference_runner(name: str, model: nn.Module, example: Tensor, *, cache_onnx: bool = False) -> Runner:
    """Runner `name` (INFERENCE or HALF) for `model` (eval mode, on example's device).
    `cache_onnx`: ONNX Runtime's graph is kept on disk for the next call (`onnx_cache`)."""
    cl = torch.channels_last
    if name == "eager":
        return Runner(name, _inference(model, layout=torch.contiguous_format))
    if name == "channels_last":
        return Runner(name, _inference(_channels_last(model), layout=cl))
    if name == "fused":
        return Runner(name, _inference(fold_batch_norms(model).to(memory_format=cl), layout=cl))
    if name == "compile":
        compiled = _compiled(_channels_last(model), example.contiguous(memory_format=cl), training=False)
        return Runner(name, _inference(compiled, layout=cl))
    if name == "onnxruntime":
        return _onnxruntime(model, example, cache=cache_onnx)
    if name in HALF:
        if example.device.type != "cuda":
            raise Unavailable(f"{name} is measured on CUDA only (this CPU has no fast {name} matrix units)")
        dtype = torch.bfloat16 if name == "bf16" else torch.float16
        return Runner(name, _inference(_channels_last(model).to(dtype), layout=cl, dtype=dtype))
    raise ValueError(f"unknown backend {name!r}")


def training_runner(name: str, model: nn.Module, example: Tensor, *, precision: str = "fp32") -> Runner:
    """One SGD step (forward, cross-entropy, backward, update) per call, on a copy of `model`."""
    if precision == "fp16" and example.device.type == "cpu":
        raise Unavailable("fp16 training is measured on CUDA only (PyTorch's CPU fp16 convolution backward is "
                          "unoptimised: ResNet-18 at batch 8 takes ~80 s a step; use --precision bf16)")
    model = copy.deepcopy(model).train()
    layout = torch.contiguous_format if name == "eager" else torch.channels_last
    model = model.to(memory_format=layout)
    if name == "compile":
        model = _compiled(model, example.contiguous(memory_format=layout), training=True)
    elif name not in ("eager", "channels_last"):
        raise Unavailable(f"{name} is an inference backend")
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    autocast = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    scaler = torch.amp.GradScaler(example.device.type, enabled=precision == "fp16")

    def step(x: Tensor) -> Tensor:
        x = x.contiguous(memory_format=layout)
        target = torch.zeros(len(x), dtype=torch.long, device=x.device)
        with torch.autocast(x.device.type, dtype=autocast or torch.float32, enabled=autocast is not None):
            logits, aux, weight = split_outputs(model(x))
            loss = F.cross_entropy(logits, target) + sum((weight * F.cross_entropy(a, target) for a in aux),
                                                         torch.zeros((), device=x.device))
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        return loss.detach()
    return Runner(f"{name}" + (f"+{precision}" if autocast else ""), step)

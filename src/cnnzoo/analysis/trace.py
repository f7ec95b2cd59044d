"""One dispatch-level pass over a model that the table, the memory estimate and the receptive
fields are all read from.

`trace(model, input_size)` runs one forward pass of zeros under a `TorchDispatchMode` that sees
every ATen operator the model executes (after autograd, after Python: functional calls,
`torch.cat`, in-place additions and custom operators included) and under forward hooks on every
submodule. For each operator it

- counts FLOPs with PyTorch's own formulas (`torch.utils.flop_counter.flop_registry`, the table
  `FlopCounterMode` and `count_mult_adds` use; cnnzoo's sparse convolution registers one) and
  adds them to every module on the call stack;
- propagates the receptive field (see `receptive_field.py` for the rules);
- books the tensors it creates: their bytes, and (through weak references) the moment Python
  lets them go, so that the maps alive at the same time are known (memory.py).

By default the pass runs on the meta device (`torch.func.functional_call` swaps in shape-only
copies of the parameters), so ResNet-152 at 600x600 costs milliseconds and no memory; a model
whose forward needs real values (data-dependent control flow) is run on its own device.
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import flop_registry

from ..layers import sparse_conv  # noqa: F401  (registers torch.ops.cnnzoo.sparse_conv2d)
from ..models.base import ZooModel, split_outputs
from .torch_internals import TorchDispatchMode, WeakIdKeyDictionary, reparametrized, storage_key, tree_flatten

aten = torch.ops.aten

# Operators that describe a tensor rather than compute one (FlopCounterMode skips the same).
_METADATA_OPS = {aten.is_contiguous.default, aten.is_contiguous.memory_format, aten.size.default,
                 aten.sym_size.default, aten.stride.default, aten.sym_stride.default, aten.dim.default,
                 aten.storage_offset.default, aten.sym_storage_offset.default, aten.numel.default,
                 aten.sym_numel.default, aten.is_strides_like_format.default,
                 aten.is_non_overlapping_and_dense.default, torch.ops.prim.layout.default,
                 torch.ops.prim.device.default}


_SPARSE_CONV = torch.ops.cnnzoo.sparse_conv2d
_CONV_OPS = {aten.convolution, aten._convolution, _SPARSE_CONV}


# ---------------------------------------------------------------------------------------------
# receptive field of one tensor
@dataclass(frozen=True)
class Field:
    """Receptive field of one map: `size` input pixels (H, W) seen by one of its pixels, `jump`
    input pixels between neighbouring pixels (the product of strides), `map_size` the map's own
    (H, W); `is_global` once the spatial positions have been pooled or flattened away."""

    size: tuple[float, float]
    jump: tuple[float, float]
    map_size: tuple[int, int]
    is_global: bool = False
    before: Field | None = None  # for a global field: the map's field before it was pooled away

    def text(self) -> str:
        if self.is_global:
            return "global"
        h, w = (int(round(v)) for v in self.size)
        return str(h) if h == w else f"{h}x{w}"

    def collapse(self, kernel: tuple[float, float] | None = None, *, pooled: bool = True) -> Field:
        """The field after a window of `kernel` map pixels (default: the whole map). `pooled`:
        the map's positions are pooled away ("global"); a fully connected layer over the map is
        rather a convolution whose kernel is the map (LeNet-5's C5): its field stays a size."""
        kh, kw = kernel if kernel is not None else self.map_size
        size = (self.size[0] + (kh - 1) * self.jump[0], self.size[1] + (kw - 1) * self.jump[1])
        return Field(size, self.jump, (1, 1), pooled, self if pooled else None)


def _pair(v: object, default: tuple[int, int] | None = None) -> tuple[int, int]:
    if v is None or (isinstance(v, list | tuple) and len(v) == 0):
        assert default is not None
        return default
    if isinstance(v, int):
        return (v, v)
    v = list(v)  # type: ignore[arg-type]
    return (int(v[0]), int(v[-1]))


def _window(field: Field, kernel: tuple[int, int], stride: tuple[float, float], dilation: tuple[int, int],
            out_size: tuple[int, int]) -> Field:
    size = tuple(field.size[i] + (kernel[i] - 1) * dilation[i] * field.jump[i] for i in range(2))
    jump = tuple(field.jump[i] * stride[i] for i in range(2))
    return Field(size, jump, out_size)  # type: ignore[arg-type]


def _spatial(t: Tensor) -> tuple[int, int] | None:
    return (int(t.shape[-2]), int(t.shape[-1])) if t.dim() == 4 else None


# ---------------------------------------------------------------------------------------------
@dataclass(eq=False)
class ModuleRecord:
    """What the pass saw of one submodule (its first call; FLOPs summed over all calls)."""

    name: str
    module: nn.Module
    order: int
    input_shape: tuple[int, ...] | None = None
    output_shape: tuple[int, ...] | None = None
    field: Field | None = None
    flops: int = 0
    calls: int = 0
    windows: list[tuple[str, tuple[int, int], tuple[int, int], tuple[int, int]]] = dc_field(default_factory=list)


@dataclass
class Trace:
    """The result of `trace`: one record per submodule that ran, in the order they first ran."""

    records: dict[str, ModuleRecord]
    flops: int  # whole forward pass (2 per multiply-add)
    output_field: Field | None  # of forward_features' map (ZooModel) or the last map before pooling
    peak_live_bytes: int  # largest sum of maps alive at one moment (parameters and input excluded)
    peak_with_workspace: int  # the same with the CPU convolutions' copies (conv_workspace=True)
    all_maps_bytes: int  # sum of every map created (seed 001's "store every layer's maps")
    saved_bytes: int  # maps autograd keeps for the backward pass (train=True only)
    backward_peak_bytes: int  # saved maps + gradients + maps in flight, at the worst moment (train=True)
    device: str
    ops: int = 0


class _Tracer(TorchDispatchMode):
    def __init__(self, static_storages: set[int], conv_workspace: bool) -> None:
        super().__init__()
        self.conv_workspace = conv_workspace
        self.grad_ops: list[tuple[int, int, list[int]]] = []  # (op, gradient bytes in flight, params)
        self.params: dict[int, int] = {}  # trainable parameter storage -> bytes (train mode)
        self.peak_with_workspace = 0
        self.stack: list[ModuleRecord] = []
        self.fields: WeakIdKeyDictionary = WeakIdKeyDictionary()
        self.flops = 0
        self.ops = 0
        # memory booking, by storage
        self.static = static_storages
        self.refs: dict[int, int] = {}  # storage -> live tensors seen by the tracer
        self.bytes: dict[int, int] = {}
        self.seen: WeakIdKeyDictionary = WeakIdKeyDictionary()
        self.live = 0
        self.peak = 0
        self.total = 0

    # -- memory ----------------------------------------------------------------------------
    def _book(self, t: Tensor) -> None:
        if t in self.seen:
            return
        self.seen[t] = True
        key = storage_key(t)
        if key in self.static:
            return
        if key not in self.refs:
            nbytes = t.untyped_storage().nbytes()
            self.refs[key], self.bytes[key] = 0, nbytes
            self.live += nbytes
            self.total += nbytes
            self.peak = max(self.peak, self.live)
        self.refs[key] += 1
        weakref.finalize(t, self._release, key)

    def _release(self, key: int) -> None:
        self.refs[key] -= 1
        if self.refs[key] == 0:
            self.live -= self.bytes.pop(key)
            del self.refs[key]

    def watch_input(self, x: Tensor) -> None:
        """The input is held by the caller for the whole pass: count it, but never as a map."""
        self.static.add(storage_key(x))
        self.fields[x] = Field((1.0, 1.0), (1.0, 1.0), _spatial(x) or (1, 1))

    # -- receptive field -------------------------------------------------------------------
    def _field_of_output(self, func: object, args: tuple, kwargs: dict, out: Tensor,
                         inputs: list[tuple[Tensor, Field]]) -> Field | None:
        if not inputs:
            return None
        x, f = inputs[0]
        packet = getattr(func, "_overloadpacket", None)
        out_size = _spatial(out)
        if f.is_global and out_size in (None, (1, 1)):  # e.g. an SE block's 1x1 convolutions
            return f
        if packet in (aten.convolution, aten._convolution) and out_size and x is args[0]:
            weight = args[1]
            kernel = (int(weight.shape[-2]), int(weight.shape[-1]))
            stride, dilation = _pair(args[3]), _pair(args[5])
            if args[6]:  # transposed: the output grid is finer by the stride
                return _window(f, kernel, (1 / stride[0], 1 / stride[1]), dilation, out_size)
            self._note_window("conv", kernel, stride, dilation)
            return _window(f, kernel, stride, dilation, out_size)
        if packet is _SPARSE_CONV and out_size:
            kernel = (int(args[1].shape[-2]), int(args[1].shape[-1]))
            stride = _pair(args[5])
            self._note_window("conv", kernel, stride, (1, 1))
            return _window(f, kernel, stride, (1, 1), out_size)
        if packet in (aten.max_pool2d_with_indices, aten.max_pool2d, aten.avg_pool2d) and out_size:
            kernel = _pair(args[1])
            stride = _pair(args[2] if len(args) > 2 else None, kernel)
            dilation = _pair(args[4] if packet is not aten.avg_pool2d and len(args) > 4 else 1)
            self._note_window("pool", kernel, stride, dilation)
            if out_size == (1, 1) and f.map_size != (1, 1) and all(k >= m for k, m in zip(kernel, f.map_size)):
                return f.collapse(kernel)
            return _window(f, kernel, stride, dilation, out_size)
        if packet in (aten._adaptive_avg_pool2d, aten.adaptive_max_pool2d) and out_size:
            (h, w), (oh, ow) = f.map_size, out_size
            if (oh, ow) == (1, 1):  # global pooling, written "7x7/1" as GoogLeNet's and SqueezeNet's tables do
                self._note_window("pool", (h, w), (1, 1), (1, 1))
                return f.collapse()
            kernel = (math.ceil(h / oh) + (h % oh != 0), math.ceil(w / ow) + (w % ow != 0))
            return _window(f, kernel, (h / oh, w / ow), (1, 1), out_size)
        if x.dim() == 4 and (out.dim() < 4 or out_size == (1, 1)) and f.map_size != (1, 1) and \
                packet in (aten.mean, aten.sum, aten.amax, aten.amin, aten.var_mean, aten.std_mean, aten.var):
            return f.collapse()
        if packet in (aten.mm, aten.addmm, aten.bmm, aten.baddbmm, aten.linear) and f.map_size != (1, 1):
            return f.collapse(pooled=False)  # a fully connected layer on a flattened map: kernel = the map
        if packet in (aten.upsample_nearest2d, aten.upsample_bilinear2d) and out_size:
            sh, sw = f.map_size[0] / out_size[0], f.map_size[1] / out_size[1]
            return Field(f.size, (f.jump[0] * sh, f.jump[1] * sw), out_size)
        # element-wise, concatenation, normalisation, views: the widest of the inputs. Inputs
        # broadcast from a 1x1 map onto a larger one (squeeze-and-excitation gates) are left
        # out, or every SE network would see "the whole image" from its first block.
        if out_size is not None:
            same = [p for p in inputs if p[1].map_size == out_size] or inputs
        else:
            same = inputs
        size = (max(p[1].size[0] for p in same), max(p[1].size[1] for p in same))
        jump = (max(p[1].jump[0] for p in same), max(p[1].jump[1] for p in same))
        if all(p[1].is_global for p in same):
            return Field(size, jump, (1, 1), True, same[0][1].before)
        if out_size is None and x.dim() == 4:  # flattened (N, C*H*W): remember the map it came from
            return Field(size, jump, f.map_size)
        return Field(size, jump, out_size or f.map_size)

    def _note_window(self, kind: str, kernel: tuple[int, int], stride: tuple[float, float],
                     dilation: tuple[int, int]) -> None:
        for rec in self.stack:
            rec.windows.append((kind, kernel, tuple(int(s) for s in stride), dilation))  # type: ignore[arg-type]

    # -- dispatch --------------------------------------------------------------------------
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        if func in _METADATA_OPS:
            return func(*args, **kwargs)
        if func._overloadpacket not in flop_registry:
            with self:  # as FlopCounterMode: count the pieces of a decomposable operator
                r = func.decompose(*args, **kwargs)
            if r is not NotImplemented:
                return r
        out = func(*args, **kwargs)
        index = self.ops
        self.ops += 1
        packet = func._overloadpacket
        if packet in flop_registry:
            flops = int(flop_registry[packet](*args, **kwargs, out_val=out))
            self.flops += flops
            for rec in {id(r): r for r in self.stack}.values():
                rec.flops += flops
        in_tensors = [a for a in tree_flatten((args, kwargs))[0] if isinstance(a, Tensor)]
        inputs = [(t, self.fields[t]) for t in in_tensors if t in self.fields]
        outs = [o for o in tree_flatten(out)[0] if isinstance(o, Tensor)]
        for i, o in enumerate(outs):
            if i == 0 or o.dim() == outs[0].dim():
                fld = self._field_of_output(func, args, kwargs, o, inputs)
                if fld is not None:
                    self.fields[o] = fld
            self._book(o)
        copies = 0
        if self.conv_workspace and packet in _CONV_OPS and outs:
            # oneDNN (CPU) convolves re-laid-out copies: input + weights, then output + output
            copies = max(_nbytes(args[0]) + _nbytes(args[1]), _nbytes(outs[0]))
            self.peak_with_workspace = max(self.peak_with_workspace, self.live + copies)
        if outs and any(t.requires_grad for t in in_tensors):
            keys = [storage_key(t) for t in in_tensors]
            params = [k for k in keys if k in self.params]
            maps = [t for t, k in zip(in_tensors, keys, strict=True) if t.requires_grad and k not in self.params]
            # gradients in flight while this operator is differentiated: dL/d(output), dL/d(inputs)
            flight = sum(map(_nbytes, maps)) + _nbytes(outs[0]) + copies if maps else 0
            self.grad_ops.append((index, flight, params))
        self.peak_with_workspace = max(self.peak_with_workspace, self.peak)
        return out


def used_params(tr: Trace) -> int:
    """Parameters of the modules that ran in the traced pass (each counted once): in eval mode,
    a network without its training-only auxiliary classifiers."""
    params = {id(p): p.numel() for rec in tr.records.values() for p in rec.module.parameters(recurse=False)}
    return sum(params.values())


def _nbytes(t: Tensor) -> int:
    return t.numel() * t.element_size()


def _first_tensor(out: object) -> Tensor | None:
    if isinstance(out, Tensor):
        return out
    for o in tree_flatten(out)[0]:
        if isinstance(o, Tensor):
            return o
    return None


def _meta_state(model: nn.Module, dtype: torch.dtype, requires_grad: bool) -> dict[str, Tensor]:
    state: dict[str, Tensor] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        state[name] = torch.empty(p.shape, dtype=dtype if p.is_floating_point() else p.dtype,
                                  device="meta").requires_grad_(requires_grad and p.requires_grad)
    for name, b in model.named_buffers(remove_duplicate=False):
        state[name] = torch.empty(b.shape, dtype=dtype if b.is_floating_point() else b.dtype, device="meta")
    return state


def run_forward(model: nn.Module, x: Tensor) -> object:
    """forward_features then forward_head for a ZooModel in eval mode (so the feature map is
    seen), else forward (in training mode that includes auxiliary classifiers)."""
    if isinstance(model, ZooModel) and not model.training:
        feats = model.forward_features(x)
        return feats, model.forward_head(feats)
    return model(x)


def _pass_state(model: nn.Module, dtype: torch.dtype, train: bool,
                device: str | torch.device | None) -> tuple[dict[str, Tensor], torch.device, torch.dtype]:
    """(parameters and buffers to run with, device, dtype): meta stand-ins of `dtype` for a
    shape-only pass (empty state: the model's own tensors), else the model's device and dtype."""
    if device is not None and torch.device(device).type == "meta":
        return _meta_state(model, dtype, train), torch.device("meta"), dtype
    p = next(model.parameters(), None)
    run_device = p.device if p is not None else torch.device("cpu")
    return {}, run_device, (p.dtype if p is not None and p.is_floating_point() else dtype)


def _hook_modules(model: nn.Module, records: dict[str, ModuleRecord], tracer: _Tracer) -> list[Any]:
    """Forward hooks that fill `records` (one per module, in call order) and keep the tracer's
    module stack; returns the handles to remove."""
    names = {id(m): n for n, m in model.named_modules(remove_duplicate=False)}

    def pre_hook(mod: nn.Module, args: tuple) -> None:
        name = names[id(mod)]
        rec = records.get(name)
        if rec is None:
            rec = records[name] = ModuleRecord(name, mod, len(records))
            t = _first_tensor(args)
            rec.input_shape = tuple(t.shape) if t is not None else None
        rec.calls += 1
        tracer.stack.append(rec)

    def post_hook(mod: nn.Module, args: tuple, out: object) -> None:
        rec = tracer.stack.pop()
        if rec.calls == 1:
            t = _first_tensor(out)
            if t is not None:
                rec.output_shape = tuple(t.shape)
                rec.field = tracer.fields.get(t)

    handles = []
    for mod in {id(m): m for m in model.modules()}.values():
        handles.append(mod.register_forward_pre_hook(pre_hook))
        handles.append(mod.register_forward_hook(post_hook))
    return handles


@contextlib.contextmanager
def _model_kept(model: nn.Module, *, train: bool, real: bool) -> Iterator[None]:
    """The model in train/eval mode for the block, then as it was; a real training pass
    updates batch-norm statistics, so the model's own are put back."""
    was_training = model.training
    kept = {k: b.clone() for k, b in model.named_buffers()} if train and real else {}
    model.train(train)
    try:
        yield
    finally:
        model.train(was_training)
        with torch.no_grad():
            for k, b in model.named_buffers():
                if k in kept:
                    b.copy_(kept[k])


def _output_field(tracer: _Tracer, feats: Tensor | None, logits: object) -> Field | None:
    """The receptive field of the last feature map (or of the output, or of the map before the
    global pooling that made it global)."""
    if feats is not None and feats in tracer.fields:
        return tracer.fields[feats]
    field = tracer.fields.get(logits) if isinstance(logits, Tensor) else None
    while field is not None and field.is_global and field.before is not None:
        field = field.before
    return field


def trace(model: nn.Module, input_size: tuple[int, ...], *, batch: int = 1, dtype: torch.dtype = torch.float32,
          train: bool = False, device: str | torch.device | None = "meta", conv_workspace: bool = False) -> Trace:
    """Run one forward pass of `batch` zero images of `input_size` (C, H, W) and record it.

    `device="meta"`: shape-only (parameters replaced by meta tensors of `dtype`; the model is not
    changed). `device=None`: on the model's own device and dtype, with real tensors. `train`:
    training mode with autograd recording, and the bytes autograd saves for the backward pass
    are summed (`Trace.saved_bytes`); else eval mode under `torch.no_grad()`. `conv_workspace`:
    count the copies CPU convolutions make (see `memory.py`) in `peak_with_workspace`.
    """
    state, run_device, dtype = _pass_state(model, dtype, train, device)
    meta = run_device.type == "meta"
    tensors = list(state.values()) + list(model.parameters()) + list(model.buffers())
    static = {storage_key(t) for t in tensors}
    records: dict[str, ModuleRecord] = {}
    tracer = _Tracer(static, conv_workspace)
    tracer.params = {storage_key(t): _nbytes(t) for t in
                     (list(state.values()) if meta else list(model.parameters())) if t.requires_grad}
    saved: dict[int, tuple[int, int]] = {}  # storage -> (bytes, first op that saved it)

    def pack(t: Tensor) -> Tensor:
        key = storage_key(t)
        if key not in static:
            saved.setdefault(key, (t.untyped_storage().nbytes(), tracer.ops))
        return t

    handles = _hook_modules(model, records, tracer)
    # Batch norm cannot train on one image (a 1x1 map of one image has one value per channel):
    # a training pass of 1 image runs 2 and halves the maps it finds.
    run_batch = max(batch, 2) if train else batch
    x = torch.zeros(run_batch, *input_size, dtype=dtype, device=run_device)
    feats: Tensor | None = None
    try:
        with _model_kept(model, train=train, real=not meta), torch.set_grad_enabled(train), \
                torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), tracer:
            tracer.watch_input(x)
            static.add(storage_key(x))
            with reparametrized(model, state) if meta else contextlib.nullcontext():
                out = run_forward(model, x)
            if isinstance(model, ZooModel) and not train:
                feats, out = out  # type: ignore[misc]
            logits = split_outputs(out)[0]  # type: ignore[arg-type]
    finally:
        for h in handles:
            h.remove()
    return Trace(records=records, flops=tracer.flops, output_field=_output_field(tracer, feats, logits),
                 peak_live_bytes=tracer.peak, peak_with_workspace=tracer.peak_with_workspace,
                 all_maps_bytes=tracer.total, saved_bytes=sum(b for b, _ in saved.values()) * batch // run_batch,
                 backward_peak_bytes=_backward_sweep(tracer.grad_ops, tracer.params, list(saved.values()),
                                                     batch / run_batch),
                 device=str(run_device), ops=tracer.ops)


def _backward_sweep(grad_ops: list[tuple[int, int, list[int]]], params: dict[int, int],
                    saved: list[tuple[int, int]], scale: float = 1.0) -> int:
    """Largest memory of the backward pass above parameters, optimizer state and input.

    Walking the operators in reverse: when operator i is differentiated, the saved maps of
    operators <= i are still held (a map is freed with the earliest operator that saved it), the
    gradients of the parameters used by operators >= i exist, and the gradients of operator i's
    output and inputs are in flight (with, on CPU, oneDNN's copies at convolutions). `scale`
    multiplies the maps (saved and in flight), not the gradients of the parameters.
    """
    if not grad_ops:
        return 0
    last_use: dict[int, int] = {}
    for index, _, ps in grad_ops:
        for k in ps:
            last_use[k] = max(last_use.get(k, -1), index)
    events = sorted([(i, b * scale) for b, i in saved])
    grads = sorted([(i, params[k]) for k, i in last_use.items()], reverse=True)
    held = sum(b for _, b in events)
    grad_bytes = 0
    peak = held
    si, gi = len(events) - 1, 0
    for index, flight, _ in reversed(grad_ops):
        while gi < len(grads) and grads[gi][0] >= index:  # gradients of this operator's parameters
            grad_bytes += grads[gi][1]
            gi += 1
        peak = max(peak, held + grad_bytes + flight * scale)
        while si >= 0 and events[si][0] >= index:  # freed once the earliest saver is differentiated
            held -= events[si][1]
            si -= 1
    return int(peak)

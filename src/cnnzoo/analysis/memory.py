"""How much memory a network needs: seed 001's estimate, and a measurement to check it against.

Seed 001 ("Определение количества параметров сети. Оценка объема памяти") stores a network of N
convolution / activation / pooling triples as

    (w h + sum_i (2 k_i w_i h_i + k_i w'_i h'_i)) * sizeof(type)

the input plus every map each layer produces (the convolution's and the activation's k_i w_i h_i
each, the pooling's k_i w'_i h'_i), and notes that a batch multiplies the maps and that padding,
fully connected layers and multi-dimensional inputs change the sizes but not the procedure.
`estimate_memory` applies that procedure to any model, with the sizes taken from one shape-only
pass (`trace.py`, on the meta device), and splits it the way a framework spends memory:

- parameters: every parameter and buffer, x sizeof(dtype);
- `all_maps`: the seed's sum as written: the input and every map any layer creates, for the batch
  (what keeping every map would cost);
- inference: parameters + input + the largest set of maps that are alive at the same time.
  Rule: a map is alive from the operation that creates it until the program lets it go (the last
  reference dies: a residual block's input lives until the addition, DenseNet's features until
  the block's last concatenation, an in-place ReLU creates nothing); the shape-only pass follows
  the very same Python code, so the rule is exact for eager PyTorch. With `backend="cpu"` it adds,
  at each convolution, the copies oneDNN makes of it (it convolves re-laid-out copies of the input
  and weights into a blocked output, then copies the output back): max(input + weights, output);
- training (one step): the parts are parameters P, gradients G (1 x trainable parameters),
  optimizer state S (`OPTIMIZER_STATE` x trainable parameters: SGD 0, SGD with momentum 1,
  Adam 2; it persists from step to step), the input, and the maps autograd saves for the backward
  pass A (counted exactly, by a `saved_tensors_hooks` pass on the meta device: a convolution saves
  its input, batch norm its input, ReLU its output, max pooling its input and int64 indices,
  dropout its mask; a tensor saved by several is counted once). `training_sum` is the seed's
  "everything at once": P + G + S + input + A. They do not all coexist, and `training` says when
  they do: P + S + input + max(backward, G), where `backward` is the worst moment of a sweep over
  the operators in reverse — when operator i is differentiated, the saved maps of operators <= i
  are still held, the gradients of the parameters of operators >= i exist, and the gradients of
  operator i's output and inputs are in flight (with the oneDNN copies at a CPU convolution) —
  and G alone is the optimizer step, when every gradient exists and the saved maps are gone.

Known gaps: oneDNN's backward of a convolution on a map of 2x2 or less uses a weight-gradient
buffer of about 8 x the weights (tests keep maps >= 3x3); cuDNN's workspace and the CUDA
allocator's 512-byte rounding are not modelled (CUDA ratios 0.93-1.00 at 224x224, 0.67 for
LeNet-5's 1 MiB step).

`measure_memory` runs the model for real and reports the peak: the bytes of parameters, buffers,
input and optimizer state held before the pass, plus the largest amount allocated above that
during it: on CPU from the PyTorch profiler's allocation events (`profile_memory`), on CUDA from
`torch.cuda.max_memory_allocated` (so the cuBLAS workspaces that the warm-up pass left allocated,
which belong to no model, are not counted; cuDNN's per-call workspace is).
`benchmarks/memory_estimate.py` prints estimate / measured ratios.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..models.base import split_outputs
from .trace import Trace, trace

# Optimizer state, in parameter-sized tensors per trainable parameter.
OPTIMIZER_STATE: dict[str, int] = {
    "none": 0, "sgd": 0, "sgd-momentum": 1, "rmsprop": 1, "adagrad": 1, "adam": 2, "adamw": 2,
}


def optimizer_state_factor(optimizer: str | int) -> int:
    if isinstance(optimizer, int):
        if optimizer < 0:
            raise ValueError(f"optimizer state must be >= 0 parameter copies, got {optimizer}")
        return optimizer
    try:
        return OPTIMIZER_STATE[optimizer]
    except KeyError:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {', '.join(OPTIMIZER_STATE)} "
                         "or a number of parameter-sized state tensors") from None


def dtype_of(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    d = getattr(torch, str(dtype), None)
    if not isinstance(d, torch.dtype) or not d.is_floating_point:
        raise ValueError(f"unknown floating-point dtype {dtype!r}; e.g. float32, float16, bfloat16")
    return d


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes. `inference` and `training` are peaks; the other fields are their parts."""

    batch: int
    dtype: str
    optimizer: str
    backend: str
    param_bytes: int  # parameters and buffers
    trainable_bytes: int  # trainable parameters (gradients and optimizer state are this big)
    input_bytes: int
    all_maps_bytes: int  # seed 001's sum: every map the forward pass creates
    inference_maps_bytes: int  # largest set of maps alive together (with the CPU copies)
    workspace_bytes: int  # the part of inference_maps_bytes that is CPU convolution copies
    saved_bytes: int  # maps saved for the backward pass
    backward_bytes: int  # worst moment of the backward pass: saved maps + gradients + maps in flight
    grad_bytes: int
    optimizer_bytes: int

    @property
    def inference(self) -> int:
        return self.param_bytes + self.input_bytes + self.inference_maps_bytes

    @property
    def training(self) -> int:
        """Peak of one step: the backward pass's worst moment, or the optimizer step (all gradients)."""
        return self.param_bytes + self.optimizer_bytes + self.input_bytes + max(self.backward_bytes, self.grad_bytes)

    @property
    def training_sum(self) -> int:
        """Seed 001's sum for training: everything at once (parameters, gradients, state, saved maps)."""
        return self.param_bytes + self.grad_bytes + self.optimizer_bytes + self.input_bytes + self.saved_bytes

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "inference": self.inference, "training": self.training,
                "training_sum": self.training_sum}


def estimate_memory(model: nn.Module, input_size: tuple[int, int, int], *, batch: int = 1,
                    dtype: str | torch.dtype = torch.float32, optimizer: str | int = "sgd-momentum",
                    backend: str = "cpu") -> MemoryEstimate:
    """Seed 001's estimate for `batch` images of `input_size` (C, H, W) stored as `dtype`.

    Two shape-only passes on the meta device (the model is not run and not changed).
    `optimizer`: a name of `OPTIMIZER_STATE` or a number of parameter-sized state tensors.
    `backend`: "cpu" counts the copies oneDNN convolutions make; "cuda" or "none" does not
    (cuDNN's workspace depends on the algorithm it picks and is left out).
    """
    dt = dtype_of(dtype)
    _check_backend(backend)
    ws = backend == "cpu"
    infer = trace(model, input_size, batch=batch, dtype=dt, train=False, conv_workspace=ws)
    train = trace(model, input_size, batch=batch, dtype=dt, train=True, conv_workspace=ws)
    return estimate_memory_from_traces(model, input_size, batch, dt, optimizer, backend, infer, train)


def _check_backend(backend: str) -> None:
    if backend not in ("cpu", "cuda", "none"):
        raise ValueError(f"backend must be cpu, cuda or none, got {backend!r}")


def estimate_memory_from_traces(model: nn.Module, input_size: tuple[int, ...], batch: int, dtype: torch.dtype,
                                optimizer: str | int, backend: str, infer: Trace, train: Trace) -> MemoryEstimate:
    """The estimate from an inference pass and a training pass already traced (`summary` shares them)."""
    _check_backend(backend)
    factor = optimizer_state_factor(optimizer)
    size = torch.empty((), dtype=dtype).element_size()
    params = _unique(list(model.parameters()) + list(model.buffers()))
    param_bytes = sum(t.numel() * (size if t.is_floating_point() else t.element_size()) for t in params)
    trainable = sum(p.numel() for p in _unique(list(model.parameters())) if p.requires_grad) * size
    input_bytes = batch * _prod(tuple(input_size)) * size
    return MemoryEstimate(
        batch=batch, dtype=str(dtype).removeprefix("torch."), optimizer=str(optimizer), backend=backend,
        param_bytes=param_bytes, trainable_bytes=trainable, input_bytes=input_bytes,
        all_maps_bytes=input_bytes + infer.all_maps_bytes, inference_maps_bytes=infer.peak_with_workspace,
        workspace_bytes=infer.peak_with_workspace - infer.peak_live_bytes, saved_bytes=train.saved_bytes,
        backward_bytes=train.backward_peak_bytes, grad_bytes=trainable, optimizer_bytes=factor * trainable)


def _unique(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    return list({id(t): t for t in tensors}.values())


def _prod(xs: tuple[int, ...]) -> int:
    n = 1
    for x in xs:
        n *= int(x)
    return n


# ---------------------------------------------------------------------------------------------
# measurement
@dataclass(frozen=True)
class MeasuredMemory:
    """Peak bytes in use (parameters, buffers, input and optimizer state included)."""

    inference: int
    training: int
    device: str


def _cpu_peak(fn: Callable[[], object]) -> int:
    """Largest number of bytes allocated at one moment while `fn` runs, above what was allocated
    before: the running sum of the profiler's CPU allocation events (`profile_memory=True`)."""
    from .torch_internals import cpu_allocations
    events = cpu_allocations(fn)
    live = peak = 0
    for _, nbytes in sorted(events):
        live += nbytes
        peak = max(peak, live)
    return peak


def _held_bytes(tensors: list[torch.Tensor]) -> int:
    from .torch_internals import storage_key
    storages = {storage_key(t): t.untyped_storage().nbytes() for t in tensors}
    return sum(storages.values())


def make_optimizer(optimizer: str, params: list[nn.Parameter]) -> torch.optim.Optimizer | None:
    """The optimizer `OPTIMIZER_STATE` names, with no weight decay (it adds a transient copy)."""
    if optimizer == "none":
        return None
    if optimizer in ("sgd", "sgd-momentum"):
        return torch.optim.SGD(params, lr=1e-3, momentum=0.9 if optimizer == "sgd-momentum" else 0.0)
    return {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "rmsprop": torch.optim.RMSprop,
            "adagrad": torch.optim.Adagrad}[optimizer](params, lr=1e-3)


def measure_memory(model: nn.Module, input_size: tuple[int, int, int], *, batch: int = 8,
                   optimizer: str = "sgd-momentum", device: str | torch.device = "cpu",
                   dtype: str | torch.dtype = torch.float32) -> MeasuredMemory:
    """Peak memory of a real forward pass (eval, `no_grad`) and of one training step (forward,
    cross-entropy, backward, `optimizer.step()`), on a copy of `model`.

    The training step measured is the second one: the optimizer state made by the first is
    already there, as in every later step; gradients are set to None before it
    (`zero_grad(set_to_none=True)`), as the trainer does.
    """
    dev, dt = torch.device(device), dtype_of(dtype)
    optimizer_state_factor(optimizer)
    model = copy.deepcopy(model).to(device=dev, dtype=dt)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, *input_size, generator=gen).to(dev, dt)
    params = [p for p in model.parameters() if p.requires_grad]

    def held(*extra: torch.Tensor) -> int:
        return _held_bytes(list(model.parameters()) + list(model.buffers()) + list(extra))

    def forward() -> object:
        with torch.no_grad():
            return model(x)

    model.eval()
    out = split_outputs(forward())[0]
    target = torch.randint(0, out.shape[1], (batch,), generator=gen).to(dev)
    opt = make_optimizer(optimizer, params)

    def step() -> None:
        logits, aux, weight = split_outputs(model(x))
        loss = F.cross_entropy(logits, target)
        for a in aux:
            loss = loss + weight * F.cross_entropy(a, target)
        loss.backward()
        if opt is not None:
            opt.step()

    model.train()
    step()  # the first step creates the optimizer state
    model.zero_grad(set_to_none=True)
    model.eval()
    peak = (lambda fn: _cuda_peak(fn, dev)) if dev.type == "cuda" else _cpu_peak
    inference = held(x) + peak(forward)
    model.train()
    state = [t for s in (opt.state.values() if opt is not None else []) for t in s.values()
             if isinstance(t, torch.Tensor)]
    training = held(x, target, *state) + peak(step)
    return MeasuredMemory(inference, training, str(dev))


def _cuda_peak(fn: Callable[[], object], device: torch.device) -> int:
    """`torch.cuda.max_memory_allocated` while `fn` runs, above what was allocated before (which
    includes the cuBLAS workspaces the warm-up pass left in the caching allocator)."""
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    fn()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - before

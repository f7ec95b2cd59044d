"""Counting parameters and mult-adds, one mechanism for every model.

Mult-adds come from PyTorch's dispatch-level counter (`torch.utils.flop_counter`), run on the
meta device so that even EfficientNet-B7 at 600x600 is counted in milliseconds without memory.
Unit: one multiply-add = one operation, as the papers and torchvision's `_ops` count
(FLOPs = 2 x mult-adds). Counted: convolutions, linear layers, matrix products and the
operators that register a formula (cnnzoo's sparse convolution does). Not counted: pooling,
activations, normalisation, element-wise additions.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import FlopCounterMode


class _SkipInPlace(TorchFunctionMode):
    """Skips in-place tensor methods (`uniform_`, `normal_`, `zero_`, ...): on the meta device
    they only initialise values that do not exist, and PyTorch runs them through slow Python
    reference implementations (most of the time of building a network on meta)."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        name = getattr(func, "__name__", "")
        if name.endswith("_") and not name.startswith("_") and args and isinstance(args[0], torch.Tensor) \
                and args[0].is_meta:
            return args[0]
        return func(*args, **(kwargs or {}))


# Operators the FLOP counter does not count and whose output has the broadcast shape of their
# tensor inputs: element-wise arithmetic, activations, normalisation, dropout. On the meta device
# the counter would run them through Python decompositions (80% of the time of counting a
# BN-heavy network); their shape is all it needs.
_ELEMENTWISE = frozenset("""
    add sub mul div true_divide addcmul addcdiv neg abs exp log sqrt rsqrt clamp clamp_min
    relu relu6 leaky_relu elu selu celu gelu silu mish hardtanh hardswish hardsigmoid sigmoid tanh
    softmax log_softmax dropout dropout2d dropout3d alpha_dropout feature_alpha_dropout
    batch_norm layer_norm group_norm instance_norm local_response_norm
    __add__ __radd__ __sub__ __rsub__ __mul__ __rmul__ __truediv__ __rtruediv__ __neg__
""".split())


class _ShapeOnly(TorchFunctionMode):
    """On meta tensors, uncounted element-wise operators return an empty tensor of the result's
    shape straight away (in-place ones return their input)."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        base = name[2:-2].lstrip("i") if name.startswith("__i") and name.endswith("__") else name.rstrip("_")
        if base in _ELEMENTWISE or name in _ELEMENTWISE:
            tensors = [a for a in args if isinstance(a, torch.Tensor)]
            if tensors and all(t.is_meta for t in tensors):
                if name.endswith("_") or name.startswith("__i") or kwargs.get("inplace"):
                    return tensors[0]
                if base in ("batch_norm", "layer_norm", "group_norm", "instance_norm", "local_response_norm") \
                        or base.startswith(("dropout", "alpha", "feature")):
                    return torch.empty_like(tensors[0])  # weights, running statistics: not broadcast
                shape = torch.broadcast_shapes(*(t.shape for t in tensors))
                return tensors[0].new_empty(shape)
        return func(*args, **kwargs)


def build_on_meta(name: str, **overrides: object) -> nn.Module:
    """The registered model `name` on the meta device: shapes only, no memory, no initialisation."""
    from ..models import create_model
    with torch.device("meta"), _SkipInPlace():
        return create_model(name, **overrides)


def count_params(model: nn.Module, *, trainable_only: bool = False, include_aux: bool = True) -> int:
    """Number of parameters (each shared parameter counted once). `include_aux=False` leaves out
    the training-only auxiliary classifiers (modules with `is_aux_head = True`: GoogLeNet's,
    Inception v3's): the network used at inference, the figure most papers quote."""
    aux = set()
    if not include_aux:
        aux = {id(p) for m in model.modules() if getattr(m, "is_aux_head", False) for p in m.parameters()}
    return sum(p.numel() for p in model.parameters() if (p.requires_grad or not trainable_only) and id(p) not in aux)


def count_mult_adds(model: nn.Module, input_size: tuple[int, int, int], *, batch: int = 1) -> int:
    """Mult-adds of one forward pass of `batch` images of `input_size` (C, H, W), in eval mode.

    The model is run on whatever device it is on; a model built under `torch.device("meta")`
    is counted without computing anything.
    """
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = torch.zeros(batch, *input_size, device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            if device.type == "meta":
                with _ShapeOnly():
                    model(x)
            else:
                model(x)
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2

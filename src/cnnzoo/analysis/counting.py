"""Counting parameters and mult-adds, one mechanism for every model.

Mult-adds come from PyTorch's dispatch-level counter (`torch.utils.flop_counter`), run on the
meta device so that even EfficientNet-B7 at 600x600 is counted in milliseconds without memory.
Unit: one multiply-add = one operation, as the papers and torchvision's `_ops` count
(FLOPs = 2 x mult-adds). Counted: convolutions, linear layers, matrix products and the
operators that register a formula (cnnzoo's sparse convolution does). Not counted: pooling,
activations, normalisation, element-wise additions.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters (each shared parameter counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


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
            model(x)
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2

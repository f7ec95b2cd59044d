"""Convolution with a connection table: output map j sees only the input maps the table marks.

LeNet-5's C3 (LeCun et al. 1998, Table I) is the classic case: 16 maps, each built from 3, 4
or 6 of S2's 6 maps, "to break the symmetry in the network" and to keep the number of
connections down (1,516 parameters and 151,600 connections instead of 2,416 and 241,600).

Implementation: the layer stores one kernel per marked connection (so its parameter count is
the paper's), scatters them into a dense (out, in, k, k) weight and runs one dense
convolution, which is much faster on CPU than per-group convolutions. The whole thing is the
custom operator `cnnzoo::sparse_conv2d` so that PyTorch's dispatch-level FLOP counter sees
one operator and counts only the marked connections (a flop formula is registered below).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.flop_counter import register_flop_formula


def _dense_weight(weight: Tensor, index: Tensor, out_channels: int, in_channels: int) -> Tensor:
    # weight: (nnz, kh, kw), one kernel per connection; index: (nnz,) flat o * in + i
    kh, kw = weight.shape[1:]
    dense = weight.new_zeros(out_channels * in_channels, kh, kw).index_copy_(0, index, weight)
    return dense.view(out_channels, in_channels, kh, kw)


@torch.library.custom_op("cnnzoo::sparse_conv2d", mutates_args=())
def sparse_conv2d(x: Tensor, weight: Tensor, bias: Tensor, index: Tensor, in_channels: int,
                  stride: int, padding: int) -> Tensor:
    """(N, in, H, W) -> (N, out, H', W') using only the connections listed in `index`."""
    out_channels = bias.shape[0]
    dense = _dense_weight(weight.to(x.dtype), index, out_channels, in_channels)
    return F.conv2d(x, dense, bias.to(x.dtype), stride=stride, padding=padding)


@sparse_conv2d.register_fake
def _(x: Tensor, weight: Tensor, bias: Tensor, index: Tensor, in_channels: int,
      stride: int, padding: int) -> Tensor:
    n, _, h, w = x.shape
    kh, kw = weight.shape[1:]
    ho, wo = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    return x.new_empty(n, bias.shape[0], ho, wo)


def _setup_context(ctx, inputs: tuple, output: Tensor) -> None:
    x, weight, bias, index, in_channels, stride, padding = inputs
    ctx.save_for_backward(x, weight, index)
    ctx.in_channels, ctx.stride, ctx.padding, ctx.out_channels = in_channels, stride, padding, bias.shape[0]
    ctx.bias_dtype = bias.dtype


def _backward(ctx, grad: Tensor) -> tuple:
    x, weight, index = ctx.saved_tensors
    dense = _dense_weight(weight.to(x.dtype), index, ctx.out_channels, ctx.in_channels)
    need_x, need_w, need_b = ctx.needs_input_grad[:3]
    gx, gw, gb = torch.ops.aten.convolution_backward(
        grad, x, dense, [ctx.out_channels], [ctx.stride] * 2, [ctx.padding] * 2, [1, 1],
        False, [0, 0], 1, [need_x, need_w, need_b])
    if gw is not None:
        kh, kw = weight.shape[1:]
        gw = gw.reshape(-1, kh, kw).index_select(0, index).to(weight.dtype)
    if gb is not None:
        gb = gb.to(ctx.bias_dtype)
    return gx, gw, gb, None, None, None, None


sparse_conv2d.register_autograd(_backward, setup_context=_setup_context)


@register_flop_formula(torch.ops.cnnzoo.sparse_conv2d)
def _sparse_conv_flop(x_shape, w_shape, b_shape, i_shape, in_channels, stride, padding, *, out_shape, **_) -> int:
    # 2 FLOPs (one multiply-add) per marked connection per output pixel, as torch's conv_flop.
    kh, kw = w_shape[1:]
    n, _, ho, wo = out_shape
    return 2 * n * ho * wo * w_shape[0] * kh * kw


class SparseConv2d(nn.Module):
    """A convolution whose output map j sees input map i only where `table[i][j]` is True.

    `table` is given as the paper prints it: one row per input map, one column per output map.
    """

    def __init__(self, table: Sequence[Sequence[bool]], kernel_size: int, *, stride: int = 1,
                 padding: int = 0) -> None:
        super().__init__()
        in_channels, out_channels = len(table), len(table[0])
        if any(len(row) != out_channels for row in table):
            raise ValueError("connection table rows must all have one entry per output map")
        pairs = [(o, i) for o in range(out_channels) for i in range(in_channels) if table[i][o]]
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.register_buffer("index", torch.tensor([o * in_channels + i for o, i in pairs]), persistent=False)
        self.weight = nn.Parameter(torch.empty(len(pairs), kernel_size, kernel_size))  # (nnz, k, k)
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # As nn.Conv2d: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), with each map's own fan-in.
        fan_in = torch.zeros(self.out_channels).index_add_(
            0, self.index // self.in_channels, torch.ones(len(self.index))) * self.kernel_size ** 2
        bound = fan_in.rsqrt()
        with torch.no_grad():
            per_conn = bound[self.index // self.in_channels].view(-1, 1, 1)
            self.weight.uniform_(-1, 1).mul_(per_conn)
            self.bias.uniform_(-1, 1).mul_(bound)

    @property
    def connections(self) -> Tensor:
        """(in, out) bool: the connection table as given."""
        table = torch.zeros(self.out_channels * self.in_channels, dtype=torch.bool)
        table[self.index] = True
        return table.view(self.out_channels, self.in_channels).t()

    def dense_weight(self) -> Tensor:
        """(out, in, k, k): the kernels with zeros where the table has no connection."""
        return _dense_weight(self.weight, self.index, self.out_channels, self.in_channels)

    def forward(self, x: Tensor) -> Tensor:  # (N, in, H, W) -> (N, out, H', W')
        if torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export():
            return F.conv2d(x, self.dense_weight(), self.bias, stride=self.stride, padding=self.padding)
        return sparse_conv2d(x, self.weight, self.bias, self.index, self.in_channels, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"connections={len(self.index)}/{self.in_channels * self.out_channels}")

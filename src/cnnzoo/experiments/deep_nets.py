"""The deep toy networks of `cnnzoo experiment gradflow` and their per-layer measurements."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


class DeepConvNet(nn.Module):
    """stem conv -> `depth` conv layers (3x3, `width` channels) -> global average pool -> fc."""

    def __init__(self, *, depth: int, width: int, activation: str, bn: bool, skip: bool, in_chans: int = 1,
                 num_classes: int = 10) -> None:
        super().__init__()
        self.skip = skip
        self.stem = nn.Conv2d(in_chans, width, 3, padding=1)  # (N, w, H, W)
        self.convs = nn.ModuleList(nn.Conv2d(width, width, 3, padding=1, bias=not bn) for _ in range(depth))
        self.norms = nn.ModuleList((nn.BatchNorm2d(width) if bn else nn.Identity()) for _ in range(depth))
        self.act = ACTIVATIONS[activation]()
        self.fc = nn.Linear(width, num_classes)
        self.responses: list[Tensor] = []  # filled by forward when `record` is set
        self.record = False

    def _layer(self, i: int, x: Tensor) -> Tensor:
        r = self.norms[i](self.convs[i](x))  # (N, w, H, W): the response, after BN, before act
        if self.record:
            self.responses.append(r.detach())
        return self.act(r)

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, classes)
        self.responses = []
        x = self.act(self.stem(x))
        i = 0
        while i < len(self.convs):
            if self.skip and i + 1 < len(self.convs):
                x = x + self._layer(i + 1, self._layer(i, x))
                i += 2
            else:
                x = self._layer(i, x)
                i += 1
        return self.fc(x.mean((2, 3)))


def layer_statistics(model: DeepConvNet, x: Tensor, y: Tensor) -> list[dict[str, float]]:
    """Per conv layer (forward order): ||dL/dW|| of its weight and the std of its response,
    on the batch (x, y) in the model's current mode; the gradients are left in `.grad`."""
    model.zero_grad(set_to_none=True)
    model.record = True
    try:
        loss = F.cross_entropy(model(x), y)
    finally:
        model.record = False
    loss.backward()
    return [{"layer": i + 1, "grad_norm": float(conv.weight.grad.norm()), "response_std": float(r.std())}
            for i, (conv, r) in enumerate(zip(model.convs, model.responses, strict=True))]

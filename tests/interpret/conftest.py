"""A tiny network trained (in seconds) on images whose class is where a bright square is."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F

from torch import nn

from cnnzoo.models.base import FeatureInfo, ZooModel, global_pool

SIZE, SIDE, CLASSES = 32, 8, 4
# the square of class k lies in quadrant k (top-left, top-right, bottom-left, bottom-right),
# anywhere inside it: its top-left corner is the quadrant's corner + 0..8 pixels per axis
QUADRANTS = ((0, 0), (0, 16), (16, 0), (16, 16))


class CoordNet(ZooModel):
    """A tiny classifier whose first layer also sees each pixel's coordinates (CoordConv, Liu et
    al. 2018), so that "a bright square in the top-left quadrant" is evidence found at the square
    itself rather than at the image border (which a plain network with global pooling would need
    to tell positions apart). Maps: (N, 16, 32, 32) -> (N, 32, 16, 16) -> (N, 32, 16, 16)."""

    classifier_path = "fc"

    def __init__(self, *, num_classes: int = CLASSES, in_chans: int = 1) -> None:
        super().__init__()
        self.num_classes, self.in_chans, self.num_features, self.head_hidden_size = num_classes, in_chans, 32, 32

        def block(cin: int, cout: int, stride: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                                 nn.ReLU(inplace=True))

        self.conv1, self.conv2, self.conv3 = block(in_chans + 2, 16, 1), block(16, 32, 2), block(32, 32, 1)
        self.fc = nn.Linear(32, num_classes)
        self.feature_info = (FeatureInfo("conv1", 16, 1), FeatureInfo("conv2", 32, 2), FeatureInfo("conv3", 32, 2))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        ys = torch.linspace(-1, 1, h, device=x.device).view(1, 1, h, 1).expand(n, 1, h, w)
        xs = torch.linspace(-1, 1, w, device=x.device).view(1, 1, 1, w).expand(n, 1, h, w)
        return self.conv3(self.conv2(self.conv1(torch.cat([x, ys, xs], 1))))

    def forward_head(self, x: torch.Tensor, *, pre_logits: bool = False) -> torch.Tensor:
        x = global_pool(x)
        return x if pre_logits else self.fc(x)


@dataclass(frozen=True)
class Squares:
    images: torch.Tensor  # (N, 1, 32, 32) in [0, 1]
    labels: torch.Tensor  # (N,)
    boxes: torch.Tensor  # (N, 4) top, left, bottom, right (exclusive) of the square

    def inputs(self) -> torch.Tensor:  # normalised as the spec says
        return (self.images - 0.5) / 0.5


def make_squares(n: int, seed: int) -> Squares:
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, SIZE, SIZE, generator=g) * 0.35  # dim noise
    labels = torch.arange(n) % CLASSES
    shift = torch.randint(0, 16 - SIDE + 1, (n, 2), generator=g)
    boxes = torch.zeros(n, 4, dtype=torch.long)
    for i in range(n):
        top = QUADRANTS[int(labels[i])][0] + int(shift[i, 0])
        left = QUADRANTS[int(labels[i])][1] + int(shift[i, 1])
        images[i, :, top:top + SIDE, left:left + SIDE] = 0.8 + 0.2 * torch.rand(1, SIDE, SIDE, generator=g)
        boxes[i] = torch.tensor([top, left, top + SIDE, left + SIDE])
    return Squares(images, labels, boxes)


@pytest.fixture(scope="session")
def squares_net() -> tuple[ZooModel, Squares]:
    """(trained network in eval mode, held-out images); trained to > 95% held-out accuracy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny network: one thread is as fast, and robust to a busy machine
    try:
        torch.manual_seed(0)
        model = CoordNet()
        train = make_squares(400, seed=1)
        x, y = train.inputs(), train.labels
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        g = torch.Generator().manual_seed(0)
        for _ in range(70):
            idx = torch.randint(0, len(x), (64,), generator=g)
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    model.eval().zero_grad(set_to_none=True)
    held_out = make_squares(120, seed=2)
    with torch.no_grad():
        accuracy = (model(held_out.inputs()).argmax(1) == held_out.labels).float().mean().item()
    assert accuracy > 0.95, f"the squares network did not learn (held-out accuracy {accuracy:.3f})"
    return model, held_out

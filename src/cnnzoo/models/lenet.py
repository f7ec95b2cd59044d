"""LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998), as seed 000 §3.1 and seed 003 describe it.

    layer  kind                      maps  size    kernel  parameters
    input                              1   32x32
    C1     convolution                 6   28x28   5x5     156
    S2     subsampling                 6   14x14   2x2/2   12
    C3     convolution, Table I       16   10x10   5x5     1,516
    S4     subsampling                16   5x5     2x2/2   32
    C5     convolution               120   1x1     5x5     48,120
    F6     full                       84                   10,164
    output full                       10                   850     (paper: 84x10 RBF units)
"""

from __future__ import annotations

from functools import partial
from typing import Literal

from torch import Tensor, nn

from ..layers.activations import ScaledTanh
from ..layers.sparse_conv import SparseConv2d
from ..layers.subsampling import Subsampling
from ..registry import register_model
from .base import FeatureInfo, ZooModel, global_pool
from .card import ModelCard, Paper

PAPER = Paper("Gradient-Based Learning Applied to Document Recognition",
              "Y. LeCun, L. Bottou, Y. Bengio, P. Haffner", 1998)

# LeCun et al. 1998, Table I: which S2 maps (rows) each C3 map (columns) is built from.
# Columns 0-5 take 3 contiguous maps, 6-11 four contiguous, 12-14 four non-contiguous, 15 all.
# Seed 000 Fig. 1 prints the same table, but its text extraction shifted rows 3-5 one column
# to the right (that version has 1,466 parameters, not the paper's 1,516); rows 0-2 agree.
C3_TABLE = (
    "X...XXX..XXXX.XX",
    "XX...XXX..XXXX.X",
    "XXX...XXX..X.XXX",
    ".XXX..XXXX..X.XX",
    "..XXX..XXXX.XX.X",
    "...XXX..XXXX.XXX",
)

Activation = Literal["scaled_tanh", "relu"]
Pooling = Literal["subsampling", "max", "avg"]


class LeNet5(ZooModel):
    """LeNet-5: two convolution/subsampling pairs, C5, F6 and the output layer.

    Faithful to the paper in: the 32x32 single-channel input; C1 6@5x5; S2 trainable
    subsampling (2x2 average x coefficient + bias); C3 16@5x5 with the partial connection
    table (1,516 parameters); S4; C5 120@5x5; F6 84; the squashing function
    1.7159 tanh(2/3 a) after every layer up to F6.

    Deviations from the paper:
    - the output layer is a linear layer with softmax cross-entropy (850 parameters), not the
      paper's 84x10 Euclidean RBF units with fixed +-1 codes and its MAP criterion;
    - S2/S4 average the 2x2 inputs where the paper sums them (a factor 4 in the coefficient);
    - inputs larger than 32x32 work: C5's maps are averaged (global average pooling), which is
      the identity at 32x32;
    - initialisation is PyTorch's default, not the paper's U(-2.4/F_in, 2.4/F_in).

    `lenet5_modern` swaps in ReLU, 2x2 max-pooling and a full C3 (2,416 parameters).
    """

    classifier_path = "output"

    def __init__(self, *, num_classes: int = 10, in_chans: int = 1, activation: Activation = "scaled_tanh",
                 pooling: Pooling = "subsampling", sparse_c3: bool = True) -> None:
        super().__init__()
        self.num_classes, self.in_chans = num_classes, in_chans
        self.num_features, self.head_hidden_size = 120, 84

        def act() -> nn.Module:
            return ScaledTanh() if activation == "scaled_tanh" else nn.ReLU(inplace=True)

        def pool(channels: int) -> nn.Module:
            if pooling == "subsampling":
                return nn.Sequential(Subsampling(channels), act())
            return nn.MaxPool2d(2) if pooling == "max" else nn.AvgPool2d(2)

        table = [[c == "X" for c in row] for row in C3_TABLE]
        self.c1 = nn.Sequential(nn.Conv2d(in_chans, 6, 5), act())  # (N, 6, 28, 28)
        self.s2 = pool(6)  # (N, 6, 14, 14)
        self.c3 = nn.Sequential(SparseConv2d(table, 5) if sparse_c3 else nn.Conv2d(6, 16, 5), act())  # (N, 16, 10, 10)
        self.s4 = pool(16)  # (N, 16, 5, 5)
        self.c5 = nn.Sequential(nn.Conv2d(16, 120, 5), act())  # (N, 120, 1, 1)
        self.f6 = nn.Sequential(nn.Linear(120, 84), act())  # (N, 84)
        self.output = nn.Linear(84, num_classes)  # (N, num_classes)
        self.feature_info = (FeatureInfo("c1", 6, 1), FeatureInfo("s2", 6, 2), FeatureInfo("c3", 16, 2),
                             FeatureInfo("s4", 16, 4), FeatureInfo("c5", 120, 4))

    def forward_features(self, x: Tensor) -> Tensor:  # (N, C, 32, 32) -> (N, 120, 1, 1)
        return self.c5(self.s4(self.c3(self.s2(self.c1(x)))))

    def forward_head(self, x: Tensor, *, pre_logits: bool = False) -> Tensor:
        x = self.f6(global_pool(x))  # (N, 84)
        return x if pre_logits else self.output(x)


_CARD = dict(paper=PAPER, input_size=(1, 32, 32), mean=(0.5,), std=(0.5,), num_classes=10)

register_model("lenet5", LeNet5, ModelCard(
    **_CARD, params=60_000,
    notes="the 1998 paper's network: scaled tanh, trainable subsampling, C3 connection table "
          "(published: 60,000 parameters up to F6, 0.8% MNIST test error with distortions)"))
register_model("lenet5_modern", partial(LeNet5, activation="relu", pooling="max", sparse_c3=False), ModelCard(
    **_CARD, notes="LeNet-5 as usually written today: ReLU, max-pooling, full C3"))


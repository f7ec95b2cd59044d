"""BN-Inception, "Inception v2" (Ioffe & Szegedy 2015, "Batch Normalization: Accelerating Deep
Network Training by Reducing Internal Covariate Shift", §4.2 and the Appendix's Figure 5).

GoogLeNet with batch-norm before every ReLU, each 5x5 convolution replaced by two 3x3
convolutions ("double #3x3"), three 28x28 modules, average or max pooling per module, no
pooling layers between the stages: modules (3c) and (4e) halve the map themselves (stride-2
3x3 convolutions and a 3x3/2 max pool that passes its input through, concatenated).

Figure 5 disagrees with itself in two places, and §4.2 with Figure 5 in one:
- the output column prints 576 channels for (4c) and (4d) and 1024 for (4e), but their own
  branch columns add up to 160+160+160+128 = 608 (4c), 96+192+192+128 = 608 (4d) and
  192+256+608 = 1056 (4e). The network is built from the branch columns (as the Caffe
  replication behind the widely used BN-Inception weights is), so (4d), (4e) and (5a) see 608,
  608 and 1056 channels;
- (3c) and (4e) print their input's size (28x28, 14x14) as output size; they stride by 2;
- §4.2 says the network has 13.6·10^6 parameters; Figure 5 with a 1000-way classifier gives
  11,278,528 (`bn_inception`'s count, tested). The paper does not say what the other 2.3M are.
The paper gives no mult-add total. Its Appendix says that replacing the 5x5 convolutions by two
3x3 ones increases the computational cost by about 30%; Figure 5 as a whole costs 30.0% more
than Table 1's GoogLeNet: 1.949e9 against 1.499e9 mult-adds, both with the separable first
layer (tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import nn

from ..layers.conv import ConvNormAct
from ..layers.inception_v1_modules import Inception, SeparableStem
from ..registry import register_model
from .base import he_init
from .card import ModelCard, Paper
from .googlenet import TableRow
from .inception_base import InceptionNet, Layer

PAPER = Paper("Batch Normalization: Accelerating Deep Network Training by Reducing Internal Covariate Shift",
              "S. Ioffe, C. Szegedy", 2015, "1502.03167")


@dataclass(frozen=True)
class Row(TableRow):
    """One row of Figure 5; `modules` are the module names that make it."""

    double_3x3_reduce: int = 0  # "double #3x3 reduce"
    double_3x3: int = 0  # "double #3x3"
    pool_proj: str = ""  # "Pool +proj": "avg + 32", "max + pass through"
    modules: tuple[str, ...] = ()

    @property
    def pool(self) -> Literal["max", "avg"]:
        return "max" if self.pool_proj.startswith("max") else "avg"

    @property
    def proj(self) -> int:  # 0: pass-through
        count = self.pool_proj.partition("+")[2].strip()
        return int(count) if count.isdigit() else 0


def _inception(name: str, stride: str, out: tuple[int, int, int], n1x1: int, r3: int, n3: int, dr: int, d3: int,
               pool_proj: str) -> Row:
    return Row(f"inception ({name})", stride, out, 3, n1x1, r3, n3, dr, d3, pool_proj, (f"inception{name}",))


# Ioffe & Szegedy 2015, Appendix, Figure 5: "Inception architecture".
#                                            output          #1x1 #3x3r #3x3 dbl-r dbl  Pool +proj
FIGURE_5: tuple[Row, ...] = (
    Row("convolution*", "7x7/2", (112, 112, 64), 1, modules=("conv1",)),  # *: separable, depth multiplier 8
    Row("max pool", "3x3/2", (56, 56, 64), 0, modules=("maxpool1",)),
    Row("convolution", "3x3/1", (56, 56, 192), 1, n3x3_reduce=64, n3x3=192, modules=("conv2", "conv3")),
    Row("max pool", "3x3/2", (28, 28, 192), 0, modules=("maxpool2",)),
    _inception("3a", "", (28, 28, 256), 64, 64, 64, 64, 96, "avg + 32"),
    _inception("3b", "", (28, 28, 320), 64, 64, 96, 64, 96, "avg + 64"),
    _inception("3c", "stride 2", (28, 28, 576), 0, 128, 160, 64, 96, "max + pass through"),
    _inception("4a", "", (14, 14, 576), 224, 64, 96, 96, 128, "avg + 128"),
    _inception("4b", "", (14, 14, 576), 192, 96, 128, 96, 128, "avg + 128"),
    _inception("4c", "", (14, 14, 576), 160, 128, 160, 128, 160, "avg + 128"),
    _inception("4d", "", (14, 14, 576), 96, 128, 192, 160, 192, "avg + 128"),
    _inception("4e", "stride 2", (14, 14, 1024), 0, 128, 192, 192, 256, "max + pass through"),
    _inception("5a", "", (7, 7, 1024), 352, 192, 320, 160, 224, "avg + 128"),
    _inception("5b", "", (7, 7, 1024), 352, 192, 320, 192, 224, "max + 128"),
    Row("avg pool", "7x7/1", (1, 1, 1024), 0),  # global average pooling; then the softmax layer (§4.2)
)


def figure_5_layers(in_chans: int, *, separable_stem: bool, se_reduction: int | None) -> list[Layer]:
    """Figure 5's rows as named layers."""
    layers: list[Layer] = []
    chs = in_chans
    for row in FIGURE_5:
        if row.type.startswith("convolution"):
            k = row.kernel
            if row.n3x3_reduce:  # the row's "#3x3 reduce": a 1x1 convolution before the 3x3
                layers.append((row.modules[0], ConvNormAct(chs, row.n3x3_reduce, 1), row.n3x3_reduce, 1))
                chs = row.n3x3_reduce
            out = row.output_size[2]
            conv = (SeparableStem(chs, out, k, stride=row.stride) if row.type.endswith("*") and separable_stem
                    else ConvNormAct(chs, out, k, stride=row.stride))
            layers.append((row.modules[-1], conv, out, row.stride))
            chs = out
        elif row.type == "max pool":
            layers.append((row.modules[0], nn.MaxPool2d(3, row.stride, ceil_mode=True), chs, row.stride))
        elif row.type.startswith("inception"):
            block = Inception(chs, row.n1x1, row.n3x3_reduce, row.n3x3, row.double_3x3_reduce, row.double_3x3,
                              row.proj, wide_kernels=(3, 3), pool=row.pool, stride=row.stride, norm=True,
                              se_reduction=se_reduction)
            layers.append((row.modules[0], block, block.out_chs, row.stride))
            chs = block.out_chs
    return layers


class BNInception(InceptionNet):
    """BN-Inception (Figure 5): batch-norm after every convolution, before its ReLU.

    The first layer is a depthwise-separable 7x7/2 convolution with depth multiplier 8 (the
    Appendix: "Our model employed separable convolution with depth multiplier 8 on the first
    convolutional layer"); `separable_stem=False` makes it a full 7x7 convolution (as the Caffe
    replication has). The classifier is a linear layer on the globally pooled 1024 channels,
    without dropout (§4.2.1: "Remove Dropout"; `drop_rate` adds it back). No LRN (§4.2.1).

    Deviations from the paper:
    - widths follow Figure 5's branch columns, not its output column (see the module
      docstring: 608 channels after (4c) and (4d), 1056 after (4e));
    - the paper gives no padding: stem max pools round up (`ceil_mode`, 112 -> 56 -> 28 as
      Figure 5), the stride-2 modules pad their 3x3 convolutions and 3x3/2 pool by 1, so that
      the three branches agree at any input size; in-module pools are 3x3/1 padded by 1
      (average pools count the padding);
    - no auxiliary classifiers (Figure 5 shows none);
    - "avg pool 7x7/1" is global average pooling (the same at 224x224);
    - initialisation (the paper gives none): He-normal (fan-out) convolutions, BN weight 1 and
      bias 0; batch-norm eps 1e-5.
    """

    def __init__(self, *, num_classes: int = 1000, in_chans: int = 3, separable_stem: bool = True,
                 drop_rate: float = 0.0, se_reduction: int | None = None) -> None:
        super().__init__(layers=figure_5_layers(in_chans, separable_stem=separable_stem, se_reduction=se_reduction),
                         num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate)  # (N, 1024, H/32, W/32)
        he_init(self)


register_model("bn_inception", BNInception, ModelCard(
    paper=PAPER, min_size=7, params=13_600_000, top1_err=25.2, top5_err=7.82,
    notes="Inception v2 of the BN paper (Figure 5): double 3x3 branches, batch-norm, stride-2 modules 3c/4e, "
          "separable first layer, no dropout; published: 13.6M params (§4.2; Figure 5 gives 11.3M), "
          "25.2%/7.82% single-model single-crop error (Figure 4, BN-x30); no mult-add figure published; "
          "no torchvision/timm weights"))

"""GoogLeNet / Inception v1 (Szegedy et al. 2014, "Going Deeper with Convolutions"; seed 000
§3.4, seed 002's Table 1, seed 003).

Table 1's units, worked out from its own rows: "params" counts weights without biases in
K = 1024 (inception (3a): 163,328 weights = 159.5K, printed 159K) and "ops" counts
mult-adds in M = 10^6 (3a: 163,328 x 28 x 28 = 128.0M). Most rows agree with their own
columns to within 2%; three do not:
- convolution 7x7/2 prints 2.7K and 34M, but a full 7x7 convolution from 3 to 64 channels
  has 9,408 weights and 118M mult-adds. 2.7K and 34M are exactly a depthwise-separable 7x7
  with depth multiplier 8 (3*8*49 + 24*64 = 2,712 weights, 34.0M mult-adds), the first layer
  that Ioffe & Szegedy 2015 (Appendix) say their Inception used. The paper's Figure 3 and
  every reimplementation use a full convolution, and so does `googlenet`;
  `separable_stem=True` builds the separable one and reproduces the row.
- inception (4c) prints 463K; its columns give 509,440 weights = 497.5K (+7.5%).
- inception (5a) prints 1072K and 54M; its columns give 1018.0K and 51.1M (-5%).
The network is built from the columns (the layer sizes), not from the params/ops figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal

from torch import nn

from ..layers.conv import ConvNormAct
from ..layers.inception_aux import GOOGLENET_AUX, GOOGLENET_TV_AUX
from ..layers.inception_v1_modules import Inception, SeparableStem
from ..registry import register_model
from .inception_base import AuxHeads, InceptionNet, Layer
from .card import INCEPTION_MEAN, INCEPTION_STD, ModelCard, Paper, Weights
from .pretrained import StateDict, register_weight_mapping

PAPER = Paper("Going Deeper with Convolutions",
              "C. Szegedy, W. Liu, Y. Jia, P. Sermanet, S. Reed, D. Anguelov, D. Erhan, V. Vanhoucke, "
              "A. Rabinovich", 2014, "1409.4842")


@dataclass(frozen=True)
class TableRow:
    """The columns that Table 1 (GoogLeNet) and Figure 5 (BN-Inception) share, as the papers name them."""

    type: str  # "convolution", "max pool", "inception (3a)", ...
    patch_size_stride: str  # "7x7/2", "stride 2", or "" where the paper leaves it blank
    output_size: tuple[int, int, int]  # H, W, depth as printed (at 224x224)
    depth: int
    n1x1: int = 0  # "#1x1"
    n3x3_reduce: int = 0  # "#3x3 reduce"
    n3x3: int = 0  # "#3x3"

    @property
    def kernel(self) -> int:  # "7x7/2" -> 7
        return int(self.patch_size_stride.partition("x")[0])

    @property
    def stride(self) -> int:  # "7x7/2" -> 2, "stride 2" -> 2, "" -> 1
        return int(self.patch_size_stride.replace("/", " ").rpartition(" ")[2] or 1)


@dataclass(frozen=True)
class Row(TableRow):
    """One row of Table 1; `modules` are the module names that make it."""

    n5x5_reduce: int = 0  # "#5x5 reduce"
    n5x5: int = 0  # "#5x5"
    pool_proj: int = 0  # "pool proj"
    params: float | None = None  # "params", in K = 1024 weights (biases not counted)
    ops: float | None = None  # "ops", in M = 10^6 mult-adds
    modules: tuple[str, ...] = ()


def _inception(name: str, out: tuple[int, int, int], *cols: float) -> Row:
    n1, r3, n3, r5, n5, proj, params, ops = cols
    return Row(f"inception ({name})", "", out, 2, int(n1), int(r3), int(n3), int(r5), int(n5), int(proj),
               params, ops, (f"inception{name}",))


# Szegedy et al. 2014, Table 1: "GoogLeNet incarnation of the Inception architecture".
#                                    output        #1x1 #3x3r #3x3 #5x5r #5x5 proj params ops
TABLE_1: tuple[Row, ...] = (
    Row("convolution", "7x7/2", (112, 112, 64), 1, params=2.7, ops=34, modules=("conv1",)),
    Row("max pool", "3x3/2", (56, 56, 64), 0, modules=("maxpool1",)),
    Row("convolution", "3x3/1", (56, 56, 192), 2, n3x3_reduce=64, n3x3=192, params=112, ops=360,
        modules=("conv2", "conv3")),
    Row("max pool", "3x3/2", (28, 28, 192), 0, modules=("maxpool2",)),
    _inception("3a", (28, 28, 256), 64, 96, 128, 16, 32, 32, 159, 128),
    _inception("3b", (28, 28, 480), 128, 128, 192, 32, 96, 64, 380, 304),
    Row("max pool", "3x3/2", (14, 14, 480), 0, modules=("maxpool3",)),
    _inception("4a", (14, 14, 512), 192, 96, 208, 16, 48, 64, 364, 73),
    _inception("4b", (14, 14, 512), 160, 112, 224, 24, 64, 64, 437, 88),
    _inception("4c", (14, 14, 512), 128, 128, 256, 24, 64, 64, 463, 100),
    _inception("4d", (14, 14, 528), 112, 144, 288, 32, 64, 64, 580, 119),
    _inception("4e", (14, 14, 832), 256, 160, 320, 32, 128, 128, 840, 170),
    Row("max pool", "3x3/2", (7, 7, 832), 0, modules=("maxpool4",)),
    _inception("5a", (7, 7, 832), 256, 160, 320, 32, 128, 128, 1072, 54),
    _inception("5b", (7, 7, 1024), 384, 192, 384, 48, 128, 128, 1388, 71),
    Row("avg pool", "7x7/1", (1, 1, 1024), 0),  # global average pooling
    Row("dropout (40%)", "", (1, 1, 1024), 0, modules=("dropout",)),
    Row("linear", "", (1, 1, 1000), 1, params=1000, ops=1, modules=("fc",)),
    Row("softmax", "", (1, 1, 1000), 0),
)
DROPOUT = 0.4  # Table 1 "dropout (40%)"
LRN_AFTER = {"maxpool1": "lrn1", "conv3": "lrn2"}  # Figure 3: LocalRespNorm after the first max pool and the 3x3 conv
# §5 / Figure 3: auxiliary classifiers on (4a) and (4d); their losses are added to the total loss weighted by 0.3
AUX_TAPS = (("aux1", "inception4a"), ("aux2", "inception4d"))
AUX = AuxHeads(AUX_TAPS, GOOGLENET_AUX, weight=0.3)
AUX_TV = AuxHeads(AUX_TAPS, GOOGLENET_TV_AUX, weight=0.3)

Layout = Literal["paper", "torchvision"]


def table_1_layers(in_chans: int, *, tv: bool, separable_stem: bool, se_reduction: int | None) -> list[Layer]:
    """Table 1's rows as named layers (Figure 3's LRNs in the paper layout; torchvision's layout with `tv`)."""
    norm = dict(norm=tv, eps=1e-3 if tv else 1e-5)
    layers: list[Layer] = []

    def add(name: str, module: nn.Module, out_chs: int, stride: int = 1) -> int:
        layers.append((name, module, out_chs, stride))
        if not tv and name in LRN_AFTER:
            layers.append((LRN_AFTER[name], nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0), out_chs, 1))
        return out_chs

    chs = in_chans
    for row in TABLE_1:
        if row.type == "convolution":
            k, s = row.kernel, row.stride
            if row.n3x3_reduce:  # the row's "#3x3 reduce": a 1x1 convolution before the 3x3
                chs = add(row.modules[0], ConvNormAct(chs, row.n3x3_reduce, 1, **norm), row.n3x3_reduce)
            out = row.output_size[2]
            conv = (SeparableStem(chs, out, k, stride=s, **norm) if separable_stem and row.modules == ("conv1",)
                    else ConvNormAct(chs, out, k, stride=s, **norm))
            chs = add(row.modules[-1], conv, out, s)
        elif row.type == "max pool":
            k, s = row.kernel, row.stride
            if tv and row.modules[0] == "maxpool4":
                k = 2  # torchvision: 2x2/2 before (5a)
            add(row.modules[0], nn.MaxPool2d(k, s, ceil_mode=True), chs, s)
        elif row.type.startswith("inception"):
            block = Inception(chs, row.n1x1, row.n3x3_reduce, row.n3x3, row.n5x5_reduce, row.n5x5, row.pool_proj,
                              wide_kernels=(3,) if tv else (5,), se_reduction=se_reduction, **norm)
            chs = add(row.modules[0], block, block.out_chs)
    return layers


class GoogLeNet(InceptionNet):
    """GoogLeNet, the network of Table 1 and Figure 3 (`layout="paper"`), or torchvision's
    version of it (`layout="torchvision"`).

    Paper layout: 7x7/2 conv, 3x3/2 max pool, LRN, 1x1 conv 64, 3x3 conv 192, LRN, 3x3/2 max
    pool, nine Inception modules with 5x5 convolutions in their 5x5 branch, 3x3/2 max pools
    between (3b)/(4a) and (4e)/(5a), global average pooling, dropout 0.4 and a linear layer;
    ReLU after every convolution; no batch-norm (the paper predates it). With
    `aux_logits=True` the two auxiliary classifiers of §5 sit on (4a) and (4d); in training
    mode `forward` returns `AuxOutputs(logits, (aux1, aux2), aux_weight=0.3)`, in eval mode the
    logits only (the paper discards them at inference).

    Deviations from the paper (layout "paper"):
    - the paper gives no padding for its 3x3/2 max pools; they round up (`ceil_mode`, as Caffe
      and torchvision do), which gives Table 1's 112 -> 56 -> 28 -> 14 -> 7;
    - the paper gives no LRN constants; we use the BVLC Caffe replication's: size 5, alpha 1e-4
      (divided by the size, as Caffe and PyTorch do), beta 0.75, k 1;
    - the auxiliary heads' 5x5/3 average pool is followed by adaptive average pooling to the
      4x4 map their FC expects (the identity at 224x224), and skipped when the map is smaller
      than 5x5, so that other input sizes train (see `layers.inception_aux.GOOGLENET_AUX`);
    - the first layer is a full 7x7 convolution (Figure 3), not what Table 1's params/ops of
      that row describe (a separable one; `separable_stem=True`, see the module docstring);
    - Table 1's "avg pool 7x7/1" is global average pooling (the same at 224x224);
    - initialisation (the paper gives none): Glorot-uniform weights, zero biases.

    Layout "torchvision" (`googlenet_tv`, the layout of torchvision's weights): batch-norm
    (eps 1e-3) after every convolution and no conv bias, no LRN, a 3x3 convolution in the
    "5x5" branch, a 2x2/2 max pool before (5a), auxiliary heads with adaptive 4x4 average
    pooling and batch-norm, dropout 0.2, truncated-normal(0.01) initialisation;
    `transform_input` is not offered: feed inputs normalised with mean = std = 0.5 (what
    torchvision's weights see after their input transform).
    """

    def __init__(self, *, num_classes: int = 1000, in_chans: int = 3, layout: Layout = "paper",
                 aux_logits: bool = True, drop_rate: float | None = None, separable_stem: bool = False,
                 se_reduction: int | None = None) -> None:
        if layout not in ("paper", "torchvision"):
            raise ValueError(f"layout must be 'paper' or 'torchvision', got {layout!r}")
        tv = layout == "torchvision"
        super().__init__(layers=table_1_layers(in_chans, tv=tv, separable_stem=separable_stem,
                                               se_reduction=se_reduction),  # (N, 1024, H/32, W/32)
                         num_classes=num_classes, in_chans=in_chans, aux=AUX_TV if tv else AUX, aux_logits=aux_logits,
                         drop_rate=drop_rate if drop_rate is not None else (0.2 if tv else DROPOUT))
        self.layout = layout
        if not tv:  # Table 1's own params / ops beside the counted ones (`cnnzoo show googlenet`)
            self.paper_figures = {row.modules[-1]: {"params (paper)": f"{row.params:g}K", "ops (paper)": f"{row.ops:g}M"}
                                  for row in TABLE_1 if row.params is not None and row.modules}
        self._init_weights(tv)

    def _init_weights(self, tv: bool) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                if tv:
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                else:
                    nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)


register_model("googlenet", GoogLeNet, ModelCard(
    paper=PAPER, min_size=31,  # 31: the 3x3/2 max pool before (5a) needs at least a 2x2 map
    params=6_800_000, mult_adds=1.5e9, top5_err=10.07,
    notes="the paper's network (Table 1, Fig. 3): 5x5 branches, LRN, no batch-norm, dropout 0.4, two "
          "auxiliary classifiers (weight 0.3, training only). Published: 6.8M params = the sum of Table 1's "
          "params column; 1.5e9 mult-adds = the paper's inference budget (§1; the ops column sums to "
          "1,502M); top-5 10.07% = 1 model, 1 crop (Table 3), comparable with the other cards' single-model "
          "figures (the ILSVRC entry's 6.67% is 7 models x 144 crops)"))
register_model("googlenet_tv", partial(GoogLeNet, layout="torchvision"), ModelCard(
    paper=PAPER, min_size=15, mean=INCEPTION_MEAN, std=INCEPTION_STD, params=6_624_904, mult_adds=1.498e9,
    top1_err=30.222, top5_err=10.47, weights=(Weights("torchvision", "googlenet", "IMAGENET1K_V1"),),
    notes="torchvision's GoogLeNet: batch-norm, 3x3 in the '5x5' branch, 2x2 pool before 5a, no LRN, dropout "
          "0.2; figures are torchvision's (params without aux heads, 69.778/89.53 acc@1/5); transform_input "
          "off: feed (x - 0.5) / 0.5"))


@register_weight_mapping("googlenet_tv", library="torchvision")
def _from_torchvision(state: StateDict) -> StateDict:
    """torchvision's names are ours (conv1.conv, inception3a.branch2.1.bn, aux1.fc1, fc)."""
    return dict(state)

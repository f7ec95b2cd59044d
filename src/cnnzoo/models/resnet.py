"""ResNet (He, Zhang, Ren, Sun 2015) for ImageNet and for CIFAR-10 (§4.2, at the end of the file),
and their plain twins (§4.1).

Table 1 of the paper (seed 000 Fig. 12), mult-adds as the paper's "FLOPs" row:

    layer    output   18-layer      34-layer      50-layer            101-layer   152-layer
    conv1    112x112  7x7, 64, stride 2; 3x3 max pool, stride 2
    conv2_x  56x56    [3x3, 64]x2   [3x3, 64]x3   [1x1,64; 3x3,64; 1x1,256] x3  x3  x3
    conv3_x  28x28    x2            x4            [1x1,128; 3x3,128; 1x1,512]   x4  x8
    conv4_x  14x14    x2            x6            [1x1,256; 3x3,256; 1x1,1024]  x23 x36
    conv5_x  7x7      x2            x3            [1x1,512; 3x3,512; 1x1,2048]  x3  x3
             1x1      average pool, 1000-d fc, softmax
    FLOPs             1.8e9         3.6e9         3.8e9               7.6e9       11.3e9

`ResidualNetwork` here is the builder every residual family of the zoo shares (CIFAR ResNets,
pre-activation ResNets, ResNeXt, SENet): a stem, stages of blocks from `layers/residual.py`,
global average pooling and one fc layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from torch import Tensor, nn

from ..layers.residual import (BasicBlock, BlockDesign, Bottleneck, PostActBlock, PreActBlock, ResidualBlock,
                               ResidualStage, Shortcut, Stem)
from ..models.pretrained import StateDict, register_weight_mapping
from ..registry import register_model
from .base import FeatureInfo, ZooModel, global_pool, he_init
from .card import CIFAR10_MEAN, CIFAR10_STD, ModelCard, Paper, Weights

PAPER = Paper("Deep Residual Learning for Image Recognition", "K. He, X. Zhang, S. Ren, J. Sun", 2015, "1512.03385")


@dataclass(frozen=True)
class Stage:
    """One row of the paper's table: `depth` blocks of bracket width `width`, the first with `stride`."""

    name: str  # the paper's layer name, "conv2_x"
    depth: int
    width: int
    stride: int


def stage_table(depths: tuple[int, ...], widths: tuple[int, ...]) -> tuple[Stage, ...]:
    """Rows conv2_x, conv3_x, ...: the first keeps the resolution (the stem pooled), the others halve it."""
    if not depths or len(depths) != len(widths):
        raise ValueError(f"need one width per stage, got depths {depths} and widths {widths}")
    if any(d < 1 for d in depths) or any(w < 1 for w in widths):
        raise ValueError(f"stage depths and widths must be >= 1, got {depths} and {widths}")
    return tuple(Stage(f"conv{i + 2}_x", d, w, 1 if i == 0 else 2) for i, (d, w) in enumerate(zip(depths, widths)))


# Table 1: blocks per stage (conv2_x .. conv5_x) for each depth; bracket widths of the stages.
TABLE1_DEPTHS: dict[int, tuple[int, ...]] = {
    18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
TABLE1_WIDTHS = (64, 128, 256, 512)

STEMS: dict[str, Stem] = {
    "7x7": Stem(((7, 64, 2),)),  # Table 1 conv1, then 3x3 max pool, stride 2 (padding 1, as torchvision)
    "7x7_caffe": Stem(((7, 64, 2),), pool="ceil"),  # the same, pooled as Caffe (released SENets)
    "7x7_bare": Stem(((7, 64, 2),), norm_act=False),  # no BN-ReLU: timm's pre-activation layout
    "3x3x3": Stem(((3, 64, 2), (3, 64, 1), (3, 128, 1)), pool="ceil"),  # SENet-154 (SE paper appendix)
    "cifar": Stem(((3, 16, 1),), pool="none"),  # He et al. 2015 §4.2: a 3x3 conv with 16 filters, no pool
}


class ResidualNetwork(ZooModel):
    """Stem, stages `layer1..layerN` of residual blocks, [final BN-ReLU], global pool, [dropout], fc.

    Module names are torchvision's (`layer1.0.conv1`, `layer2.0.downsample.0`, `fc`) with the
    stem's convs in `stem` (`stem.conv1`, `stem.bn1`). Convs are initialised as He et al. 2015
    (normal, std sqrt(2 / fan_out)), BN to the identity, the fc as PyTorch's default.
    """

    classifier_path = "fc"

    def __init__(self, *, stages: tuple[Stage, ...], block: type[ResidualBlock], design: BlockDesign, stem: Stem,
                 num_classes: int, in_chans: int, drop_rate: float = 0.0) -> None:
        super().__init__()
        if num_classes < 0 or in_chans < 1:
            raise ValueError(f"need num_classes >= 0 and in_chans >= 1, got {num_classes} and {in_chans}")
        if not 0.0 <= drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}")
        self.num_classes, self.in_chans = num_classes, in_chans
        self.stage_table, self.design, self.stem_spec = stages, design, stem
        self.stem, self.maxpool = stem.build(in_chans)  # (N, 64, 112, 112), then (N, 64, 56, 56) at 224
        infos = [FeatureInfo("stem", stem.out_chs, stem.conv_stride)]
        chs, reduction = stem.out_chs, stem.stride
        for i, row in enumerate(stages):
            blocks = []
            for j in range(row.depth):
                # a pre-activation block right after a stem that ends with BN-ReLU does not repeat it
                extra = {"preact": not (i == j == 0 and stem.norm_act)} if issubclass(block, PreActBlock) else {}
                blocks.append(block(chs, row.width, stride=row.stride if j == 0 else 1, design=design, **extra))
                chs = blocks[-1].out_chs
            reduction *= row.stride
            self.add_module(f"layer{i + 1}", ResidualStage(*blocks))  # (N, chs, H/reduction, W/reduction)
            infos.append(FeatureInfo(f"layer{i + 1}", chs, reduction))
        self.final_norm = issubclass(block, PreActBlock)  # pre-activation nets end with BN-ReLU (2016 paper)
        if self.final_norm:
            self.norm = nn.BatchNorm2d(chs)
            self.act = nn.ReLU(inplace=True)
        self.num_features = self.head_hidden_size = chs
        self.feature_info = tuple(infos)
        self.head_drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        self.fc = nn.Linear(chs, num_classes) if num_classes else nn.Identity()
        he_init(self)

    @property
    def stages(self) -> list[ResidualStage]:
        return [self.get_submodule(f"layer{i + 1}") for i in range(len(self.stage_table))]

    def blocks(self) -> list[ResidualBlock]:
        """Every residual block in forward order (e.g. to set `skip` on some of them)."""
        return [b for stage in self.stages for b in stage]

    def forward_features(self, x: Tensor) -> Tensor:  # (N, C, 224, 224) -> (N, F, 7, 7)
        x = self.maxpool(self.stem(x))
        for stage in self.stages:
            x = stage(x)
        return self.act(self.norm(x)) if self.final_norm else x

    def forward_head(self, x: Tensor, *, pre_logits: bool = False) -> Tensor:
        x = self.head_drop(global_pool(x))  # (N, F)
        return x if pre_logits else self.fc(x)


class ResNet(ResidualNetwork):
    """ResNet of He et al. 2015 (Table 1), and with `shortcut="none"` its plain twin (§4.1, Fig. 3).

    Faithful to the paper in: the 7x7/2 conv and 3x3/2 max-pool stem; basic blocks (18/34) and
    bottlenecks (50/101/152) with BN after every conv and ReLU after the addition; in the
    bottleneck the stride-2 sits in the first 1x1 conv, as in the released Caffe models
    (`stride_in_1x1=False` is torchvision's "v1.5", with the stride in the 3x3); projection
    shortcuts (option B: 1x1 conv + BN) only where the shape changes; global average pooling
    and a 1000-way fc.

    Deviations from the paper:
    - the max-pool pads by 1 (torchvision); the Caffe models pool without padding, in ceil
      mode: the same 56x56 map at 224x224, windows shifted by one pixel;
    - ResNet-18/34 use option B shortcuts (as torchvision's, whose weights they load); Table 2
      trained them with option A (zero-padding identity): `shortcut="A"` builds those;
    - counted mult-adds (Table 1's "FLOPs" are mult-adds) are 1.81/3.66/3.86/7.57/11.28 x 1e9;
      the paper prints 3.6 for 34 layers, which is the plain / option-A network (3.64: the three
      projection shortcuts cost 0.02), and 3.8 for 50 layers, where the SE paper's re-count of
      the same network (Table 2) gives 3.86;
    - any input size runs, down to 1x1 (global average pooling, padded convs and max-pool);
      `min_size` is the total stride, 32: below it several stages see 1x1 maps, whose batch
      statistics make training the deep variants numerically unstable. The paper trains at 224.
    """

    def __init__(self, *, depths: tuple[int, ...], block: type[PostActBlock] = BasicBlock, num_classes: int = 1000,
                 in_chans: int = 3, shortcut: Shortcut = "B", stride_in_1x1: bool = True,
                 se_reduction: int | None = None) -> None:
        if not issubclass(block, PostActBlock):
            raise ValueError(f"ResNet takes BasicBlock or Bottleneck, got {block.__name__} "
                             "(pre-activation blocks: PreActResNet)")
        super().__init__(stages=stage_table(depths, TABLE1_WIDTHS), block=block, stem=STEMS["7x7"],
                         design=BlockDesign(shortcut=shortcut, stride_in_1x1=stride_in_1x1, se_reduction=se_reduction),
                         num_classes=num_classes, in_chans=in_chans)


# -- weights -----------------------------------------------------------------------------------
def rename_stem(state: StateDict) -> StateDict:
    """torchvision / timm ResNet names -> ours: only the stem conv and BN move (into `stem.`)."""
    return {(f"stem.{k}" if k.startswith(("conv1.", "bn1.")) else k): v for k, v in state.items()}


_TV_NAMES = ("resnet18_tv", "resnet34_tv", "resnet50_tv", "resnet101_tv", "resnet152_tv")
register_weight_mapping(*_TV_NAMES, library="torchvision")(rename_stem)
register_weight_mapping(*_TV_NAMES, library="timm")(rename_stem)


def library_weights(name: str, *tv_tags: str, timm_tag: str = "a1_in1k") -> tuple[Weights, ...]:
    """The torchvision weights `name` with these tags, then timm's `name.timm_tag`."""
    return (*(Weights("torchvision", name, t) for t in tv_tags), Weights("timm", name, timm_tag))


# -- variants ----------------------------------------------------------------------------------
_CARD = dict(paper=PAPER, input_size=(3, 224, 224), min_size=32)
_ERR = "errors: Table 3, ImageNet val, 10-crop"
_V1 = "stride-2 in the bottleneck's first 1x1 (Caffe models); torchvision's weights are for {}_tv (same shapes)"
_TV = "torchvision's v1.5 layout: stride-2 in the bottleneck's 3x3 (paper's layout: {})"

# ResNet-18/34 as the paper compares them with their plain twins (§4.1, Table 2, Fig. 4): option A
# shortcuts (identity, zero-padded where the width doubles: parameter-free); these are the
# networks of Table 1's FLOPs row. torchvision's (option B projections, its weights): _tv.
register_model("resnet18", partial(ResNet, depths=TABLE1_DEPTHS[18], shortcut="A"), ModelCard(
    **_CARD, params=11_515_688, mult_adds=1.8e9, top1_err=27.88,
    notes="the paper's ResNet-18 (Table 2): option A shortcuts, no projection parameters; "
          "error: Table 2 (10-crop top-1). torchvision's option-B layout and weights: resnet18_tv"))
register_model("resnet34", partial(ResNet, depths=TABLE1_DEPTHS[34], shortcut="A"), ModelCard(
    **_CARD, params=21_623_848, mult_adds=3.6e9, top1_err=25.03, top5_err=7.76,
    notes=f"the paper's ResNet-34 of Table 2 / Fig. 4: option A shortcuts; {_ERR} (ResNet-34 A). "
          "torchvision's option-B layout and weights: resnet34_tv"))
register_model("resnet18_tv", partial(ResNet, depths=TABLE1_DEPTHS[18]), ModelCard(
    **_CARD, params=11_689_512, weights=library_weights("resnet18", "IMAGENET1K_V1"),
    notes="torchvision's resnet18: option B (1x1 projection + BN where the shape changes)"))
register_model("resnet34_tv", partial(ResNet, depths=TABLE1_DEPTHS[34]), ModelCard(
    **_CARD, params=21_797_672, top1_err=24.52, top5_err=7.46, weights=library_weights("resnet34", "IMAGENET1K_V1"),
    notes=f"torchvision's resnet34: option B projections; {_ERR} (ResNet-34 B)"))
# depth: (parameters = torchvision's count, Table 1 FLOPs (mult-adds), Table 3 top-1 / top-5 error)
_BOTTLENECK = {50: (25_557_032, 3.8e9, 22.85, 6.71), 101: (44_549_160, 7.6e9, 21.75, 6.05),
               152: (60_192_808, 11.3e9, 21.43, 5.71)}
for _depth, (_params, _flops, _top1, _top5) in _BOTTLENECK.items():
    register_model(f"resnet{_depth}", partial(ResNet, block=Bottleneck, depths=TABLE1_DEPTHS[_depth]), ModelCard(
        **_CARD, params=_params, mult_adds=_flops, top1_err=_top1, top5_err=_top5,
        notes=f"the paper's ResNet-{_depth}: {_V1.format(f'resnet{_depth}')}; {_ERR}"))
    register_model(f"resnet{_depth}_tv", partial(ResNet, block=Bottleneck, depths=TABLE1_DEPTHS[_depth],
                                                 stride_in_1x1=False), ModelCard(
        **_CARD, params=_params, weights=library_weights(f"resnet{_depth}", "IMAGENET1K_V1", "IMAGENET1K_V2"),
        notes=_TV.format(f"resnet{_depth}")))

register_model("plain18", partial(ResNet, depths=TABLE1_DEPTHS[18], shortcut="none"), ModelCard(
    **_CARD, params=11_515_688, mult_adds=1.8e9, top1_err=27.94,
    notes="18-layer plain network (§4.1, Table 2): ResNet-18 without shortcuts; error: Table 2, 10-crop"))
register_model("plain34", partial(ResNet, depths=TABLE1_DEPTHS[34], shortcut="none"), ModelCard(
    **_CARD, params=21_623_848, mult_adds=3.6e9, top1_err=28.54, top5_err=10.02,
    notes=f"34-layer plain network (Fig. 3 middle): ResNet-34 without shortcuts; {_ERR}"))


# -- CIFAR-10 -----------------------------------------------------------------------------------
# The CIFAR-10 ResNets of He et al. 2015 (§4.2, Table 6) and their plain twins.
#
# §4.2: "The first layer is 3x3 convolutions. Then we use a stack of 6n layers with 3x3
# convolutions on the feature maps of sizes {32, 16, 8} respectively, with 2n layers for each
# feature map size. The numbers of filters are {16, 32, 64} respectively. The subsampling is
# performed by convolutions with a stride of 2. The network ends with a global average pooling,
# a 10-way fully-connected layer, and softmax. There are totally 6n+2 stacked weighted layers."
#
#     output map size   32x32   16x16   8x8
#     # layers          1+2n    2n      2n
#     # filters         16      32      64
#
# Shortcuts are identities everywhere, with option A (zero-padding) where the dimensions grow:
# the residual networks have exactly the parameters of their plain twins.
CIFAR_WIDTHS = (16, 32, 64)  # filters of the three stages (§4.2)

# Table 6: depth 6n+2 -> (published parameters, CIFAR-10 test error %, best of 5 runs for 110)
TABLE6: dict[int, tuple[int, float]] = {
    20: (270_000, 8.75), 32: (460_000, 7.51), 44: (660_000, 7.17), 56: (850_000, 6.97), 110: (1_700_000, 6.43)}


def cifar_blocks_per_stage(depth: int) -> int:
    """n of the paper's 6n+2 layers (3 stages of n basic blocks of 2 layers, first conv, fc)."""
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2 with n >= 1 (20, 32, 44, 56, 110, ...), got {depth}")
    return (depth - 2) // 6


class CifarResNet(ResidualNetwork):
    """He et al. 2015's CIFAR-10 network of 6n+2 layers; `shortcut="none"` is its plain twin.

    3x3 conv (16) -> 3 stages of n basic blocks with 16/32/64 filters (stride 2 in the first
    conv of stages 2 and 3) -> global average pooling -> 10-way fc. BN after every conv, ReLU
    after the addition, option A shortcuts (parameter-free: 1,700,000-parameter ResNet-110).

    Deviations from the paper:
    - option A pads the new channels at the end (the paper does not say where the zeros go);
    - weights are initialised as He et al. [13] (the paper's choice) with PyTorch's fc default;
    - any input size runs (global pooling); `min_size` is the total stride, 4; the paper's is 32x32.
    Skipping blocks at test time (Veit et al. 2016): `model.blocks()[i].skip = True`.
    """

    def __init__(self, *, depth: int, num_classes: int = 10, in_chans: int = 3, shortcut: Shortcut = "A",
                 se_reduction: int | None = None) -> None:
        n = cifar_blocks_per_stage(depth)
        super().__init__(stages=stage_table((n, n, n), CIFAR_WIDTHS), block=BasicBlock, stem=STEMS["cifar"],
                         design=BlockDesign(shortcut=shortcut, se_reduction=se_reduction),
                         num_classes=num_classes, in_chans=in_chans)
        self.depth = depth


_CIFAR_CARD = dict(paper=PAPER, input_size=(3, 32, 32), min_size=4, mean=CIFAR10_MEAN, std=CIFAR10_STD,
             num_classes=10)

for _depth, (_params, _err) in TABLE6.items():
    _best = " best of 5 runs (mean 6.61 +- 0.16)" if _depth == 110 else ""
    register_model(f"resnet{_depth}", partial(CifarResNet, depth=_depth), ModelCard(
        **_CIFAR_CARD, params=_params,
        notes=f"CIFAR-10 ResNet-{_depth} (§4.2, option A shortcuts): {_err}% CIFAR-10 test error (Table 6){_best}"))
    register_model(f"plain{_depth}", partial(CifarResNet, depth=_depth, shortcut="none"), ModelCard(
        **_CIFAR_CARD, params=_params,
        notes=f"CIFAR-10 plain-{_depth}: ResNet-{_depth} without shortcuts, same parameters "
              "(errors only as curves, Fig. 6 left: deeper plain nets train worse)"))

# Shallower members of the family, not in Table 6: small enough to train on a CPU in minutes
# (`cnnzoo experiment degradation` compares depths 8 and 20 by default).
for _depth in (8, 14):
    register_model(f"resnet{_depth}", partial(CifarResNet, depth=_depth), ModelCard(
        **_CIFAR_CARD,
        notes=f"CIFAR-10 ResNet-{_depth} (§4.2's 6n+2 design with n={(_depth - 2) // 6}; not in Table 6)"))
    register_model(f"plain{_depth}", partial(CifarResNet, depth=_depth, shortcut="none"), ModelCard(
        **_CIFAR_CARD, notes=f"CIFAR-10 plain-{_depth}: ResNet-{_depth} without shortcuts (not in the paper)"))

"""AlexNet (Krizhevsky, Sutskever, Hinton 2012), as seed 000 §3.2 and seed 003 describe it.

The paper's network (§3.5, Figure 2), split over two GPUs ("towers"):

    layer  kernels  size/stride  connected to                 output (227x227 input)
    conv1     96    11x11/4      the whole input               55x55x96  -> LRN -> pool 27x27
    conv2    256    5x5          its own GPU's conv1 maps      27x27x256 -> LRN -> pool 13x13
    conv3    384    3x3          both GPUs' conv2 maps         13x13x384
    conv4    384    3x3          its own GPU's conv3 maps      13x13x384
    conv5    256    3x3          its own GPU's conv4 maps      13x13x256 -> pool 6x6
    fc6     4096                 all of pool5 (6x6x256 = 9216)  dropout 0.5
    fc7     4096                                                dropout 0.5
    fc8     1000                                                softmax

ReLU after every layer but the last; pooling is overlapping max-pooling 3x3/2 (§3.4).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import partial

from torch import Tensor, nn

from ..errors import ConfigError
from ..registry import register_model
from .base import FeatureInfo, check_common_args
from .card import IMAGENET_MEAN, ModelCard, Paper, Weights
from ..layers.conv import conv_block  # noqa: F401  (re-exported: models.alexnet.conv_block)
from ..layers.fc_head import FCHeadNet, fc_layers  # noqa: F401  (re-exported)
from ..layers.local_response_norm import LocalResponseNorm  # noqa: F401  (re-exported)
from .pretrained import StateDict, register_weight_mapping

PAPER = Paper("ImageNet Classification with Deep Convolutional Neural Networks",
              "A. Krizhevsky, I. Sutskever, G. E. Hinton", 2012)
WEIRD_TRICK = Paper("One weird trick for parallelizing convolutional neural networks", "A. Krizhevsky", 2014,
                    "1404.5997")


@dataclass(frozen=True)
class ConvRow:
    """One convolutional layer of §3.5 / Figure 2."""

    name: str
    kernels: int
    size: int  # kernel size (square)
    stride: int
    padding: int  # not printed in the paper: what gives Figure 2's map sizes
    same_gpu: bool  # connected only to the previous layer's maps on its own GPU (a grouped convolution)
    lrn: bool  # response normalisation after the ReLU (§3.3)
    pool: bool  # overlapping max-pooling 3x3/2 after (§3.4)


# Krizhevsky et al. 2012, §3.5 and Figure 2.
PAPER_CONVS = (
    ConvRow("conv1", 96, 11, 4, 0, same_gpu=False, lrn=True, pool=True),  # 227 -> 55 -> pool 27
    ConvRow("conv2", 256, 5, 1, 2, same_gpu=True, lrn=True, pool=True),  # 27 -> 27 -> pool 13
    ConvRow("conv3", 384, 3, 1, 1, same_gpu=False, lrn=False, pool=False),  # 13
    ConvRow("conv4", 384, 3, 1, 1, same_gpu=True, lrn=False, pool=False),  # 13
    ConvRow("conv5", 256, 3, 1, 1, same_gpu=True, lrn=False, pool=True),  # 13 -> pool 6
)
# torchvision's single-tower layout (after Krizhevsky 2014, "One weird trick"): no LRN, 64-192-384-256-256.
TV_CONVS = (
    ConvRow("conv1", 64, 11, 4, 2, same_gpu=False, lrn=False, pool=True),  # 224 -> 55 -> pool 27
    ConvRow("conv2", 192, 5, 1, 2, same_gpu=False, lrn=False, pool=True),  # 27 -> pool 13
    ConvRow("conv3", 384, 3, 1, 1, same_gpu=False, lrn=False, pool=False),
    ConvRow("conv4", 256, 3, 1, 1, same_gpu=False, lrn=False, pool=False),
    ConvRow("conv5", 256, 3, 1, 1, same_gpu=False, lrn=False, pool=True),  # 13 -> pool 6
)
FC_WIDTHS = (4096, 4096)  # fc6, fc7; fc8 has num_classes units
POOLED_SIZE = 6  # the last map fc6 was designed for: 6x6x256 = 9216 inputs
POOL_SIZE, POOL_STRIDE = 3, 2  # overlapping pooling, z = 3 > s = 2 (§3.4)
# §5: weights N(0, 0.01); biases 1 in these layers ("to accelerate the early stages of learning"), 0 elsewhere.
INIT_STD = 0.01
UNIT_BIAS_LAYERS = ("conv2", "conv4", "conv5", "fc6", "fc7")


class AlexNet(FCHeadNet):
    """AlexNet: five convolutional and three fully connected layers (Krizhevsky et al. 2012).

    Faithful to the paper in: the two towers of the two GPUs (conv2, conv4 and conv5 are grouped
    convolutions with `towers=2` groups, conv3 and the fully connected layers connect across);
    96-256-384-384-256 kernels, 11x11/4 first layer; ReLU; local response normalisation after the
    ReLU of conv1 and conv2 with the paper's formula (k=2, n=5, alpha=1e-4, beta=0.75), computed
    per tower; overlapping max-pooling 3x3/2 after the two normalisations and conv5; dropout 0.5
    on the outputs of fc6 and fc7 (§4.2); initialisation N(0, 0.01) with biases 1 in conv2, conv4,
    conv5, fc6, fc7 (§5). 60,965,224 parameters.

    Input size: the paper says 224x224, but (224 - 11) / 4 + 1 is not an integer and does not give
    Figure 2's 55x55 first map; 227x227 (no padding) does: (227 - 11) / 4 + 1 = 55. The card uses 227.

    Deviations from the paper:
    - an adaptive average pooling to 6x6 before fc6 (the identity at 227x227) lets any input of at
      least 67x67 work; the paper evaluated fixed 224 crops (averaging ten crops' predictions);
    - both towers run on one device (the grouped convolutions compute exactly the same function);
    - the paper's convolution padding is not printed; it is chosen to give Figure 2's map sizes;
    - the card's normalisation only subtracts the mean, on the 0-255 scale (std 1/255), as §2 does
      ("subtracting the mean activity over the training set from each pixel"), but one mean per
      RGB channel where the paper's wording allows a mean image;
    - seed 000 places dropout *before* fc6 and fc7 (as torchvision does); the paper drops the
      outputs of fc6 and fc7 (§4.2: "setting to zero the output of each hidden neuron"; Caffe's
      reference AlexNet does the same), which is what this does. In eval mode they are the same.

    `alexnet_tv` is torchvision's single-tower layout (64-192-384-256-256, no LRN, padding 2 in
    conv1, dropout before fc6 and fc7, PyTorch's default initialisation): 61,100,840 parameters.
    """

    def __init__(self, *, num_classes: int = 1000, in_chans: int = 3, convs: tuple[ConvRow, ...] = PAPER_CONVS,
                 towers: int = 2, drop_rate: float = 0.5, dropout_first: bool = False, paper_init: bool = True) -> None:
        super().__init__()
        check_common_args(num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate)
        if towers < 1:
            raise ConfigError(f"towers must be >= 1, got {towers}")
        for row in convs:
            if (row.same_gpu or row.lrn) and row.kernels % towers:
                raise ConfigError(f"{row.name} has {row.kernels} kernels: not divisible over {towers} towers")
        self.num_classes, self.in_chans = num_classes, in_chans

        layers: OrderedDict[str, nn.Module] = OrderedDict()
        infos: list[FeatureInfo] = []
        chs, reduction = in_chans, 1
        for i, row in enumerate(convs, start=1):
            groups = towers if row.same_gpu else 1
            if chs % groups:
                raise ConfigError(f"{row.name} is split over {groups} towers but its input has {chs} maps")
            layers[row.name] = conv_block(chs, row.kernels, row.size, stride=row.stride, padding=row.padding,
                                          groups=groups)
            chs, reduction = row.kernels, reduction * row.stride
            last = row.name
            if row.lrn:
                layers[f"lrn{i}"] = LocalResponseNorm(groups=towers)
                last = f"lrn{i}"
            if row.pool:
                layers[f"pool{i}"] = nn.MaxPool2d(POOL_SIZE, POOL_STRIDE)
                reduction *= POOL_STRIDE
                last = f"pool{i}"
            infos.append(FeatureInfo(f"features.{last}", chs, reduction))  # one stage per convolutional layer
        self.features = nn.Sequential(layers)  # (N, 256, 6, 6) at 227x227
        self.feature_info = tuple(infos)
        self._build_head(chs, pooled_size=POOLED_SIZE, widths=FC_WIDTHS, num_classes=num_classes, drop_rate=drop_rate,
                         dropout_first=dropout_first)
        if paper_init:
            self._init_paper()

    def _init_paper(self) -> None:
        """§5: every weight N(0, 0.01); biases 1 in conv2, conv4, conv5, fc6, fc7, 0 in the others."""
        named = {name: m.conv for name, m in self.features.named_children() if hasattr(m, "conv")}
        named |= {name: m for name, m in self.pre_logits.named_children() if isinstance(m, nn.Linear)}
        if isinstance(self.fc8, nn.Linear):
            named["fc8"] = self.fc8
        for name, m in named.items():
            nn.init.normal_(m.weight, 0.0, INIT_STD)
            nn.init.constant_(m.bias, 1.0 if name in UNIT_BIAS_LAYERS else 0.0)

    def forward_features(self, x: Tensor) -> Tensor:  # (N, C, 227, 227) -> (N, 256, 6, 6)
        return self.features(x)


_TV_RENAMES = {"features.0.": "features.conv1.conv.", "features.3.": "features.conv2.conv.",
               "features.6.": "features.conv3.conv.", "features.8.": "features.conv4.conv.",
               "features.10.": "features.conv5.conv.", "classifier.1.": "pre_logits.fc6.",
               "classifier.4.": "pre_logits.fc7.", "classifier.6.": "fc8."}


@register_weight_mapping("alexnet_tv", library="torchvision")
def _from_torchvision(state: StateDict) -> StateDict:
    """torchvision.models.alexnet's names -> ours (a prefix rename)."""
    out: StateDict = {}
    for key, value in state.items():
        prefix = next((p for p in _TV_RENAMES if key.startswith(p)), None)
        out[_TV_RENAMES[prefix] + key[len(prefix):] if prefix else key] = value
    return out


register_model("alexnet", AlexNet, ModelCard(
    paper=PAPER, input_size=(3, 227, 227), min_size=67, mean=IMAGENET_MEAN, std=(1 / 255, 1 / 255, 1 / 255),
    params=60_000_000, top1_err=40.7, top5_err=18.2,
    notes="the 2012 paper's two-tower network: grouped conv2/4/5, LRN, overlapping pooling, dropout "
          "(published: 60 million parameters; 40.7/18.2% top-1/top-5 error, one CNN, ILSVRC-2012 val, Table 2)"))
register_model("alexnet_tv", partial(AlexNet, convs=TV_CONVS, towers=1, dropout_first=True, paper_init=False), ModelCard(
    paper=WEIRD_TRICK, input_size=(3, 224, 224), min_size=63, params=61_100_840, mult_adds=0.714e9,
    top1_err=43.478, top5_err=20.934, weights=(Weights("torchvision", "alexnet", "IMAGENET1K_V1"),),
    notes="torchvision's single-tower AlexNet: 64-192-384-256-256 kernels, no LRN; figures are torchvision's "
          "(its weights: 56.522/79.066% top-1/top-5 accuracy)"))

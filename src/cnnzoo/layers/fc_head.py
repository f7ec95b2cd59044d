"""The fully connected head of AlexNet and VGG: adaptive pooling to the map the first FC layer
was designed for, hidden FC layers with ReLU and dropout, the classifier."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn

from ..models.base import ZooModel


def fc_layers(in_features: int, widths: tuple[int, ...], *, drop_rate: float, dropout_first: bool,
              first_index: int = 6, linear: type[nn.Linear] = nn.Linear) -> nn.Sequential:
    """The hidden fully connected layers fc6, fc7, ... with ReLU and dropout.

    `dropout_first`: dropout on each layer's input (torchvision's placement) rather than on its
    output (the papers': "setting to zero the output of each hidden neuron"). `linear`: the layer
    class (a subclass whose `reset_parameters` is the family's initialisation).
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for i, width in enumerate(widths, start=first_index):
        if dropout_first:
            layers[f"drop{i}"] = nn.Dropout(drop_rate)
        layers[f"fc{i}"] = linear(in_features, width)
        layers[f"act{i}"] = nn.ReLU(inplace=True)
        if not dropout_first:
            layers[f"drop{i}"] = nn.Dropout(drop_rate)
        in_features = width
    return nn.Sequential(layers)


class FCHeadNet(ZooModel):
    """A convolutional trunk followed by the pre-GAP head of AlexNet and VGG: adaptive average
    pooling to the map size the first FC layer was designed for, the hidden FC layers
    (`pre_logits.fc6`, `pre_logits.fc7`, ...) and the classifier `fc8`."""

    classifier_path = "fc8"

    def _build_head(self, chs: int, *, pooled_size: int, widths: tuple[int, ...], num_classes: int, drop_rate: float,
                    dropout_first: bool, linear: type[nn.Linear] = nn.Linear) -> None:
        self.avgpool = nn.AdaptiveAvgPool2d(pooled_size)  # the identity at the design input size
        self.pre_logits = fc_layers(chs * pooled_size ** 2, widths, drop_rate=drop_rate, dropout_first=dropout_first,
                                    linear=linear)
        self.fc8 = linear(widths[-1], num_classes) if num_classes else nn.Identity()
        self.num_features, self.head_hidden_size = chs, widths[-1]

    def forward_head(self, x: Tensor, *, pre_logits: bool = False) -> Tensor:
        x = torch.flatten(self.avgpool(x), 1)  # (N, C * s * s): 256 * 6 * 6 (AlexNet), 512 * 7 * 7 (VGG)
        x = self.pre_logits(x)  # (N, 4096)
        return x if pre_logits else self.fc8(x)

"""The auxiliary classifier of the Inception networks, one class whose variants are data.

    pool   average 5x5/3 where the map is at least `pool_from` wide; else (or, for an FC hidden
           layer, always after it) adaptive average pooling to `grid` x `grid`
    reduce 1x1 conv 128 [+ BN] + ReLU
    hidden FC `hidden_width` + ReLU on the flattened grid x grid x 128 map (GoogLeNet §5), or a
           `grid` x `grid` valid conv `hidden_width` [+ BN] + ReLU then global pooling (Inception v3 §7)
    dropout (when `drop_rate` > 0), then the classifier (a Linear to num_classes)

Module names are data too (`AuxHeadSpec.names`), those of torchvision's `InceptionAux` for each
network (`aux1.conv`, `aux1.fc1`, `aux1.fc2`; `AuxLogits.conv0`, `AuxLogits.conv1`,
`AuxLogits.fc`), so that its state dicts load without renaming.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .conv import ConvNormAct


@dataclass(frozen=True)
class AuxHeadSpec:
    """What tells one auxiliary classifier from another."""

    pool_from: int | None  # smallest map side that gets the 5x5/3 average pool (None: adaptive pooling only)
    grid: int  # the map side the hidden layer is made for (4: GoogLeNet's 4x4x128; 5: v3's 5x5 conv)
    hidden: Literal["fc", "conv"]  # the hidden layer's kind
    hidden_width: int  # 1024 (GoogLeNet's FC), 768 (v3's 5x5 conv)
    norm: bool  # batch-norm after the convolutions
    eps: float  # batch-norm epsilon
    drop_rate: float  # dropout before the classifier (0: no dropout layer)
    names: tuple[str, str, str]  # module names of (reduce, hidden, classifier): the state-dict keys
    reduce_width: int = 128  # the 1x1 convolution's width (both papers: 128)


# GoogLeNet §5 / Fig. 3: 5x5/3 avg pool -> 1x1 conv 128 -> FC 1024 -> dropout 0.7 -> FC. The FC
# expects the 4x4 map that 5x5/3 pooling makes of (4a)/(4d)'s 14x14 map at 224x224; other sizes
# are pooled adaptively to 4x4 after it (the identity at 224x224), maps under 5x5 skip the 5x5/3 step.
GOOGLENET_AUX = AuxHeadSpec(pool_from=5, grid=4, hidden="fc", hidden_width=1024, norm=False, eps=1e-5,
                            drop_rate=0.7, names=("conv", "fc1", "fc2"))
# torchvision's GoogLeNet head: adaptive 4x4 pooling only, batch-norm (eps 1e-3) on the 1x1 conv.
GOOGLENET_TV_AUX = replace(GOOGLENET_AUX, pool_from=None, norm=True, eps=1e-3)
# Inception v3 §7 / Fig. 8, "BN-auxiliary": 5x5/3 avg pool on the 17x17x768 map (-> 5x5) -> 1x1
# conv 128 -> 5x5 valid conv 768 (plays the FC) -> global pool -> fc; both convs batch-normed. Maps
# under 17x17 (inputs under 299) are pooled adaptively to 5x5 instead, so that the 5x5 conv fits.
INCEPTION_V3_AUX = AuxHeadSpec(pool_from=17, grid=5, hidden="conv", hidden_width=768, norm=True, eps=1e-3,
                               drop_rate=0.0, names=("conv0", "conv1", "fc"))


class InceptionAux(nn.Module):
    """An auxiliary classifier: (N, C, H, W) -> (N, num_classes), shaped by an `AuxHeadSpec`."""

    is_aux_head = True  # training-only: `count_params(include_aux=False)` leaves it out

    def __init__(self, in_chs: int, num_classes: int, *, spec: AuxHeadSpec = GOOGLENET_AUX) -> None:
        super().__init__()
        if spec.hidden not in ("fc", "conv"):
            raise ValueError(f"auxiliary hidden layer must be 'fc' or 'conv', got {spec.hidden!r}")
        self.spec = spec
        reduce, hidden, classifier = spec.names
        width = spec.reduce_width
        self.add_module(reduce, ConvNormAct(in_chs, width, 1, norm=spec.norm, eps=spec.eps))  # (N, 128, grid, grid)
        self.add_module(hidden, nn.Linear(width * spec.grid * spec.grid, spec.hidden_width) if spec.hidden == "fc"
                        else ConvNormAct(width, spec.hidden_width, spec.grid, padding=0, norm=spec.norm, eps=spec.eps))
        if spec.drop_rate:
            self.dropout = nn.Dropout(spec.drop_rate)
        self.add_module(classifier, nn.Linear(spec.hidden_width, num_classes) if num_classes else nn.Identity())

    def _pool(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, C, grid, grid) (a conv hidden layer: >= grid)
        pooled = self.spec.pool_from is not None and min(x.shape[-2:]) >= self.spec.pool_from
        if pooled:
            x = F.avg_pool2d(x, 5, stride=3)  # 14x14 -> 4x4 (GoogLeNet at 224), 17x17 -> 5x5 (v3 at 299)
        if self.spec.hidden == "fc" or not pooled:  # an FC needs the exact grid; a conv any map >= it
            x = F.adaptive_avg_pool2d(x, self.spec.grid)
        return x

    def forward(self, x: Tensor) -> Tensor:
        reduce, hidden, classifier = (self.get_submodule(n) for n in self.spec.names)
        x = reduce(self._pool(x))  # (N, 128, grid, grid)
        if self.spec.hidden == "fc":
            x = F.relu(hidden(torch.flatten(x, 1)), inplace=True)  # (N, hidden_width)
        else:
            x = torch.flatten(F.adaptive_avg_pool2d(hidden(x), 1), 1)  # (N, hidden_width): global pool
        if self.spec.drop_rate:
            x = self.dropout(x)
        return classifier(x)  # (N, num_classes)

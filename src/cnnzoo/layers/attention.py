"""Squeeze-and-excitation (Hu, Shen, Sun 2017), addable to any family.

Seed 000 §3.8: the SE block is "applicable to any architecture". Every family marks, in each of
its blocks, the place where the SE paper puts the block (for residual blocks: on the residual
branch, before the addition; for Inception modules: on the module's output) with an
`AttentionSlot(channels)`, which is the identity. Then

    se_model = add_squeeze_excite(create_model("googlenet"), reduction=16)

fills every slot with a `SqueezeExcite(channels, reduction)` (and, in a family without slots, puts
one after every stage of `feature_info`: `StageExcite`); families also take
`se_reduction=16` in their constructors to build SE variants directly (SE-ResNet-50, ...).
"""

from __future__ import annotations

from torch import Tensor, nn


class SqueezeExcite(nn.Module):
    """x * sigmoid(W2 relu(W1 avgpool(x))), W1: C -> C/r, W2: C/r -> C (SE paper, Fig. 3).

    The two FC layers are 1x1 convolutions on the pooled (N, C, 1, 1) map, with biases, as in the
    paper's released models (and timm's `SEModule`). `min_channels` keeps C/r >= 1 (and is 8 in
    EfficientNet-style uses that compute the squeeze width from the block's input).
    """

    def __init__(self, channels: int, reduction: int = 16, *, squeeze_channels: int | None = None,
                 act: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        hidden = squeeze_channels or max(1, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.act = act(inplace=True) if act in (nn.ReLU, nn.SiLU) else act()
        self.fc2 = nn.Conv2d(hidden, channels, 1)
        self.gate = nn.Sigmoid()
        self.channels, self.hidden = channels, hidden

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, C, H, W)
        s = x.mean((2, 3), keepdim=True)  # squeeze: (N, C, 1, 1)
        s = self.gate(self.fc2(self.act(self.fc1(s))))  # excitation: (N, C, 1, 1) in (0, 1)
        return x * s


class AttentionSlot(nn.Identity):
    """Where a block would put an SE block: the identity, remembering its channel count."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


def attention(channels: int, se_reduction: int | None) -> nn.Module:
    """An SE block, or an empty slot when `se_reduction` is None."""
    return AttentionSlot(channels) if se_reduction is None else SqueezeExcite(channels, se_reduction)


class StageExcite(SqueezeExcite):
    """An SE block applied to the output of a stage (a module named in `feature_info`) through a
    forward hook, for families whose blocks have no `AttentionSlot` (LeNet-5, AlexNet, VGG, ...):
    the stage's own parameters keep their names, the SE blocks live in `model.stage_se`."""

    def hook(self, _module: nn.Module, _inputs: object, out: Tensor) -> Tensor:
        return self(out)


def add_squeeze_excite(model: nn.Module, reduction: int = 16) -> nn.Module:
    """Add squeeze-and-excitation blocks to `model` (in place) and return it.

    Where the family marks SE positions, every `AttentionSlot` becomes a `SqueezeExcite` (the SE
    paper's places). Otherwise an SE block follows every stage of the model's `feature_info`
    (the stage's output map is recalibrated before the next stage sees it), as `StageExcite`
    modules in `model.stage_se`. ValueError for a model with neither.
    """
    if reduction < 1:
        raise ValueError(f"SE reduction must be >= 1, got {reduction}")
    slots = [(name, m) for name, m in model.named_modules() if isinstance(m, AttentionSlot)]
    if slots:
        for name, slot in slots:
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, SqueezeExcite(slot.channels, reduction))
        return model
    stages = {info.module: info.num_chs for info in getattr(model, "feature_info", ())}
    if not stages:
        raise ValueError(f"{type(model).__name__} has neither AttentionSlots nor feature_info: nowhere to put SE blocks")
    blocks = nn.ModuleDict()
    for name, channels in stages.items():
        se = StageExcite(channels, reduction)
        blocks[name.replace(".", "_")] = se
        model.get_submodule(name).register_forward_hook(se.hook)
    model.stage_se = blocks  # registered as a submodule: moved, saved and trained with the model
    return model

"""Parity with torchvision/timm, shared by the family tests (tests/models is on sys.path).

    assert logits_difference("resnet50_tv", torchvision.models.resnet50(), "torchvision") <= 1e-4
"""

from __future__ import annotations

import torch
from torch import nn

import cnnzoo
from cnnzoo.models.pretrained import assign_state_dict, weight_mapping


def randomise(model: nn.Module) -> nn.Module:
    """He-normal convolutions and random batch-norm affines and running statistics: a randomly
    initialised library model whose eval-mode logits are O(1) (some libraries' own init gives
    1e8 or 1e-2) and in which every batch-norm tensor matters. Returns the model in eval mode."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            for t, low, high in ((m.weight, 0.5, 1.5), (m.running_var, 0.5, 1.5), (m.bias, -0.1, 0.1),
                                 (m.running_mean, -0.1, 0.1)):
                nn.init.uniform_(t, low, high)
    return model.eval()


def logits_difference(name: str, theirs: nn.Module, library: str, *, size: int = 32,
                      state: dict[str, torch.Tensor] | None = None, **overrides: object) -> float:
    """Max |logits difference| between `theirs` and cnnzoo's `name` loaded with theirs' weights
    through the registered mapping, on a fixed random batch of 2 in eval mode. `state`: theirs'
    weights as a published file spells them, when that differs from `theirs.state_dict()`.

    Ours is built on the meta device and materialised uninitialised: every tensor is then loaded
    (`assign_state_dict` refuses missing keys), so no second random initialisation is paid.
    """
    with torch.device("meta"):
        ours = cnnzoo.create_model(name, **overrides)
    ours.to_empty(device="cpu")
    state = theirs.state_dict() if state is None else state
    assign_state_dict(ours, weight_mapping(name, library)(state), source="test")
    x = torch.randn(2, ours.in_chans, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return (ours.eval()(x) - theirs.eval()(x)).abs().max().item()

"""Weight initialisation schemes (`--init`) and initialising from a trained run (`--init-from`).

Seed 003 ("Инициализация весов"): no symmetries (never one number everywhere), and keep the scale
of every layer's outputs about the same. The schemes, for each convolution / fully connected
weight with fan-in n (fan-out m); biases 0, normalisation scales 1 and shifts 0:

- `he`:         N(0, 2/n)                  He et al. 2015, "Delving deep into rectifiers", §2.2 (ReLU)
- `xavier`:     U(+-sqrt(6/(n+m)))         Glorot & Bengio 2010, Eq. 16 (tanh / sigmoid)
- `lecun`:      N(0, 1/n)                  LeCun et al. 1998 "Efficient BackProp" §4.6; SELU's (Klambauer 2017 §3)
- `orthogonal`: a random orthogonal matrix Saxe et al. 2013 (rows of the flattened weight)
- `paper`:      what the model's own paper did, where it says (`PAPER_INITS`); else the
                model's constructor initialisation, which already follows its paper or library.

`--init-from RUN` is VGG's trick (Simonyan & Zisserman 2014, §3.1: the deeper configurations
start from the trained configuration A's first four conv and last three fc layers): every
tensor whose name and shape match is copied from RUN's checkpoint; the rest keep `--init`'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import CheckpointError, ConfigError

INITS = ("paper", "he", "xavier", "lecun", "orthogonal")
_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.LayerNorm)


def _fan_in(w: Tensor) -> int:
    return w.shape[1] * math.prod(w.shape[2:]) if w.ndim > 1 else w.shape[0]


WEIGHT_INITS: dict[str, Callable[[Tensor], object]] = {
    "he": lambda w: nn.init.normal_(w, 0.0, math.sqrt(2.0 / _fan_in(w))),
    "xavier": nn.init.xavier_uniform_,
    "lecun": lambda w: nn.init.normal_(w, 0.0, math.sqrt(1.0 / _fan_in(w))),
    "orthogonal": nn.init.orthogonal_,
}


@dataclass(frozen=True)
class PaperInit:
    """A paper's initialisation: weights N(0, std) or U(+-scale / fan_in), biases `bias` except those
    named in `bias_one` (AlexNet's ones)."""

    source: str  # paper and section
    std: float | None = None
    uniform_over_fan_in: float | None = None
    bias_one: tuple[str, ...] = ()


# model-name prefix -> the paper's initialisation (others: the constructor's, see the module doc)
PAPER_INITS: dict[str, PaperInit] = {
    "lenet5": PaperInit("LeCun et al. 1998, Appendix A: U(-2.4/F_i, 2.4/F_i), F_i = fan-in",
                        uniform_over_fan_in=2.4),
    "alexnet": PaperInit("Krizhevsky et al. 2012, §5: N(0, 0.01); biases 1 in conv2, conv4, conv5 and the hidden "
                         "fc layers, 0 elsewhere", std=0.01, bias_one=("conv2", "conv4", "conv5", "fc6", "fc7")),
    "vgg": PaperInit("Simonyan & Zisserman 2014, §3.1: N(0, 10^-2) (std 0.01, as their released Caffe "
                     "models), biases 0", std=0.01),
}
HE_FAMILIES = ("resnet", "plain", "preact", "resnext", "se_res", "wide_res")  # §3.4 of ResNet: "as in [13]" (He)


def _reset(model: nn.Module, weight_init: Callable[[Tensor], object]) -> int:
    """Apply `weight_init` to every conv / fc weight (biases 0, norms 1 / 0); -> layers touched."""
    count = 0
    for m in model.modules():
        if isinstance(m, _WEIGHTED) or (hasattr(m, "weight") and isinstance(m.weight, nn.Parameter)
                                        and m.weight.ndim > 1 and not isinstance(m, _NORMS)):
            with torch.no_grad():
                weight_init(m.weight)
                if getattr(m, "bias", None) is not None:
                    m.bias.zero_()
            count += 1
        elif isinstance(m, _NORMS) and getattr(m, "weight", None) is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for m in model.modules():  # designs that need a particular bias keep it (highway gates: -1)
        if hasattr(m, "gate_bias") and hasattr(m, "gate"):
            nn.init.constant_(m.gate.bias, m.gate_bias)
    return count


def _paper(model: nn.Module, name: str) -> str:
    key = next((k for k in PAPER_INITS if name.startswith(k)), None)
    if key is None:
        if name.startswith(HE_FAMILIES):
            n = _reset(model, WEIGHT_INITS["he"])
            return f"paper (He et al. 2015 as ResNet §3.4 says) on {n} layers"
        return "paper: the constructor's initialisation (the model's paper or library)"
    p = PAPER_INITS[key]
    if p.std is not None:
        n = _reset(model, lambda w: nn.init.normal_(w, 0.0, p.std))
    else:
        n = _reset(model, lambda w: nn.init.uniform_(w, -p.uniform_over_fan_in / _fan_in(w),
                                                     p.uniform_over_fan_in / _fan_in(w)))
    for mod_name, m in model.named_modules():
        if mod_name.split(".")[-1] in p.bias_one or any(f".{b}." in f".{mod_name}." for b in p.bias_one):
            if isinstance(m, _WEIGHTED) and m.bias is not None:
                nn.init.ones_(m.bias)
    return f"paper ({p.source}) on {n} layers"


def initialise(model: nn.Module, scheme: str, *, name: str) -> str:
    """Re-initialise `model` (registry name `name`) with `scheme`; -> one line saying what was done."""
    if scheme not in INITS:
        raise ConfigError(f"--init {scheme!r}: expected one of {', '.join(INITS)}")
    if scheme == "paper":
        return _paper(model, name)
    n = _reset(model, WEIGHT_INITS[scheme])
    return f"{scheme} on {n} layers (biases 0, normalisation 1/0)"


@dataclass(frozen=True)
class CopyReport:
    copied: tuple[str, ...]  # tensors copied (names)
    skipped: tuple[str, ...]  # the model's tensors left as they were (no match by name and shape)

    def __str__(self) -> str:
        layers = sorted({n.rsplit(".", 1)[0] for n in self.copied})
        return (f"copied {len(self.copied)} tensors ({len(layers)} layers: {', '.join(layers)}); "
                f"{len(self.skipped)} kept their initialisation"
                + (f" ({', '.join(sorted({n.rsplit('.', 1)[0] for n in self.skipped}))})" if self.skipped else ""))


def init_from(model: nn.Module, run: str | Path) -> CopyReport:
    """Copy every tensor of RUN's checkpoint whose name and shape match `model`'s (in place)."""
    from .checkpoint import load_weights, resolve
    try:  # only the tensors are needed: any cnnzoo weights file, however little metadata it has
        state, _ = load_weights(resolve(run))
    except (OSError, CheckpointError) as e:
        raise ConfigError(f"--init-from {run}: {e}") from None
    own = model.state_dict()
    copied = [k for k, v in state.items() if k in own and own[k].shape == v.shape]
    if not copied:
        raise ConfigError(f"--init-from {run}: no tensor of that checkpoint matches this model by name and shape")
    with torch.no_grad():
        for k in copied:
            own[k].copy_(state[k])
    skipped = tuple(k for k in own if k not in set(copied))
    return CopyReport(tuple(copied), skipped)

"""Class-score maximisation (seed 003 "Максимизация вероятности класса"; Simonyan, Vedaldi &
Zisserman 2013, arXiv 1312.6034, §2):  argmax_x  a_y(x) - lambda ||x||^2,
by gradient ascent from a grey image.

The image is a parameterised picture in [0, 1] (sigmoid of the parameters), normalised as the
model's inputs are. Regularisers, as in Olah et al. 2017 ("Feature Visualization", Distill) and
lucent:
- `jitter`: a random shift of up to J pixels each step (transformation robustness);
- `blur_every` / `blur_sigma`: a Gaussian blur of the pixel parameters every k steps (Yosinski
  et al. 2015);
- `param="fft"`: the image is the inverse FFT of a spectrum scaled by 1 / frequency, so that
  gradient steps favour low frequencies, with ImageNet's colour correlation undone for 3-channel
  models (`decorrelate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..models.base import split_outputs
from .layers import frozen_eval

Param = Literal["pixel", "fft"]
Objective = Literal["logit", "log-prob"]

# square root of ImageNet's RGB covariance (Olah et al.'s colour decorrelation), its columns
# scaled by the largest column norm: a decorrelated colour vector times this is an RGB vector
_COLOR_SQRT_COV = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])


@dataclass(frozen=True)
class ClassVizConfig:
    steps: int = 200
    lr: float = 0.05
    l2: float = 1e-3  # lambda of the seed's penalty on the normalised input
    jitter: int = 2  # pixels
    blur_every: int = 0  # 0: never
    blur_sigma: float = 0.5
    param: Param = "pixel"
    decorrelate: bool = True  # with param="fft" and 3 channels
    objective: Objective = "logit"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.lr <= 0 or self.l2 < 0 or self.jitter < 0 or self.blur_every < 0:
            raise ConfigError("classviz: steps >= 1, lr > 0, l2 >= 0, jitter >= 0 and blur_every >= 0 are required")
        if self.param not in ("pixel", "fft"):
            raise ConfigError(f"classviz: param must be pixel or fft, got {self.param!r}")
        if self.objective not in ("logit", "log-prob"):
            raise ConfigError(f"classviz: objective must be logit or log-prob, got {self.objective!r}")


@dataclass(frozen=True)
class ClassViz:
    image: Tensor  # (C, H, W) in [0, 1]
    target: int
    logit: float  # reached, on the image without jitter
    probability: float
    start_probability: float  # of the grey image
    history: list[tuple[int, float, float]]  # (step, logit, probability) every few steps


class _Picture(nn.Module):
    """Parameters -> (1, C, H, W) image in [0, 1]; zero parameters give a uniform grey."""

    def __init__(self, size: tuple[int, int, int], *, param: Param, decorrelate: bool,
                 generator: torch.Generator) -> None:
        super().__init__()
        c, h, w = size
        self.size, self.param = size, param
        self.decorrelate = decorrelate and c == 3
        if param == "pixel":
            self.p = nn.Parameter(torch.randn(1, c, h, w, generator=generator) * 0.01)
            return
        fy = torch.fft.fftfreq(h)[:, None]
        fx = torch.fft.rfftfreq(w)[None, :]
        freq = torch.sqrt(fx * fx + fy * fy).clamp_min(1.0 / max(h, w))
        self.register_buffer("scale", (1.0 / freq) * math.sqrt(h * w) / max(h, w))  # (h, w // 2 + 1)
        self.p = nn.Parameter(torch.randn(1, c, h, w // 2 + 1, 2, generator=generator) * 0.01)

    def forward(self) -> Tensor:
        c, h, w = self.size
        if self.param == "pixel":
            return torch.sigmoid(self.p)
        spectrum = torch.view_as_complex(self.p) * self.scale
        x = torch.fft.irfftn(spectrum, s=(h, w), norm="ortho") / 4.0  # (1, C, H, W); lucent's scale
        if self.decorrelate:
            x = torch.einsum("ij,njhw->nihw", _COLOR_SQRT_COV.to(x) / _COLOR_SQRT_COV.norm(dim=0).max(), x)
        return torch.sigmoid(x)


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Depthwise Gaussian blur of (N, C, H, W), kernel radius 2 sigma (at least 1 pixel)."""
    r = max(1, math.ceil(2 * sigma))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-t * t / (2 * sigma * sigma))
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _score(model: nn.Module, x: Tensor, target: int) -> tuple[Tensor, Tensor]:
    logits = split_outputs(model(x))[0].float()[0]  # (classes,)
    return logits[target], logits.softmax(0)[target]


def class_visualization(model: nn.Module, target: int, *, input_size: tuple[int, int, int],
                        mean: tuple[float, ...], std: tuple[float, ...],
                        config: ClassVizConfig = ClassVizConfig(), device: torch.device | None = None) -> ClassViz:
    """The image (C, H, W) in [0, 1] that maximises class `target`'s score under `config`
    (the model is used in eval mode with frozen parameters, and left as it was)."""
    with frozen_eval(model):
        return _ascend(model, target, input_size, mean, std, config, device)


def _ascend(model: nn.Module, target: int, input_size: tuple[int, int, int], mean: tuple[float, ...],
            std: tuple[float, ...], config: ClassVizConfig, device: torch.device | None) -> ClassViz:
    device = device or next(model.parameters()).device
    g = torch.Generator().manual_seed(config.seed)
    picture = _Picture(input_size, param=config.param, decorrelate=config.decorrelate, generator=g).to(device)
    m = torch.tensor(mean, device=device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=device).view(1, -1, 1, 1)
    opt = torch.optim.Adam(picture.parameters(), lr=config.lr)
    with torch.no_grad():
        grey = (torch.full((1, *input_size), 0.5, device=device) - m) / s
        classes = split_outputs(model(grey))[0].shape[1]
        if not 0 <= target < classes:
            raise ConfigError(f"classviz: class {target} outside 0..{classes - 1}")
        start = _score(model, grey, target)[1].item()
    history: list[tuple[int, float, float]] = []
    for step in range(config.steps):
        x = (picture() - m) / s  # (1, C, H, W) normalised model input
        if config.jitter:
            dy, dx = (int(v) for v in torch.randint(-config.jitter, config.jitter + 1, (2,), generator=g))
            x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
        logit, prob = _score(model, x, target)
        objective = logit if config.objective == "logit" else prob.clamp_min(1e-12).log()
        loss = config.l2 * x.pow(2).sum() - objective
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if config.param == "pixel" and config.blur_every and (step + 1) % config.blur_every == 0:
            with torch.no_grad():
                picture.p.copy_(gaussian_blur(picture.p, config.blur_sigma))
        if step % max(1, config.steps // 20) == 0:
            history.append((step, logit.item(), prob.item()))
    with torch.no_grad():
        image = picture()
        logit, prob = _score(model, (image - m) / s, target)
    history.append((config.steps, logit.item(), prob.item()))
    return ClassViz(image[0].cpu(), target, logit.item(), prob.item(), start, history)

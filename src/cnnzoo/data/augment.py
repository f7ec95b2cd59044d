"""Batched preprocessing and augmentation on the training device.

Images travel as uint8 (N, C, h, w) and are turned into the model's input here, a whole batch
at a time: channel conversion (grey -> RGB by repetition, RGB -> grey by ITU-R 601 luma),
then one `grid_sample` that does the random augmentation *and* the resize to the model's
input size together (per-sample 2x3 affine matrices: shifts, crops, flips, rotation, scale),
then normalisation. No per-sample Python, no PIL: this is what makes training on small data
fast (seed 003: augmentations are applied at random to the images of the current batch).

Presets (`--augment`):
- `none`: resize only;
- `affine`: rotation +-10 deg, scale 0.9-1.1, shift +-10% (digits: no flips);
- `crop-flip`: pad-and-crop shifts of up to 1/8 of the side (4 px at 32x32) + horizontal flip
  where the data set allows it (CIFAR's standard augmentation, He et al. 2015 §4.2);
- `resized-crop`: random crop of 35-100% of the area, aspect 3/4-4/3, + flip (Inception-style,
  for photos);
- `pca-crop-flip`: AlexNet §4.1: fixed-size random crops ((224/256)^2 of the area), flips, and
  the PCA colour augmentation (`pca_lighting`);
- `scale-jitter`: VGG §3.1: crops of (224/S)^2 of the area for S in [256, 512] (random rescaling
  of the training image), flips, PCA colour;
- `auto`: the data set's default (digits/MNIST: affine; Fashion-MNIST/CIFAR: crop-flip;
  image folders: resized-crop).
Flips are applied only when the data set says mirrored samples keep their class.

Test-time augmentation (`tta_views`): the identity, the horizontal flip (where valid) and
shifts by 1/16 of the side in four directions; predictions are averaged over the views.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .config import Preset  # declared torch-free there, for `cnnzoo train --help`
PRESETS = ("auto", "none", "flip", "affine", "crop-flip", "resized-crop", "pca-crop-flip", "scale-jitter")
# AlexNet §4.1: the principal components of ImageNet's RGB pixel values (pixels in [0, 1]), as
# published with fb.resnet.torch's reimplementation of the augmentation
PCA_EIGVAL = (0.2175, 0.0188, 0.0045)
PCA_EIGVEC = ((-0.5675, 0.7192, 0.4009), (-0.5808, -0.0045, -0.8140), (-0.5836, -0.6948, 0.4203))
_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class Augment:
    """Ranges of the random affine transform applied per sample."""

    rotate_deg: float = 0.0
    scale: tuple[float, float] = (1.0, 1.0)  # zoom factor (>1 magnifies)
    shift: float = 0.0  # max shift as a fraction of the side
    integer_shift: bool = False  # shifts snap to whole pixels (pad-and-crop)
    area: tuple[float, float] = (1.0, 1.0)  # random-resized-crop area fraction
    aspect: tuple[float, float] = (1.0, 1.0)
    hflip: bool = False
    pca_lighting: float = 0.0  # AlexNet's colour augmentation: std of the alphas (§4.1: 0.1)


AUGMENTS: dict[str, Augment | None] = {
    "none": None,
    "flip": Augment(hflip=True),  # mirror images only: objects stay where the data set put them
    "affine": Augment(rotate_deg=10.0, scale=(0.9, 1.1), shift=0.1),
    "crop-flip": Augment(shift=0.125, integer_shift=True, hflip=True),
    "resized-crop": Augment(area=(0.35, 1.0), aspect=(3 / 4, 4 / 3), hflip=True),
    # AlexNet §4.1: 224x224 patches of the 256x256 image ((224/256)^2 of the area) + flips + PCA colour
    "pca-crop-flip": Augment(area=(0.766, 0.766), hflip=True, pca_lighting=0.1),
    # VGG §3.1 scale jittering: rescale to S in [256, 512], crop 224 (an area of (224/S)^2), flips, colour
    "scale-jitter": Augment(area=(0.19, 0.766), hflip=True, pca_lighting=0.1),
}


def convert_channels(x: Tensor, channels: int) -> Tensor:
    """(N, c, H, W) float -> (N, channels, H, W): grey -> RGB repeats, RGB -> grey is luma."""
    c = x.shape[1]
    if c == channels:
        return x
    if c == 1:
        return x.expand(-1, channels, -1, -1)
    if c == 3 and channels == 1:
        w = torch.tensor(_LUMA, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        return (x * w).sum(1, keepdim=True)
    raise ValueError(f"cannot convert {c}-channel images to the model's {channels} channels")


class BatchPipeline:
    """uint8 (N, C, h, w) on device -> normalised float (N, in_chans, H, W) model input."""

    def __init__(self, *, out_size: tuple[int, int], in_chans: int, mean: tuple[float, ...],
                 std: tuple[float, ...], augment: Augment | None, hflip_valid: bool,
                 eval_crop: float = 1.0, channels_last: bool = False) -> None:
        self.out_size, self.in_chans, self.augment = out_size, in_chans, augment
        self.hflip = bool(augment and augment.hflip and hflip_valid)
        self.hflip_valid = hflip_valid
        self.eval_crop, self.channels_last = eval_crop, channels_last
        if len(mean) != in_chans or len(std) != in_chans:
            mean, std = _match(mean, in_chans), _match(std, in_chans)
        self.mean, self.std = mean, std
        self._stats: dict[tuple[torch.device, torch.dtype], tuple[Tensor, Tensor]] = {}

    # -- public ----------------------------------------------------------------------------
    def train(self, x: Tensor, generator: torch.Generator) -> Tensor:
        x = self._to_float(x)
        if self.augment is None:
            return self._finish(self._resize(x, self.eval_crop))
        theta = self._random_theta(len(x), x, generator)
        x = self._sample(x, theta)
        if self.augment.pca_lighting and x.shape[1] == 3:
            x = pca_lighting(x, self.augment.pca_lighting, generator)
        return self._finish(x)

    def eval(self, x: Tensor) -> Tensor:
        return self._finish(self._resize(self._to_float(x), self.eval_crop))

    def tta_shifts(self) -> list[tuple[float, float, float]]:
        """(x shift, y shift, horizontal flip) of each test-time view, identity first."""
        d = 2.0 / 16.0  # 1/16 of the side in normalised [-1, 1] coordinates
        return [(0.0, 0.0, 1.0)] + ([(0.0, 0.0, -1.0)] if self.hflip_valid else []) + [
            (d, 0.0, 1.0), (-d, 0.0, 1.0), (0.0, d, 1.0), (0.0, -d, 1.0)]

    def tta_views(self, x: Tensor) -> list[Tensor]:
        """The fixed test-time views of a batch (`tta_shifts`)."""
        x = self._to_float(x)
        n = len(x)
        views = []
        for tx, ty, flip in self.tta_shifts():
            theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
            theta[:, 0, 0], theta[:, 1, 1] = self.eval_crop * flip, self.eval_crop
            theta[:, 0, 2], theta[:, 1, 2] = tx, ty
            views.append(self._finish(self._sample(x, theta)))
        return views

    # -- steps -----------------------------------------------------------------------------
    def _to_float(self, x: Tensor) -> Tensor:
        return convert_channels(x.float().div_(255.0), self.in_chans)

    def _resize(self, x: Tensor, crop: float) -> Tensor:
        if crop < 1.0:
            h, w = x.shape[-2:]
            ch, cw = round(h * crop), round(w * crop)
            top, left = (h - ch) // 2, (w - cw) // 2
            x = x[..., top:top + ch, left:left + cw]
        if tuple(x.shape[-2:]) != self.out_size:
            x = F.interpolate(x, size=self.out_size, mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > self.out_size[1])
        return x

    def _sample(self, x: Tensor, theta: Tensor) -> Tensor:
        return F.grid_sample(x, affine_grid(theta, self.out_size), mode="bilinear", padding_mode="zeros",
                             align_corners=False)

    def _finish(self, x: Tensor) -> Tensor:
        key = (x.device, x.dtype)
        if key not in self._stats:
            self._stats[key] = (torch.tensor(self.mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1),
                                torch.tensor(self.std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1))
        mean, std = self._stats[key]
        x = (x - mean) / std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x.contiguous()

    def _random_theta(self, n: int, like: Tensor, g: torch.Generator) -> Tensor:
        """(n, 2, 3) matrices mapping output to input coordinates (affine_grid's convention)."""
        a = self.augment
        assert a is not None

        def uniform(lo: float, hi: float) -> Tensor:
            return torch.rand(n, generator=g, device=g.device).mul_(hi - lo).add_(lo)

        angle = uniform(-a.rotate_deg, a.rotate_deg) * (math.pi / 180.0)
        zoom = uniform(*a.scale)
        # random-resized crop: the sampled window is (cw, ch) of the image (fractions <= 1)
        area = uniform(*a.area)
        aspect = torch.exp(uniform(math.log(a.aspect[0]), math.log(a.aspect[1])))
        cw, ch = (area * aspect).sqrt().clamp_(max=1.0), (area / aspect).sqrt().clamp_(max=1.0)
        if a.integer_shift:
            w = like.shape[-1]
            pixels = round(a.shift * w)
            shift_x = torch.randint(-pixels, pixels + 1, (n,), generator=g, device=g.device) * (2.0 / w)
            shift_y = torch.randint(-pixels, pixels + 1, (n,), generator=g, device=g.device) * (2.0 / like.shape[-2])
        else:
            shift_x, shift_y = uniform(-a.shift, a.shift) * 2.0, uniform(-a.shift, a.shift) * 2.0
        # a crop window smaller than the image may sit anywhere inside it
        shift_x = shift_x + uniform(-1.0, 1.0) * (1.0 - cw)
        shift_y = shift_y + uniform(-1.0, 1.0) * (1.0 - ch)
        flip = torch.ones(n, device=g.device)
        if self.hflip:
            flip = torch.where(torch.rand(n, generator=g, device=g.device) < 0.5, -1.0, 1.0)
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack([torch.stack([cos * cw * flip, -sin * ch, shift_x], 1),
                             torch.stack([sin * cw * flip, cos * ch, shift_y], 1)], 1)
        return theta.to(device=like.device, dtype=like.dtype)


def pca_lighting(x: Tensor, std: float, generator: torch.Generator) -> Tensor:
    """AlexNet §4.1: add [p1 p2 p3] [a1 l1, a2 l2, a3 l3]^T to every RGB pixel of an image, where
    p_i, l_i are the eigenvectors and eigenvalues of the RGB covariance and a_i ~ N(0, std), drawn
    once per image. (N, 3, H, W) in [0, 1] -> the same, shifted."""
    n = len(x)
    alpha = torch.randn(n, 3, generator=generator, device=generator.device).to(x.device, x.dtype) * std
    vec = torch.tensor(PCA_EIGVEC, device=x.device, dtype=x.dtype)  # rows: R, G, B; columns: components
    val = torch.tensor(PCA_EIGVAL, device=x.device, dtype=x.dtype)
    shift = (alpha * val) @ vec.T  # (N, 3)
    return x + shift.view(n, 3, 1, 1)


def affine_grid(theta: Tensor, size: tuple[int, int]) -> Tensor:
    """`F.affine_grid(theta, (N, C, H, W), align_corners=False)` as element-wise arithmetic.

    (N, 2, 3) -> (N, H, W, 2). The same numbers, 5x faster on CPU: affine_grid's batched
    (H*W x 3) @ (3 x 2) products are tiny matrix products that run far below peak speed."""
    h, w = size
    xs = (torch.arange(w, device=theta.device, dtype=theta.dtype) * 2 + 1) / w - 1  # pixel centres in [-1, 1]
    ys = (torch.arange(h, device=theta.device, dtype=theta.dtype) * 2 + 1) / h - 1
    t = theta.reshape(-1, 6, 1, 1)
    gx = t[:, 0] * xs.view(1, 1, w) + t[:, 1] * ys.view(1, h, 1) + t[:, 2]  # (N, H, W)
    gy = t[:, 3] * xs.view(1, 1, w) + t[:, 4] * ys.view(1, h, 1) + t[:, 5]
    return torch.stack([gx, gy], dim=-1)


def _match(values: tuple[float, ...], channels: int) -> tuple[float, ...]:
    """Statistics of the data's channels carried over to the model's channel count."""
    if len(values) == channels:
        return values
    if len(values) == 1:
        return values * channels
    return (sum(v * w for v, w in zip(values, _LUMA, strict=True)),)

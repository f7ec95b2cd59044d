"""The registry card of a model: where it comes from and what its paper published."""

from __future__ import annotations

from dataclasses import dataclass, field

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)  # the CIFAR-10 training set's per-channel mean and std
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


@dataclass(frozen=True)
class Paper:
    """A publication: one per family, shared by every card of that family."""

    title: str
    authors: str
    year: int
    arxiv: str | None = None  # arXiv id, e.g. "1512.03385"; None for papers not on arXiv


@dataclass(frozen=True)
class Weights:
    """Published ImageNet weights that `load_pretrained` can map onto the model.

    `library` is "torchvision" or "timm"; `name` is the library's model builder name and
    `tag` the weight tag (torchvision enum member, e.g. "IMAGENET1K_V1"; timm pretrained tag,
    e.g. "tv_in1k").
    """

    library: str
    name: str
    tag: str = ""


@dataclass(frozen=True)
class ModelCard:
    """What the registry knows about a model besides how to build it.

    Published figures are the paper's own (None where the paper gives none). Mult-adds count
    one multiply-add as one operation, as the papers and torchvision's `_ops` do; FLOPs are
    2 x mult-adds.
    """

    paper: Paper
    input_size: tuple[int, int, int] = (3, 224, 224)  # (C, H, W) the paper trained at
    min_size: int = 32  # smallest H = W the design accepts (every stage keeps a map >= 1x1)
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    num_classes: int = 1000
    params: int | None = None  # published number of parameters
    mult_adds: float | None = None  # published mult-adds of one forward pass at input_size
    top1_err: float | None = None  # published ImageNet top-1 error, percent
    top5_err: float | None = None  # published ImageNet top-5 error, percent
    weights: tuple[Weights, ...] = field(default_factory=tuple)
    notes: str = ""  # one line on what the variant is (shown by `cnnzoo models`)

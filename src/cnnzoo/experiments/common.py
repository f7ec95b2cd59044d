"""What every experiment shares: its settings, its folder, and training (or reusing) sub-runs."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..csv_rows import csv_text
from ..config import to_mapping
from ..errors import CnnzooError


class ExperimentError(CnnzooError, ValueError):
    """An experiment folder or setting that cannot be used as asked."""


def _f(default: object, help: str, group: str = "experiment", **extra: object) -> Any:
    return field(default=default, metadata={"help": help, "group": group, **extra})


DEVICES = ("auto", "cpu", "cuda", "mps")


def check_settings(device: str, ranges: dict[str, tuple[float | None, float, float]]) -> None:
    """Settings checked before an experiment folder is made: `device` one of DEVICES and each
    `name: (value, low, high)` with value None (the default) or low <= value <= high. Raises
    ExperimentError (a ValueError: `config.from_mapping` reports it as one line)."""
    if device not in DEVICES:
        raise ExperimentError(f"--device {device!r}: expected one of {', '.join(DEVICES)}")
    for name, (value, low, high) in ranges.items():
        if value is not None and not low <= value <= high:
            raise ExperimentError(f"--{name.replace('_', '-')} must be in {int(low):,}..{int(high):,}, got {value}")


@dataclass(frozen=True)
class ExperimentSettings:
    """Settings every experiment has (its own dataclass adds the rest). Defaults fit a 2-core CPU."""

    data: str = _f("fashion-mnist", "data set of the sub-runs (any `cnnzoo train --data`)", "data")
    data_dir: str = _f("data", "where the data set is (`--data-dir` of `cnnzoo train`)", "data")
    img_size: int | None = _f(None, "input side in pixels (default: the experiment's)", "data")
    limit_train: int | None = _f(4000, "training images per sub-run (stratified subset; none: all)", "data")
    limit_eval: int | None = _f(1000, "validation and test images each (stratified subset; none: all)", "data")
    epochs: int = _f(3, "epochs of every sub-run", "training")
    batch_size: int = _f(128, "images per step", "training")
    lr: float = _f(0.1, "peak learning rate (cosine schedule, SGD + Nesterov momentum)", "training")
    weight_decay: float = _f(1e-4, "weight decay (He et al. §4.2: 0.0001)", "training")
    seed: int = _f(0, "seed of data split, initialisation and order (the same for every sub-run)", "training")
    device: str = _f("auto", "auto, cpu, cuda or mps", "training")
    out: str | None = _f(None, "experiment folder (default: experiments/<name>-<time>); "
                         "an existing one is reused", "output")

    def __post_init__(self) -> None:
        check_settings(self.device, {})
        # every value the sub-runs share, checked by TrainConfig now rather than after the first sub-run
        self.train_config(model="lenet5", name="check", folder=Path("."))

    def train_config(self, *, model: str, name: str, folder: Path, **overrides: Any) -> Any:
        """The TrainConfig of one sub-run: these settings, the model, `folder/runs/<name>`."""
        from ..train.config import TrainConfig
        values = dict(model=model, data=self.data, data_dir=self.data_dir, img_size=self.img_size,
                      limit_train=self.limit_train, limit_eval=self.limit_eval, epochs=self.epochs,
                      batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay, seed=self.seed,
                      device=self.device, output=str(folder / "runs"), name=name, quiet=True)
        values.update(overrides)
        return TrainConfig(**values)


@dataclass(frozen=True)
class RunRecord:
    """A finished run folder as the experiments and reports read it."""

    path: Path
    config: dict[str, Any]
    history: list[dict[str, float]]
    summary: dict[str, Any]

    @property
    def test_error(self) -> float:
        return 1.0 - float(self.summary["test"]["top1"])


def read_run(run_dir: str | Path) -> RunRecord:
    """config.yaml, metrics.csv and summary.json of a finished run folder."""
    path = Path(run_dir)
    missing = [n for n in ("config.yaml", "metrics.csv", "summary.json") if not (path / n).is_file()]
    if missing:
        raise ExperimentError(f"{path} is not a finished run folder (no {', '.join(missing)}); "
                              "train it with `cnnzoo train` first")
    try:
        config = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8")) or {}
        with open(path / "metrics.csv", newline="", encoding="utf-8") as f:
            history = [{k: float(v) for k, v in row.items() if k and v not in ("", None)} for row in csv.DictReader(f)]
        summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
    except (yaml.YAMLError, ValueError, TypeError, OSError) as e:  # damaged by hand or by a copy
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExperimentError(f"{path} is not a readable run folder ({first})") from None
    if not isinstance(config, dict) or not isinstance(summary, dict) or "model" not in config:
        raise ExperimentError(f"{path}: config.yaml / summary.json are not those of a cnnzoo run")
    if not history or "epoch" not in history[0]:
        raise ExperimentError(f"{path}/metrics.csv holds no epochs; expected one row per trained epoch")
    return RunRecord(path, config, history, summary)


class ExperimentFolder:
    """The folder of one experiment: settings checked against a previous call's, files, sub-runs."""

    def __init__(self, kind: str, settings: Any, *, log: Callable[[str], None] = print) -> None:
        self.kind, self.settings, self.log = kind, settings, log
        self.path = Path(settings.out) if settings.out else Path("experiments") / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # a file in the way, a read-only parent
            raise ExperimentError(f"--out {self.path}: cannot make the experiment folder ({e.strerror or e}); "
                                  "expected a folder, or a path where one can be made") from None
        wanted = {"experiment": kind, **to_mapping(settings)}
        wanted.pop("out")
        stored_file = self.path / "experiment.yaml"
        if not stored_file.is_file() and (self.path / "config.yaml").is_file():
            raise ExperimentError(f"--out {self.path} is a run folder; expected a new or an experiment folder")
        if stored_file.is_file():
            try:
                stored = yaml.safe_load(stored_file.read_text(encoding="utf-8")) or {}
            except (yaml.YAMLError, OSError, UnicodeDecodeError):
                stored = None
            if not isinstance(stored, dict):
                raise ExperimentError(f"{stored_file} is not an experiment's settings; use another --out")
            changed = sorted(k for k in wanted.keys() | stored.keys() if stored.get(k) != wanted.get(k))
            if changed:
                raise ExperimentError(f"{self.path} holds a {stored.get('experiment')} experiment with other settings "
                                      f"({', '.join(f'{k}: {stored.get(k)!r}' for k in changed)}); "
                                      "use the same settings to reuse its runs, or another --out")
        self.write_text("experiment.yaml", yaml.safe_dump(wanted, sort_keys=False))

    def write_text(self, name: str, text: str) -> Path:
        from ..train.checkpoint import atomic_write
        target = self.path / name
        atomic_write(target, lambda f: f.write(text.encode("utf-8")))
        return target

    def write_csv(self, name: str, rows: Iterable[dict[str, Any]]) -> Path:
        return self.write_text(name, csv_text(rows))

    def sub_run(self, cfg: Any) -> RunRecord:
        """The run `cfg` describes: reused when finished with this config, resumed when cut short."""
        from ..train.trainer import Trainer
        run_dir = Path(cfg.output) / cfg.name
        if (run_dir / "summary.json").is_file():
            self.log(f"  {cfg.name}: finished before, reused ({run_dir})")
            return read_run(run_dir)
        start = time.perf_counter()
        if (run_dir / "checkpoints" / "last.state.pt").is_file():
            self.log(f"  {cfg.name}: resuming the interrupted run in {run_dir}")
            trainer = Trainer.resume(run_dir, argv=[])
        else:
            if run_dir.exists():  # cut short before its first epoch ended: nothing to keep
                import shutil
                shutil.rmtree(run_dir)
            self.log(f"  {cfg.name}: training {cfg.model} for {cfg.epochs} epochs ...")
            trainer = Trainer(cfg, argv=[])
        result = trainer.run()
        self.log(f"  {cfg.name}: test error {1 - result.test.top1:.4f} ({time.perf_counter() - start:.0f} s)")
        return read_run(run_dir)


def names_from(text: str, *, option: str, known: Iterable[str]) -> list[str]:
    """The names of a comma-separated option (`--blocks 5x5,3x3+3x3`), each one of `known`."""
    from ..errors import ConfigError
    known = tuple(known)
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names or any(n not in known for n in names):
        raise ConfigError(f"{option} {text!r}: expected some of {', '.join(known)}")
    return names


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Rows of equal keys as a GitHub markdown table (floats with 4 decimals)."""
    if not rows:
        return ""
    keys = list(rows[0])
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.2e}" if v and abs(v) < 1e-3 else f"{v:.4f}"
        return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r.get(k, "")) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def figure(width: float, height: float) -> Any:
    """A matplotlib Figure on the Agg canvas (no display needed)."""
    from ..train.report import _figure
    return _figure(width, height)


@dataclass
class RunTestSet:
    """A run's trained model (best checkpoint) and its test split, preprocessed once."""

    loaded: Any  # train.inference.Loaded
    images: Any  # uint8 (N, C, H, W), as stored
    inputs: Any  # float (N, C', h, w): the model's normalised input
    labels: Any  # int64 (N,)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.loaded.classes


def load_test_set(run_dir: str | Path, *, device: Any, limit_eval: int | None = None) -> RunTestSet:
    """The model of `run_dir` (eval mode) and the test split its config describes (the same
    split, subset and preprocessing as the run's own test; `limit_eval` may cut it further)."""
    import torch

    from ..data import load_data
    from ..train.inference import load_checkpoint
    run = read_run(run_dir)
    cfg = run.config
    loaded = load_checkpoint(run.path, device=device)
    limits = [x for x in (limit_eval, cfg.get("limit_eval")) if x is not None]
    data = load_data(cfg["data"], size=loaded.pipeline.out_size[0], seed=cfg["seed"], data_dir=cfg["data_dir"],
                     download=False, val_fraction=cfg["val_fraction"], test_fraction=cfg["test_fraction"],
                     limit_eval=min(limits) if limits else None)
    test = data.test
    images = test.images if hasattr(test, "images") else torch.stack([test[i][0] for i in range(len(test))])
    with torch.no_grad():
        inputs = torch.cat([loaded.pipeline.eval(images[i:i + 512].to(device)) for i in range(0, len(images), 512)])
    return RunTestSet(loaded, images, inputs, test.labels.to(device))


def predict_logits(model: Any, inputs: Any, *, batch: int = 500) -> Any:
    """Logits of `model` (eval mode, no grad) over `inputs` in batches."""
    import torch

    from ..models.base import split_outputs
    with torch.no_grad():
        return torch.cat([split_outputs(model(inputs[i:i + batch]))[0].float() for i in range(0, len(inputs), batch)])


def error_rate(model: Any, test: RunTestSet) -> float:
    return float((predict_logits(model, test.inputs).argmax(1) != test.labels).float().mean())

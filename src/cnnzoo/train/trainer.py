"""The main job: train a model on a data set, keep the best checkpoint, test it, report.

One epoch: batches of uint8 images come from memory (or a streaming DataLoader) onto the
device, are augmented and normalised there in one go (`data.augment.BatchPipeline`), then the
usual step: autocast forward, loss (+ auxiliary heads), scaled backward, optimiser and
schedule step. Loss and accuracy accumulate on the device, so the CPU never waits on the GPU
inside an epoch. After each epoch: validation, metrics row (CSV + TensorBoard), `last`
checkpoint and training state, `best` when validation top-1 improved, early stopping.
After the last epoch: the best weights are tested and the report written.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import yaml
from torch import nn

from ..config import to_mapping
from ..data import DataBundle, load_data
from ..data.augment import AUGMENTS, BatchPipeline
from ..data.limit import limit_bundle
from ..data.loaders import BatchSource
from ..errors import CheckpointError, ConfigError
from ..models.base import ZooModel, split_outputs
from ..registry import create_model, model_input_size
from . import checkpoint as ckpt
from . import distributed as dist
from .config import TrainConfig
from .cpu import tune_for_training
from .evaluate import evaluate
from .metrics import Metrics
from .optim import build_optimizer, build_scheduler
from .progress import EpochProgress
from .provenance import collect as collect_provenance


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    test: Metrics
    best_epoch: int
    epochs_run: int
    train_samples_per_s: float
    wall_s: float


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available (use --device cpu or auto)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("--device mps: MPS is not available on this machine (use --device cpu or auto)")
    return torch.device(name)


def autocast_dtype(precision: str) -> torch.dtype | None:
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def model_meta(model: ZooModel, data: DataBundle, pipeline: BatchPipeline, cfg: TrainConfig) -> dict[str, Any]:
    """What a checkpoint must hold to rebuild the model and its preprocessing without the run."""
    return {
        "model": model.model_name,
        "model_args": model.model_args,
        "model_spec": getattr(model, "spec_text", None),
        "classes": list(data.classes),
        "input_size": [model.in_chans, *pipeline.out_size],
        "mean": list(pipeline.mean),
        "std": list(pipeline.std),
        "data": {"name": data.name, "channels": data.channels, "hflip_valid": data.hflip_valid,
                 "eval_crop": data.eval_crop},
        "config": to_mapping(cfg),
    }


class Trainer:
    """One training run. `Trainer(cfg).run()`; `Trainer.resume(run_dir).run()` continues one."""

    def __init__(self, cfg: TrainConfig, *, run_dir: Path | None = None, argv: list[str] | None = None,
                 stream: Any = None) -> None:
        self.t0 = time.perf_counter()
        self.cfg, self.argv = cfg, list(sys.argv[1:] if argv is None else argv)
        self.out = stream or sys.stderr
        device = pick_device(cfg.device)
        self.dist, self.device = dist.init(device)
        self.verbose = self.dist.is_main and not cfg.quiet
        torch.manual_seed(cfg.seed)
        if self.device.type == "cpu":
            tune_for_training()
        # model geometry first: image folders are decoded straight to the model's input size
        chans, height, _ = model_input_size(cfg.model)
        size = cfg.img_size or height
        self.data = load_data(cfg.data, size=size, seed=cfg.seed, data_dir=cfg.data_dir, download=cfg.download,
                              val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction, strict=cfg.strict)
        self.data = limit_bundle(self.data, train=cfg.limit_train, evaluation=cfg.limit_eval, seed=cfg.seed)
        self.model = create_model(cfg.model, num_classes=len(self.data.classes))
        mean, std = self.data.mean, self.data.std
        if cfg.pretrained:
            from ..models.pretrained import load_pretrained
            from ..registry import model_card
            report = load_pretrained(self.model, cfg.pretrained)  # the new head keeps its fresh init
            card = model_card(cfg.model)
            mean, std = card.mean, card.std  # the weights were trained on inputs normalised this way
            if self.verbose:
                print(f"pretrained: {report}", file=self.out, flush=True)
        preset = self.data.default_augment if cfg.augment == "auto" else cfg.augment
        self.pipeline = BatchPipeline(out_size=(size, size), in_chans=self.model.in_chans, mean=mean,
                                      std=std, augment=AUGMENTS[preset], hflip_valid=self.data.hflip_valid,
                                      eval_crop=self.data.eval_crop, channels_last=cfg.channels_last)
        self.augment_name = preset
        self.model.to(self.device)
        if cfg.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.runner: nn.Module = self.model
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.runner = DistributedDataParallel(self.model, device_ids=ids)
        if cfg.compile:
            self.runner = torch.compile(self.runner)

        common = dict(device=self.device, rank=self.dist.rank, world=self.dist.world)
        self.train_src = BatchSource(self.data.train, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed,
                                     workers=cfg.workers, training=True, **common)
        self.val_src = BatchSource(self.data.val, batch_size=max(256, cfg.batch_size), shuffle=False,
                                   workers=cfg.workers, **common) if self.data.val is not None else None
        self.optimizer = build_optimizer(self.model, cfg)
        self.scheduler = build_scheduler(self.optimizer, cfg, len(self.train_src))
        self.amp_dtype = autocast_dtype(cfg.precision)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=cfg.precision == "fp16")
        self.aug_gen = torch.Generator(self.device).manual_seed(cfg.seed * 7919 + self.dist.rank)

        self.epoch = 0  # epochs completed
        self.best_top1, self.best_loss, self.best_epoch, self.stale = -1.0, float("inf"), 0, 0
        self.history: list[dict[str, float]] = []
        self.train_time, self.train_samples = 0.0, 0
        self.run_dir = run_dir or self._agreed_run_dir()
        self.best_state: dict[str, torch.Tensor] | None = None  # in memory on every rank
        self.writer = None

    # -- run folder --------------------------------------------------------------------------
    def _agreed_run_dir(self) -> Path:
        """Rank 0 makes the run folder; every rank learns its path (or rank 0's error)."""
        made: Path | Exception | None = None
        if self.dist.is_main:
            try:
                made = self._new_run_dir()
            except ConfigError as e:
                made = e
        made = dist.broadcast_object(made)  # type: ignore[assignment]
        if isinstance(made, Exception):
            raise made
        assert made is not None
        return made

    def _new_run_dir(self) -> Path:
        cfg = self.cfg
        if cfg.name:
            run_dir = Path(cfg.output) / cfg.name
            if (run_dir / "checkpoints").exists():
                raise ConfigError(f"run folder {run_dir} already holds a run; choose another --name, "
                                  f"or continue it with --resume {run_dir}")
        else:  # <model>-<data>-<time>, with -2, -3... when runs start within the same second
            stem = f"{Path(cfg.model).stem}-{Path(cfg.data).name}-{time.strftime('%Y%m%d-%H%M%S')}"
            run_dir, k = Path(cfg.output) / stem, 1
            while run_dir.exists():
                k += 1
                run_dir = Path(cfg.output) / f"{stem}-{k}"
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        return run_dir

    def _start_outputs(self) -> None:
        if not self.dist.is_main:
            return
        ckpt.atomic_write(self.run_dir / "config.yaml",
                          lambda f: f.write(yaml.safe_dump(to_mapping(self.cfg), sort_keys=False).encode()))
        prov = collect_provenance(device=self.device, seed=self.cfg.seed, argv=self.argv, world_size=self.dist.world)
        prov["data"] = {"description": self.data.description, "sizes": self.data.sizes(),
                        "augment": self.augment_name, "skipped_files": [[str(p), r] for p, r in self.data.skipped]}
        ckpt.atomic_write(self.run_dir / "provenance.json", lambda f: f.write(json.dumps(prov, indent=2).encode()))
        from torch.utils.tensorboard import SummaryWriter
        self.writer = SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=self.epoch + 1)

    # -- resume ------------------------------------------------------------------------------
    @classmethod
    def resume(cls, run_dir: Path, *, overrides: dict[str, Any] | None = None, argv: list[str] | None = None,
               stream: Any = None) -> Trainer:
        """Continue the run in `run_dir` from its last training state (config from its config.yaml)."""
        from ..config import from_mapping, load_yaml_mapping
        state_path = run_dir / "checkpoints" / "last.state.pt"
        if not state_path.is_file():
            raise CheckpointError(f"--resume {run_dir}: no checkpoints/last.state.pt there (nothing to resume)")
        cfg = from_mapping(TrainConfig, load_yaml_mapping(run_dir / "config.yaml"), source=str(run_dir / "config.yaml"))
        cfg = replace(cfg, **(overrides or {}))
        trainer = cls(cfg, run_dir=run_dir, argv=argv, stream=stream)
        trainer._load_state(ckpt.load_state(state_path))
        return trainer

    def _load_state(self, state: dict[str, Any]) -> None:
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as e:
            raise CheckpointError(f"the saved model does not fit {self.cfg.model}: {str(e).splitlines()[0]}") from None
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        ranks = state["rng"]
        if len(ranks) != self.dist.world:
            raise CheckpointError(f"the run was saved by {len(ranks)} processes; resume it with as many "
                                  f"(this is {self.dist.world})")
        rng = ranks[self.dist.rank]
        torch.set_rng_state(rng["torch"])
        if self.device.type == "cuda" and rng["cuda"] is not None:
            torch.cuda.set_rng_state(rng["cuda"], self.device)
        self.aug_gen.set_state(rng["augment"])
        self.epoch = state["epoch"]
        self.best_top1, self.best_loss = state["best_top1"], state["best_loss"]
        self.best_epoch, self.stale = state["best_epoch"], state["stale"]
        self.history = list(state["history"])
        self.train_time, self.train_samples = state["train_time"], state["train_samples"]

    def _rng_state(self) -> dict[str, torch.Tensor | None]:
        return {"torch": torch.get_rng_state(), "augment": self.aug_gen.get_state().cpu(),
                "cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None}

    def _state(self, rng_states: list[object]) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_states,  # one entry per rank
            "best_top1": self.best_top1, "best_loss": self.best_loss, "best_epoch": self.best_epoch,
            "stale": self.stale,
            "history": self.history, "train_time": self.train_time, "train_samples": self.train_samples,
            "meta": json.dumps(model_meta(self.model, self.data, self.pipeline, self.cfg)),
        }

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> RunResult:
        try:
            return self._run()
        finally:
            if self.writer is not None:
                self.writer.close()
            dist.shutdown()

    def _run(self) -> RunResult:
        cfg = self.cfg
        self._start_outputs()
        if self.verbose:
            print(self._banner(), file=self.out, flush=True)
        while self.epoch < cfg.epochs:
            row = self._train_epoch(self.epoch + 1)
            self.epoch += 1
            val = evaluate(self.runner, self.val_src, self.pipeline, self.data.classes,
                           amp_dtype=self.amp_dtype) if self.val_src is not None else None
            # best = highest validation top-1; ties (small validation sets saturate) go to lower loss
            improved = val is None or val.top1 > self.best_top1 or (
                val.top1 == self.best_top1 and val.loss < self.best_loss)
            if val is not None:
                row.update(val_loss=val.loss, val_acc=val.top1, val_macro_f1=val.macro_f1)
                if val.top5 is not None:
                    row["val_top5"] = val.top5
            # early stopping counts epochs without a strictly better validation top-1
            self.stale = 0 if val is None or val.top1 > self.best_top1 else self.stale + 1
            if improved:
                self.best_top1, self.best_epoch = (val.top1 if val else -1.0), self.epoch
                self.best_loss = val.loss if val else float("inf")
            self.history.append(row)
            if improved:  # every rank holds the same weights (DDP) and the same reduced metrics
                self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
            self._after_epoch(row, val, improved, dist.gather_objects(self._rng_state()))
            if cfg.early_stopping and self.stale >= cfg.early_stopping:
                if self.verbose:
                    print(f"early stopping: no better validation accuracy for {self.stale} epochs "
                          f"(best {self.best_top1:.4f} at epoch {self.best_epoch})", file=self.out, flush=True)
                break
        return self._finish()

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        cfg = self.cfg
        self.runner.train()
        steps = len(self.train_src)
        progress = EpochProgress(epoch, cfg.epochs, steps, enabled=self.verbose, stream=self.out)
        sums = torch.zeros(3, device=self.device, dtype=torch.float64)  # loss sum, correct, count
        report_every = max(1, steps // 20) if progress.bar is not None else 0
        start = time.perf_counter()
        for step, (images, labels) in enumerate(self.train_src.batches(epoch), 1):
            x = self.pipeline.train(images, self.aug_gen)
            with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                                enabled=self.amp_dtype is not None):
                logits, aux, aux_weight = split_outputs(self.runner(x))
                loss = F.cross_entropy(logits, labels, label_smoothing=cfg.label_smoothing)
                for a in aux:
                    loss = loss + aux_weight * F.cross_entropy(a, labels, label_smoothing=cfg.label_smoothing)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if cfg.grad_clip is not None:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            with torch.no_grad():
                n = labels.new_tensor(len(labels), dtype=torch.float64)
                sums += torch.stack([loss.detach().double() * n, (logits.argmax(1) == labels).sum().double(), n])
            if report_every and (step % report_every == 0 or step == steps):
                s = sums.tolist()
                progress.update(report_every if step % report_every == 0 else step % report_every,
                                s[0] / s[2], s[1] / s[2], int(s[2]) * self.dist.world)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elapsed = time.perf_counter() - start
        dist.all_reduce_sum(sums)
        loss_sum, correct, count = sums.tolist()
        self.train_time += elapsed
        self.train_samples += int(count)
        row = {"epoch": float(epoch), "lr": self.optimizer.param_groups[0]["lr"], "train_loss": loss_sum / count,
               "train_acc": correct / count, "train_samples_per_s": count / elapsed, "epoch_s": elapsed}
        progress.close(f"loss {row['train_loss']:.4f} acc {row['train_acc']:.4f} "
                       f"{row['train_samples_per_s']:,.0f} samples/s")
        return row

    def _after_epoch(self, row: dict[str, float], val: Metrics | None, improved: bool,
                     rng_states: list[object]) -> None:
        if not self.dist.is_main:
            return
        if self.verbose and val is not None:
            print(f"          val loss {val.loss:.4f} acc {val.top1:.4f} macro-F1 {val.macro_f1:.4f}"
                  f"{'  (best)' if improved else ''}", file=self.out, flush=True)
        self._write_csv()
        assert self.writer is not None
        for key, value in row.items():
            if key != "epoch":
                split, _, metric = key.partition("_")
                self.writer.add_scalar(f"{split}/{metric}" if metric else key, value, self.epoch)
        self.writer.flush()
        folder = self.run_dir / "checkpoints"
        if improved:
            ckpt.save_weights(folder / "best.safetensors", self.model.state_dict(), self._epoch_meta())
        # the resume point; the last weights as .safetensors are written once, at the end
        ckpt.save_state(folder / "last.state.pt", self._state(rng_states))

    def _epoch_meta(self) -> dict[str, Any]:
        meta = model_meta(self.model, self.data, self.pipeline, self.cfg)
        row = self.history[-1] if self.history else {}
        meta.update(epoch=self.epoch, metrics={k: v for k, v in row.items() if k != "epoch"})
        return meta

    def _write_csv(self) -> None:
        keys: list[str] = []
        for row in self.history:
            keys.extend(k for k in row if k not in keys)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys)
        w.writeheader()
        for row in self.history:
            w.writerow({k: (int(v) if k == "epoch" else f"{v:.6g}") for k, v in row.items()})
        ckpt.atomic_write(self.run_dir / "metrics.csv", lambda f: f.write(buf.getvalue().encode()))

    def _finish(self) -> RunResult:
        if self.dist.is_main:  # the model still holds the last epoch's weights
            ckpt.save_weights(self.run_dir / "checkpoints" / "last.safetensors", self.model.state_dict(),
                              self._epoch_meta())
        if self.best_state is None:  # resumed, and no better epoch since: the best is on rank 0's disk
            state = ckpt.load_weights(self.run_dir / "checkpoints" / "best.safetensors")[0] if self.dist.is_main else None
            self.best_state = dist.broadcast_object(state)  # type: ignore[assignment]
        assert self.best_state is not None
        self.model.load_state_dict(self.best_state)
        test_src = BatchSource(self.data.test, batch_size=max(256, self.cfg.batch_size), shuffle=False,
                               workers=self.cfg.workers, device=self.device, rank=self.dist.rank,
                               world=self.dist.world)
        test = evaluate(self.runner, test_src, self.pipeline, self.data.classes, amp_dtype=self.amp_dtype)
        rate = self.train_samples / max(self.train_time, 1e-9)
        wall = time.perf_counter() - self.t0
        if self.dist.is_main:
            from .report import plot_confusion, plot_curves
            title = f"{self.model.model_name} on {Path(self.data.name).name}"
            plot_confusion(test.confusion, self.data.classes, self.run_dir / "confusion_matrix.png",
                           title=f"{title}: test top-1 {test.top1:.4f}")
            plot_curves(self.history, self.run_dir / "learning_curves.png", title=title)
            summary = {"test": {**test.headline(), "precision": test.precision, "recall": test.recall,
                                "count": test.count},
                       "best_epoch": self.best_epoch, "epochs_run": self.epoch,
                       "train_samples_per_s": rate, "train_s": self.train_time, "wall_s": wall}
            ckpt.atomic_write(self.run_dir / "summary.json", lambda f: f.write(json.dumps(summary, indent=2).encode()))
        return RunResult(self.run_dir, test, self.best_epoch, self.epoch, rate, wall)

    def _banner(self) -> str:
        d, m = self.data, self.model
        params = sum(p.numel() for p in m.parameters())
        return (f"cnnzoo train: {m.model_name} ({params:,} parameters) on {d.description}\n"
                f"  split {d.sizes()}, input {m.in_chans}x{self.pipeline.out_size[0]}x{self.pipeline.out_size[1]}, "
                f"augment {self.augment_name}, device {self.device}"
                f"{f' x {self.dist.world} processes' if self.dist.enabled else ''}, precision {self.cfg.precision}\n"
                f"  run folder {self.run_dir}")

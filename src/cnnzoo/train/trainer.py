"""The main job: train a model on a data set, keep the best checkpoint, test it, report.

The parts are built by `train.setup.build_parts`; epochs run in `train.engine`
(`train_one_epoch`, `evaluate`); the best epoch and early stopping are `train.tracker.BestTracker`;
files go to `train.run_folder.RunFolder`. After each epoch: validation, metrics row (CSV +
TensorBoard), `last` training state, `best` checkpoint when validation top-1 improved, early
stopping. After the last epoch: the best weights are tested and the report written.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError
from ..input_size import format_chw
from . import checkpoint as ckpt
from .checkpoint_meta import CheckpointMeta
from . import distributed as dist
from .config import TrainConfig
# re-exported: `from cnnzoo.train.trainer import pick_device` keeps working
from .device import autocast_dtype, pick_device  # noqa: F401
from .engine import evaluate, train_one_epoch
from .guards import check_finite_epoch, finite_weights, first_epoch_unfinished
from .metrics import Metrics
from .optim import observe_plateau
from .progress import EpochProgress
from .provenance import collect as collect_provenance
from .run_folder import RunFolder
from .setup import build_parts, build_test_source
from .tracker import BestTracker


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    test: Metrics
    best_epoch: int
    epochs_run: int
    train_samples_per_s: float
    wall_s: float


class Trainer:
    """One training run. `Trainer(cfg).run()`; `Trainer.resume(run_dir).run()` continues one."""

    def __init__(self, cfg: TrainConfig, *, run_dir: Path | None = None, argv: list[str] | None = None,
                 stream: Any = None) -> None:
        self.t0 = time.perf_counter()
        self.cfg, self.argv = cfg, list(sys.argv[1:] if argv is None else argv)
        self.out = stream or sys.stderr
        self.parts = build_parts(cfg, stream=self.out)
        self.cfg = cfg = self.parts.cfg or cfg  # with the derived defaults (train.defaults)
        self.dist, self.device = self.parts.dist, self.parts.device
        self.verbose = self.dist.is_main and not cfg.quiet
        self.data, self.model, self.pipeline = self.parts.data, self.parts.model, self.parts.pipeline
        self.epoch = 0  # epochs completed
        self.tracker = BestTracker(patience=cfg.early_stopping)
        self.history: list[dict[str, float]] = []
        self.train_time, self.train_samples = 0.0, 0
        self.folder = (RunFolder(run_dir, is_main=self.dist.is_main) if run_dir is not None
                       else RunFolder.create(cfg, is_main=self.dist.is_main))
        self.run_dir = self.folder.path
        self.best_state: dict[str, torch.Tensor] | None = None  # in memory on every rank
        self.meta = CheckpointMeta.of_run(self.model, self.data, self.pipeline, cfg)

    def log(self, text: str) -> None:
        if self.verbose:
            print(text, file=self.out, flush=True)

    # -- resume ------------------------------------------------------------------------------
    @classmethod
    def resume(cls, run_dir: Path, *, overrides: dict[str, Any] | None = None, argv: list[str] | None = None,
               stream: Any = None) -> Trainer:
        """Continue the run in `run_dir` from its last training state (config from its config.yaml)."""
        from ..config import from_mapping, load_yaml_mapping
        state_path = run_dir / "checkpoints" / "last.state.pt"
        if not state_path.is_file():
            again = (f"; it was stopped before its first epoch ended: start it again with --name {run_dir.name}"
                     if first_epoch_unfinished(run_dir) else "")
            raise CheckpointError(f"--resume {run_dir}: no checkpoints/last.state.pt there (nothing to resume){again}")
        cfg = from_mapping(TrainConfig, load_yaml_mapping(run_dir / "config.yaml"), source=str(run_dir / "config.yaml"))
        cfg = replace(cfg, **(overrides or {}))
        trainer = cls(cfg, run_dir=run_dir, argv=argv, stream=stream)
        trainer._load_state(ckpt.load_state(state_path))
        return trainer

    def _load_state(self, state: dict[str, Any]) -> None:
        p = self.parts
        saved = CheckpointMeta.from_json(state["meta"], source="last.state.pt")
        if saved.classes != self.meta.classes:
            raise CheckpointError(f"the run was trained on classes {list(saved.classes)[:10]} but {self.cfg.data} "
                                  f"now has {list(self.meta.classes)[:10]}: resume with the same data")
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as e:
            raise CheckpointError(f"the saved model does not fit {self.cfg.model}: {str(e).splitlines()[0]}") from None
        p.optimizer.load_state_dict(state["optimizer"])
        p.scheduler.load_state_dict(state["scheduler"])
        p.scaler.load_state_dict(state["scaler"])
        ranks = state["rng"]
        if len(ranks) != self.dist.world:
            raise CheckpointError(f"the run was saved by {len(ranks)} processes; resume it with as many "
                                  f"(this is {self.dist.world})")
        rng = ranks[self.dist.rank]
        torch.set_rng_state(rng["torch"])
        if self.device.type == "cuda" and rng["cuda"] is not None:
            torch.cuda.set_rng_state(rng["cuda"], self.device)
        p.aug_gen.set_state(rng["augment"])
        self.epoch = state["epoch"]
        self.tracker.load(state)
        self.history = list(state["history"])
        self.train_time, self.train_samples = state["train_time"], state["train_samples"]

    def _rng_state(self) -> dict[str, torch.Tensor | None]:
        return {"torch": torch.get_rng_state(), "augment": self.parts.aug_gen.get_state().cpu(),
                "cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None}

    def _state(self, rng_states: list[object]) -> dict[str, Any]:
        p = self.parts
        return {
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": p.optimizer.state_dict(),
            "scheduler": p.scheduler.state_dict(),
            "scaler": p.scaler.state_dict(),
            "rng": rng_states,  # one entry per rank
            **self.tracker.state(),
            "history": self.history, "train_time": self.train_time, "train_samples": self.train_samples,
            "meta": self.meta.to_json(),
        }

    def _epoch_meta(self) -> dict[str, Any]:
        row = self.history[-1] if self.history else {}
        return self.meta.with_metrics(self.epoch, {k: v for k, v in row.items() if k != "epoch"}).to_dict()

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> RunResult:
        try:
            result = self._run()
            dist.barrier()  # ranks tear the process group down together, none while another still uses it
            return result
        finally:
            self.folder.close()
            dist.shutdown()

    def _run(self) -> RunResult:
        self._start_outputs()
        self.log(self._banner())
        if self.cfg.finetune == "linear-probe":  # no gradient steps: a fitted classifier (train.finetune)
            from .finetune import run_linear_probe
            run_linear_probe(self)
        while self.epoch < self.cfg.epochs and self.cfg.finetune != "linear-probe":
            self._epoch()
            if self.tracker.should_stop:
                t = self.tracker
                self.log(f"early stopping: no better validation accuracy for {t.stale} epochs "
                         f"(best {t.top1:.4f} at epoch {t.epoch})")
                break
        return self._finish()

    def _start_outputs(self) -> None:
        prov: dict[str, Any] = {}
        if self.dist.is_main:
            prov = collect_provenance(device=self.device, seed=self.cfg.seed, argv=self.argv,
                                      world_size=self.dist.world)
            prov["data"] = {"description": self.data.description, "sizes": self.data.sizes(),
                            "augment": self.parts.augment_name,
                            "skipped_files": [[str(p), r] for p, r in self.data.skipped]}
        self.folder.start(self.cfg, prov, epochs_done=self.epoch)

    def _epoch(self) -> None:
        """Train one epoch, validate, track the best, write the epoch's outputs."""
        p, cfg = self.parts, self.cfg
        progress = EpochProgress(self.epoch + 1, cfg.epochs, len(p.train_src), enabled=self.verbose, stream=self.out)
        row, seen = train_one_epoch(p, cfg, self.epoch + 1, progress)
        check_finite_epoch(row, lr=cfg.lr, grad_clip=cfg.grad_clip)
        self.epoch += 1
        self.train_time += row["epoch_s"]
        self.train_samples += seen
        val = evaluate(p.runner, p.val_src, p.pipeline, self.data.classes,
                       amp_dtype=p.amp_dtype) if p.val_src is not None else None
        if val is not None:
            row.update(val_loss=val.loss, val_acc=val.top1, val_macro_f1=val.macro_f1)
            if val.top5 is not None:
                row["val_top5"] = val.top5
        improved = self.tracker.update(self.epoch, val) and finite_weights(self.model.state_dict())
        if observe_plateau(p.scheduler, val.top1 if val is not None else None):  # --schedule plateau
            self.log(f"          validation accuracy stalled: learning rate now {p.optimizer.param_groups[0]['lr']:.3g}")
        self.history.append(row)
        if improved:  # every rank holds the same weights (DDP) and the same reduced metrics
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
        rng_states = dist.gather_objects(self._rng_state())
        if self.dist.is_main:
            if val is not None:
                self.log(f"          val loss {val.loss:.4f} acc {val.top1:.4f} macro-F1 {val.macro_f1:.4f} "
                         f"micro-F1 {val.micro_f1:.4f}"
                         f"{'  (best)' if improved else ''}")
            self.folder.log_epoch(self.history)
            if improved:
                self.folder.save_weights("best", self.model.state_dict(), self._epoch_meta())
            # the resume point; the last weights as .safetensors are written once, at the end
            self.folder.save_state(self._state(rng_states))

    def _finish(self) -> RunResult:
        # the model still holds the last epoch's weights
        self.folder.save_weights("last", self.model.state_dict(), self._epoch_meta())
        if self.best_state is None:  # resumed, and no better epoch since: the best is on rank 0's disk
            self.best_state = self.folder.load_best_everywhere()
        self.model.load_state_dict(self.best_state)
        test = evaluate(self.parts.runner, build_test_source(self.cfg, self.parts), self.pipeline, self.data.classes,
                        amp_dtype=self.parts.amp_dtype)
        rate = self.train_samples / max(self.train_time, 1e-9)
        wall = time.perf_counter() - self.t0
        summary = {"test": {**test.headline(), "precision": test.precision, "recall": test.recall,
                            "count": test.count},
                   "best_epoch": self.tracker.epoch, "epochs_run": self.epoch,
                   "train_samples_per_s": rate, "train_s": self.train_time, "wall_s": wall}
        self.folder.finish(test=test, history=self.history, classes=self.data.classes, summary=summary,
                           title=f"{self.model.model_name} on {Path(self.data.name).name}")
        return RunResult(self.run_dir, test, self.tracker.epoch, self.epoch, rate, wall)

    def _banner(self) -> str:
        d, m = self.data, self.model
        params = sum(p.numel() for p in m.parameters())
        return (f"cnnzoo train: {m.model_name} ({params:,} parameters) on {d.description}\n"
                f"  split {d.sizes()}, input {format_chw(self.meta.input_size)}, "
                f"augment {self.parts.augment_name}, device {self.device}"
                f"{f' x {self.dist.world} processes' if self.dist.enabled else ''}, precision {self.cfg.precision}\n"
                f"  run folder {self.run_dir}")

"""Classification metrics from a confusion matrix: top-1, top-5, macro-F1, per-class P/R.

Counts are accumulated on the device during evaluation (no host sync per batch) and can be
summed across DDP ranks before the metrics are computed, so they are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


class MetricAccumulator:
    """Running sums over batches: loss, top-k hits, confusion matrix (true x predicted)."""

    def __init__(self, num_classes: int, device: torch.device) -> None:
        self.num_classes = num_classes
        self.confusion = torch.zeros(num_classes, num_classes, dtype=torch.long, device=device)
        self.sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss sum, top-5 hits, count

    def update(self, logits: Tensor, labels: Tensor, loss_sum: Tensor) -> None:
        pred = logits.argmax(1)
        self.confusion += torch.bincount(labels * self.num_classes + pred,
                                         minlength=self.num_classes ** 2).view(self.num_classes, -1)
        k = min(5, self.num_classes)
        top5 = (logits.topk(k, dim=1).indices == labels[:, None]).any(1).sum()
        self.sums += torch.stack([loss_sum.double(), top5.double(), torch.tensor(len(labels), device=labels.device,
                                                                                  dtype=torch.float64)])

    def all_reduce(self) -> None:
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(self.confusion)
            dist.all_reduce(self.sums)

    def result(self, classes: tuple[str, ...]) -> Metrics:
        return Metrics.from_counts(self.confusion.cpu(), self.sums.cpu(), classes)


@dataclass(frozen=True)
class Metrics:
    loss: float
    top1: float
    top5: float | None  # defined only with more than 5 classes
    macro_f1: float
    precision: dict[str, float]
    recall: dict[str, float]
    f1: dict[str, float]
    support: dict[str, int]
    confusion: list[list[int]]  # [true][predicted]
    count: int

    @staticmethod
    def from_counts(confusion: Tensor, sums: Tensor, classes: tuple[str, ...]) -> Metrics:
        cm = confusion.double()
        tp = cm.diag()
        predicted, actual = cm.sum(0), cm.sum(1)
        precision = torch.where(predicted > 0, tp / predicted.clamp_min(1), 0.0)
        recall = torch.where(actual > 0, tp / actual.clamp_min(1), 0.0)
        f1 = torch.where(precision + recall > 0, 2 * precision * recall / (precision + recall).clamp_min(1e-12), 0.0)
        present = actual > 0  # macro average over the classes that occur, as scikit-learn's labels=present
        count = int(sums[2])
        return Metrics(
            loss=float(sums[0]) / max(count, 1),
            top1=float(tp.sum()) / max(count, 1),
            top5=float(sums[1]) / max(count, 1) if len(classes) > 5 else None,
            macro_f1=float(f1[present].mean()) if present.any() else 0.0,
            precision=dict(zip(classes, precision.tolist(), strict=True)),
            recall=dict(zip(classes, recall.tolist(), strict=True)),
            f1=dict(zip(classes, f1.tolist(), strict=True)),
            support=dict(zip(classes, actual.long().tolist(), strict=True)),
            confusion=confusion.tolist(),
            count=count,
        )

    @property
    def micro_f1(self) -> float:
        """F1 of the pooled counts: with one label per image, pooled precision = pooled recall =
        top-1, so micro-F1 equals top-1 accuracy (Kaggle's "mean F1" of the course's homework)."""
        return self.top1

    def headline(self) -> dict[str, float]:
        """The numbers scripts read (`--json`): top1, top5 (when defined), macro_f1, micro_f1, loss."""
        out = {"top1": self.top1, "macro_f1": self.macro_f1, "micro_f1": self.micro_f1, "loss": self.loss}
        if self.top5 is not None:
            out["top5"] = self.top5
        return out

    def per_class_table(self) -> str:
        width = max(8, *(len(c) for c in self.precision))
        lines = [f"{'class':<{width}}  precision  recall     f1  support"]
        for c in self.precision:
            lines.append(f"{c:<{width}}  {self.precision[c]:9.4f}  {self.recall[c]:6.4f}  {self.f1[c]:5.4f}"
                         f"  {self.support[c]:7d}")
        return "\n".join(lines)

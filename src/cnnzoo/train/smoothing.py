"""Label smoothing towards the class prior (seed 000 §3.5, Inception v3 §7): the one-hot target
is mixed with a distribution over the classes, q' = (1 - eps) onehot(y) + eps u. Inception v3
uses the uniform u = 1/K; the lecture describes u = the classes' frequencies in the training set,
which keeps the smoothed targets' average equal to the data's own class balance:

    loss = (1 - eps) CE(logits, y) - eps sum_k u_k log softmax(logits)_k
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def class_prior(labels: Tensor, num_classes: int) -> Tensor:
    """The frequency of each class among `labels`: (num_classes,), summing to 1."""
    counts = torch.bincount(labels.flatten().long(), minlength=num_classes).double()
    return (counts / counts.sum()).float()


def smoothed_cross_entropy(logits: Tensor, labels: Tensor, *, eps: float, prior: Tensor | None,
                           weight: Tensor | None = None) -> Tensor:
    """Cross-entropy against (1 - eps) onehot(y) + eps prior (uniform when `prior` is None);
    `weight`: per-class loss weights (--balance weights), a weighted mean over the batch as
    `F.cross_entropy` takes it."""
    if prior is None or eps == 0:
        return F.cross_entropy(logits, labels, weight=weight, label_smoothing=eps)
    logp = F.log_softmax(logits.float(), dim=1)
    per_sample = -(1.0 - eps) * logp.gather(1, labels[:, None]).squeeze(1) - eps * (logp * prior.to(logp.device)).sum(1)
    if weight is None:
        return per_sample.mean()
    w = weight.to(logp.device)[labels]
    return (per_sample * w).sum() / w.sum()

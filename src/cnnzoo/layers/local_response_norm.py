"""Local response normalisation as AlexNet defines it (Krizhevsky et al. 2012, §3.3)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

# §3.3: k = 2, n = 5, alpha = 1e-4, beta = 0.75.
LRN_K, LRN_SIZE, LRN_ALPHA, LRN_BETA = 2.0, 5, 1e-4, 0.75


class LocalResponseNorm(nn.Module):
    """Local response normalisation in the paper's form (§3.3):

        b[i] = a[i] / (k + alpha * sum_{j = i - n/2}^{i + n/2} a[j]^2) ^ beta

    with the sum clipped at the first and last map. PyTorch's `local_response_norm` (like Caffe)
    divides alpha by n, so it is called with n * alpha. `groups` normalises each group of maps
    on its own: in the two-GPU network each GPU's response normalisation sees only its own maps.
    """

    def __init__(self, size: int = LRN_SIZE, *, alpha: float = LRN_ALPHA, beta: float = LRN_BETA,
                 k: float = LRN_K, groups: int = 1) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k, self.groups = size, alpha, beta, k, groups

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, C, H, W)
        n, c, h, w = x.shape
        grouped = x.reshape(n * self.groups, c // self.groups, h, w)  # each tower's maps as a sample
        y = F.local_response_norm(grouped, self.size, alpha=self.alpha * self.size, beta=self.beta, k=self.k)
        return y.reshape(n, c, h, w)

    def extra_repr(self) -> str:
        return (f"size={self.size}, alpha={self.alpha:g} (the paper's: not divided by n), beta={self.beta}, "
                f"k={self.k}, groups={self.groups}")

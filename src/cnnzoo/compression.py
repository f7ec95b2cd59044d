"""Deep Compression's first two stages (Han, Mao, Dally 2015; SqueezeNet §4 and seed 002's
table: 421,098 non-zero parameters of 1,248,424, 6-bit): magnitude pruning, then weight sharing.

- Pruning (Han et al. §2): in every convolution and fully connected weight, the fraction `prune`
  of smallest |w| is set to 0 (per layer, as the paper's per-layer thresholds).
- Weight sharing (§3): the surviving weights of each layer are clustered by 1-D k-means into
  2^bits values (centroids initialised linearly over [min, max], the paper's best choice, Fig. 4);
  each weight becomes its centroid.
- Storage: for each compressed layer, a bit mask of the non-zero positions (1 bit per weight),
  the cluster index of each non-zero weight packed at `bits` bits, and the 2^bits float32
  centroids; every other tensor (biases, batch norm) as float32. Huffman coding (§4) is not done.
  `save_compressed` writes that, `load_compressed` reads it back into a state dict.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from torch import Tensor, nn

_MAGIC = b"CNNZOO-DC1\n"
_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


@dataclass(frozen=True)
class LayerStats:
    name: str  # the weight's state-dict name
    params: int  # weights before pruning
    nonzero: int  # weights left
    unique: int  # distinct non-zero values

    @property
    def density(self) -> float:
        return self.nonzero / self.params

    @property
    def bits(self) -> int:
        """Bits an index into this layer's shared values needs."""
        return max(1, math.ceil(math.log2(max(self.unique, 1))))


def compressible(model: nn.Module) -> list[str]:
    """State-dict names of the conv / fc weights that get pruned and shared: every layer's `weight`
    of 2 or more dimensions (LeNet-5's sparse C3 included; normalisation scales are 1-D)."""
    return [f"{n}.weight" if n else "weight" for n, m in model.named_modules()
            if isinstance(m, _LAYERS) or (isinstance(getattr(m, "weight", None), nn.Parameter) and m.weight.ndim >= 2)]


def prune_(weight: Tensor, fraction: float) -> None:
    """Zero the `fraction` of entries with the smallest magnitude (in place)."""
    k = int(round(fraction * weight.numel()))
    if k <= 0:
        return
    threshold = weight.abs().flatten().kthvalue(k).values
    weight[weight.abs() <= threshold] = 0.0


def share_(weight: Tensor, bits: int, *, iters: int = 30) -> None:
    """k-means of the non-zero entries into 2^bits centroids (linear init); each entry -> its centroid."""
    mask = weight != 0
    values = weight[mask].double()
    if values.numel() == 0:
        return
    k = min(2 ** bits, values.numel())
    centroids = torch.linspace(values.min().item(), values.max().item(), k, dtype=torch.float64)
    for _ in range(iters):
        assign = (values[:, None] - centroids[None, :]).abs().argmin(1)
        sums = torch.zeros(k, dtype=torch.float64).index_add_(0, assign, values)
        counts = torch.bincount(assign, minlength=k)
        moved = torch.where(counts > 0, sums / counts.clamp(min=1), centroids)
        if torch.allclose(moved, centroids):
            break
        centroids = moved
    assign = (values[:, None] - centroids[None, :]).abs().argmin(1)
    shared = centroids[assign].to(weight.dtype)
    shared[shared == 0] = torch.finfo(weight.dtype).tiny  # a centroid at exactly 0 stays "non-zero"
    weight[mask] = shared


def compress_(model: nn.Module, *, prune: float, bits: int,
              retrain: Callable[[dict[str, Tensor]], None] | None = None) -> list[LayerStats]:
    """Prune every conv / fc weight of `model` in place, optionally `retrain(masks)` the surviving
    connections (Deep Compression §2; the callback must keep pruned weights at 0), then share
    them; the per-layer statistics, counted from the weights themselves (zeros, distinct values)."""
    if not 0 <= prune < 1:
        raise ValueError(f"prune must be in [0, 1), got {prune}")
    if not 1 <= bits <= 16:
        raise ValueError(f"bits must be in 1..16, got {bits}")
    names = compressible(model)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name in names:
            prune_(params[name].data, prune)
    if retrain is not None:
        retrain({name: params[name].data != 0 for name in names})
    with torch.no_grad():
        for name in names:
            share_(params[name].data, bits)
    return [measure(name, params[name].data) for name in names]


def measure(name: str, w: Tensor) -> LayerStats:
    nz = w[w != 0]
    return LayerStats(name, w.numel(), int(nz.numel()), int(torch.unique(nz).numel()))


def _pack(codes: np.ndarray, bits: int) -> bytes:
    """Unsigned codes (< 2^bits) -> a bit string, `bits` bits each, big-endian."""
    as_bits = ((codes[:, None] >> np.arange(bits - 1, -1, -1)) & 1).astype(np.uint8)
    return np.packbits(as_bits.reshape(-1)).tobytes()


def _unpack(blob: bytes, bits: int, count: int) -> np.ndarray:
    flat = np.unpackbits(np.frombuffer(blob, dtype=np.uint8))[: count * bits].reshape(count, bits)
    return (flat.astype(np.int64) << np.arange(bits - 1, -1, -1)).sum(1)


def save_compressed(path: Path, state: dict[str, Tensor], shared: list[str], meta: dict) -> int:
    """Write the compressed form of `state` (the names in `shared` as mask + codes + codebook);
    -> bytes written. The header is JSON: per tensor its shape, kind, offsets."""
    entries, blobs, offset = {}, [], 0
    for name, t in state.items():
        t = t.detach().cpu()
        if name in shared:
            flat = t.flatten().float().numpy()
            mask = flat != 0
            book, codes = np.unique(flat[mask], return_inverse=True)
            bits = max(1, math.ceil(math.log2(max(len(book), 1))))
            parts = [np.packbits(mask).tobytes(), _pack(codes.astype(np.int64), bits), book.astype(np.float32).tobytes()]
            entries[name] = {"shape": list(t.shape), "kind": "shared", "bits": bits, "k": len(book),
                             "nonzero": int(mask.sum()), "sizes": [len(p) for p in parts]}
        else:
            parts = [t.float().numpy().tobytes() if t.is_floating_point() else t.numpy().tobytes()]
            entries[name] = {"shape": list(t.shape), "kind": "dense", "dtype": str(t.dtype).replace("torch.", ""),
                             "sizes": [len(parts[0])]}
        entries[name]["offset"] = offset
        offset += sum(len(p) for p in parts)
        blobs += parts
    header = json.dumps({"tensors": entries, "meta": meta}).encode()
    from .train.checkpoint import atomic_write

    def write(f: BinaryIO) -> None:
        f.write(_MAGIC + struct.pack("<Q", len(header)) + header)
        for b in blobs:
            f.write(b)
    atomic_write(Path(path), write)  # a failed write keeps an earlier file whole
    return Path(path).stat().st_size


def load_compressed(path: Path) -> tuple[dict[str, Tensor], dict]:
    """(state dict, meta) from a file `save_compressed` wrote."""
    raw = Path(path).read_bytes()
    if not raw.startswith(_MAGIC):
        raise ValueError(f"{path} is not a cnnzoo compressed checkpoint")
    n = struct.unpack("<Q", raw[len(_MAGIC):len(_MAGIC) + 8])[0]
    start = len(_MAGIC) + 8
    header = json.loads(raw[start:start + n])
    body = raw[start + n:]
    state = {}
    for name, e in header["tensors"].items():
        pos, shape = e["offset"], e["shape"]
        numel = math.prod(shape)
        if e["kind"] == "dense":
            dtype = getattr(torch, e["dtype"])
            np_dtype = np.float32 if dtype.is_floating_point else torch.empty(0, dtype=dtype).numpy().dtype
            arr = np.frombuffer(body[pos:pos + e["sizes"][0]], dtype=np_dtype).copy()
            state[name] = torch.from_numpy(arr).to(dtype).reshape(shape)
            continue
        s_mask, s_codes, s_book = e["sizes"]
        mask = np.unpackbits(np.frombuffer(body[pos:pos + s_mask], dtype=np.uint8))[:numel].astype(bool)
        codes = _unpack(body[pos + s_mask:pos + s_mask + s_codes], e["bits"], e["nonzero"])
        book = np.frombuffer(body[pos + s_mask + s_codes:pos + s_mask + s_codes + s_book], dtype=np.float32)
        flat = np.zeros(numel, dtype=np.float32)
        flat[mask] = book[codes]
        state[name] = torch.from_numpy(flat).reshape(shape)
    return state, header["meta"]

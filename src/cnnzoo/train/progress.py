"""Per-epoch progress: a tqdm bar on a terminal, one plain line per epoch otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class EpochProgress:
    """Shows loss, accuracy and samples/s while an epoch runs."""

    def __init__(self, epoch: int, epochs: int, steps: int, *, enabled: bool, stream: TextIO = sys.stderr) -> None:
        self.epoch, self.epochs, self.steps, self.stream = epoch, epochs, steps, stream
        self.enabled = enabled
        self.bar = None
        if enabled and stream.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=steps, desc=f"epoch {epoch}/{epochs}", file=stream, leave=True,
                            dynamic_ncols=True, unit="step")
        self.start = time.perf_counter()

    def update(self, steps: int, loss: float, acc: float, samples: int) -> None:
        if self.bar is not None:
            rate = samples / max(time.perf_counter() - self.start, 1e-9)
            self.bar.set_postfix_str(f"loss {loss:.4f} acc {acc:.4f} {rate:,.0f} samples/s", refresh=False)
            self.bar.update(steps)

    def close(self, text: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=True)
            self.bar.close()
        else:
            print(f"epoch {self.epoch}/{self.epochs}  {text}", file=self.stream, flush=True)

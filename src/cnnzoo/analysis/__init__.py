"""Analysis of architectures: counting parameters and mult-adds, memory, receptive fields."""

from .counting import count_mult_adds, count_params

__all__ = ["count_mult_adds", "count_params"]

"""Analysis of architectures: counting parameters and mult-adds, memory, receptive fields, tables."""

from .compare import compare, render_compare
from .counting import build_on_meta, count_mult_adds, count_params
from .memory import MemoryEstimate, estimate_memory, measure_memory
from .receptive_field import ReceptiveField, receptive_field, receptive_field_by_gradient
from .summary import Row, Summary, render_show, summary

__all__ = ["MemoryEstimate", "ReceptiveField", "Row", "Summary", "build_on_meta", "compare", "count_mult_adds", "count_params",
           "estimate_memory", "measure_memory", "receptive_field", "receptive_field_by_gradient",
           "render_compare", "render_show", "summary"]

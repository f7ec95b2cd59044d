"""A model as its paper's table: one row per layer or block, then the totals.

    s = summary(create_model("resnet18"), (3, 224, 224))
    print(s.to_text())          # or to_markdown(), to_csv(), to_json()
    s.rows[0].output            # "112x112x64"
    s.mult_adds, s.memory.training

    print(render_show("googlenet", depth=None, fmt="markdown"))   # what `cnnzoo show` prints

Everything comes from one shape-only forward pass (`trace.py`): PyTorch's dispatch-level FLOP
formulas (those of `torch.utils.flop_counter.FlopCounterMode` and `count_mult_adds`) give each
row's mult-adds, forward hooks its output size, the same pass the receptive fields and the
memory estimate. No per-family formulas. Units: one multiply-add = one operation; FLOPs = 2 x
mult-adds. Operators without a FLOP formula (pooling, activations, normalisation, element-wise
additions, concatenation) are not counted: their rows show "—".

Rows (`depth`):
- `depth=None`, the paper view: the model's children in forward order; plain containers
  (`nn.Sequential`, `nn.ModuleList`) are opened unless they are one layer with its activation
  (LeNet's `Conv2d+ScaledTanh`); any module that implements `paper_columns()` is one row (an
  Inception module, a Fire module, a ResNet stage with its bracket); identity placeholders (empty
  SE slots) are left out. For a network written as a table, each row also shows the row as
  written ("table row").
- `depth=K`: every module that ran, down to K levels of nesting (as torchinfo's `depth`).

Columns: name, type, kernel/stride ("7x7/2", when the row holds exactly one convolution or
pooling window), output ("112x112x64" = H x W x C as the papers print it; "1000" for a vector),
parameters, mult-adds, receptive field (input pixels one output pixel sees; "global" after global
pooling), then the family-specific columns of `paper_columns()` (GoogLeNet's "#1x1" ...
"pool proj", SqueezeNet's "s1x1", "e1x1", "e3x3", ResNet's "blocks" bracket).

Family tables can differ from the paper's own figures (GoogLeNet's parameter column does not
match its layer sizes by up to ~4%): the table prints what the code computes; a family that wants
the paper's figure beside it puts it in `paper_columns()`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..input_size import format_chw, format_hwc
from ..csv_rows import csv_text
from ..models.base import ZooModel
from .memory import MemoryEstimate, dtype_of, optimizer_state_factor
from .trace import Field, ModuleRecord, Trace, trace, used_params

BASE_COLUMNS = ("name", "type", "kernel/stride", "output", "params", "mult-adds", "receptive field")
NOT_COUNTED = "—"
_NUMERIC = re.compile(r"^(|—|global|[\d,.]+[KMGT]?|\d+x\d+)$")  # cells aligned right
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


@dataclass(frozen=True)
class Row:
    name: str  # dotted module name
    depth: int  # nesting level (1 = a child of the model)
    type: str  # class name ("Conv2d+ReLU" for a plain Sequential shown as one layer)
    kernel: str  # "7x7/2", or "" when the row is not one window
    output: str  # "112x112x64"
    output_shape: tuple[int, ...]  # (N, C, H, W) as run
    params: int
    mult_adds: int | None  # None: no operator of this row has a FLOP formula
    receptive_field: str  # "11", "11x7", "global" or ""
    columns: dict[str, int | str] = field(default_factory=dict)  # paper_columns()

    def cells(self, human: bool) -> dict[str, object]:
        if human:
            ma: object = NOT_COUNTED if self.mult_adds is None else human_count(self.mult_adds)
            params: object = f"{self.params:,}"
        else:
            ma, params = self.mult_adds, self.params
        return {"name": self.name, "type": self.type, "kernel/stride": self.kernel, "output": self.output,
                "params": params, "mult-adds": ma, "receptive field": self.receptive_field, **self.columns}


@dataclass(frozen=True)
class Summary:
    """The table (`rows`) and the totals of one model at one input size, batch and dtype."""

    model: str
    input_size: tuple[int, int, int]
    batch: int
    dtype: str
    rows: tuple[Row, ...]
    extra_columns: tuple[str, ...]
    params: int
    trainable_params: int
    inference_params: int  # of the modules that run in eval mode (no auxiliary classifiers)
    mult_adds: int  # one forward pass of one image (the papers' figure)
    memory: MemoryEstimate
    receptive_field: Field | None  # of the last feature map (before global pooling)
    published: dict[str, float] = field(default_factory=dict)  # the registry card's figures
    notes: tuple[str, ...] = ()

    @property
    def flops(self) -> int:
        """FLOPs = 2 x mult-adds (one multiply and one add each)."""
        return 2 * self.mult_adds

    @property
    def columns(self) -> tuple[str, ...]:
        return BASE_COLUMNS + self.extra_columns

    # -- data --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model, "input_size": list(self.input_size), "batch": self.batch, "dtype": self.dtype,
            "columns": list(self.columns),
            "rows": [{**r.cells(human=False), "depth": r.depth, "output_shape": list(r.output_shape)}
                     for r in self.rows],
            "totals": {
                "params": self.params, "trainable_params": self.trainable_params,
                "inference_params": self.inference_params,
                "mult_adds": self.mult_adds, "flops": self.flops,
                "receptive_field": self.receptive_field.text() if self.receptive_field else None,
                "memory_bytes": self.memory.to_dict(),
            },
            "published": self.published, "notes": list(self.notes),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_csv(self) -> str:
        """The rows, one per line, with raw numbers (mult-adds empty where not counted)."""
        return csv_text(({k: ("" if v is None else v) for k, v in r.cells(human=False).items()} for r in self.rows),
                        columns=self.columns, lineterminator="\n")

    # -- text --------------------------------------------------------------------------------
    def _table(self) -> list[list[str]]:
        cols = self.columns
        return [list(cols)] + [[_str(r.cells(human=True).get(c, "")) for c in cols] for r in self.rows]

    def totals_lines(self) -> list[str]:
        m = self.memory
        opt = {0: "no state", 1: "1 state tensor per parameter", 2: "2 state tensors per parameter"}.get(
            optimizer_state_factor(_optimizer_key(m.optimizer)), f"{m.optimizer} state")
        lines = [
            f"input: {self.batch} x {format_chw(self.input_size)} ({format_hwc(self.input_size)}), {self.dtype}",
            f"parameters: {self.params:,} (trainable {self.trainable_params:,}"
            + (f"; used at inference {self.inference_params:,}" if self.inference_params != self.params else "")
            + f"); parameter memory {mib(m.param_bytes)} ({self.dtype}, buffers included)",
            f"mult-adds: {human_count(self.mult_adds)} ({self.mult_adds:,}) per image, one multiply-add = "
            f"one operation; FLOPs = 2 x mult-adds = {human_count(self.flops)}",
            f"memory, inference (batch {self.batch}): {mib(m.inference)} = parameters {mib(m.param_bytes)} + "
            f"input {mib(m.input_bytes)} + largest set of maps alive together {mib(m.inference_maps_bytes)}"
            + (f" (of which {mib(m.workspace_bytes)} CPU convolution copies)" if m.workspace_bytes else ""),
            f"memory, one training step (batch {self.batch}, {m.optimizer}: {opt}): {mib(m.training)} = "
            f"parameters {mib(m.param_bytes)} + optimizer state {mib(m.optimizer_bytes)} + input "
            f"{mib(m.input_bytes)} + max(backward pass {mib(m.backward_bytes)}: saved maps "
            f"{mib(m.saved_bytes)} + gradients + maps in flight; optimizer step: gradients {mib(m.grad_bytes)})",
            f"all maps of the forward pass (seed 001's sum, batch {self.batch}): {mib(m.all_maps_bytes)}",
        ]
        if self.receptive_field is not None:
            field = self.receptive_field.text()
            field = "the whole input" if field == "global" else f"{field} pixels"
            lines.append(f"receptive field of the output: {field} (of the last feature map, before global pooling)")
        if self.published:
            parts = []
            if "params" in self.published:
                parts.append(f"{human_count(self.published['params'])} parameters")
            if "mult_adds" in self.published:
                parts.append(f"{human_count(self.published['mult_adds'])} mult-adds")
            for k, label in (("top1_err", "top-1 error"), ("top5_err", "top-5 error")):
                if k in self.published:
                    parts.append(f"{self.published[k]:g}% {label}")
            lines.append("published: " + ", ".join(parts))
        lines.append(f"{NOT_COUNTED} : no FLOP formula (pooling, activations, normalisation, element-wise "
                     "operations, concatenation): not counted")
        lines.extend(self.notes)
        return lines

    def to_text(self) -> str:
        table = self._table()
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        numeric = [all(_NUMERIC.match(row[i]) for row in table[1:]) for i in range(len(table[0]))]
        out = []
        for j, row in enumerate(table):
            cells = [cell.rjust(w) if numeric[i] else cell.ljust(w)
                     for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
            out.append("  ".join(cells).rstrip())
            if j == 0:
                out.append("  ".join("-" * w for w in widths))
        title = f"{self.model} at {'x'.join(map(str, self.input_size))}"
        return "\n".join([title, "", *out, "", *self.totals_lines()]) + "\n"

    def to_markdown(self) -> str:
        table = self._table()
        numeric = [all(_NUMERIC.match(row[i]) for row in table[1:]) for i in range(len(table[0]))]
        head = "| " + " | ".join(table[0]) + " |"
        sep = "|" + "|".join("---:" if n else "---" for n in numeric) + "|"
        body = ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in table[1:]]
        totals = [f"- {line}" for line in self.totals_lines()]
        title = f"**{self.model}** at {'x'.join(map(str, self.input_size))}"
        return "\n".join([title, "", head, sep, *body, "", *totals]) + "\n"

    def format(self, fmt: str) -> str:
        formats = {"text": self.to_text, "markdown": self.to_markdown, "csv": self.to_csv, "json": self.to_json}
        if fmt not in formats:
            raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(formats)}")
        return formats[fmt]()


def _optimizer_key(optimizer: str) -> str | int:
    return int(optimizer) if optimizer.isdigit() else optimizer


def _str(v: object) -> str:
    return "" if v is None else str(v)


def human_count(n: float) -> str:
    """3 significant digits with K/M/G (10^3, 10^6, 10^9): 2.71K, 118M, 1.82G."""
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= scale:
            v = n / scale
            return f"{v:.3g}{suffix}" if v < 1000 else f"{v:.0f}{suffix}"
    return f"{n:g}" if isinstance(n, float) else str(n)


def mib(nbytes: int) -> str:
    if nbytes >= 2**30:
        return f"{nbytes / 2**30:.2f} GiB"
    return f"{nbytes / 2**20:.1f} MiB"


def shape_text(shape: tuple[int, ...] | None) -> str:
    """(N, C, H, W) -> "HxWxC" as the papers print output sizes; (N, F) -> "F"."""
    if not shape:
        return ""
    if len(shape) == 4:
        _, c, h, w = shape
        return format_hwc((c, h, w))
    return "x".join(str(s) for s in shape[1:])


def _window_text(rec: ModuleRecord) -> str:
    if not rec.windows and rec.field is not None and rec.field.is_global and rec.input_shape \
            and len(rec.input_shape) == 4 and rec.field.before is not None and rec.field.before.map_size != (1, 1):
        h, w = rec.input_shape[2:]  # a global pooling written as a mean: "7x7/1", as the tables print it
        return f"{h}x{w}/1"
    if len(rec.windows) != 1:
        return ""
    _, (kh, kw), (sh, sw), (dh, dw) = rec.windows[0]
    text = f"{kh}x{kw}/{sh}" if sh == sw else f"{kh}x{kw}/{sh}x{sw}"
    return text + (f" d{dh}" if dh > 1 else "")


def _conv_text(m: nn.Module) -> str:
    """A convolution computed as a matrix product (LeNet-5's C5 on a 5x5 map) still has its kernel."""
    convs = [c for c in m.modules() if isinstance(c, nn.Conv2d)]
    if len(convs) != 1:
        return ""
    (kh, kw), (sh, sw) = convs[0].kernel_size, convs[0].stride
    return f"{kh}x{kw}/{sh}" if sh == sw else f"{kh}x{kw}/{sh}x{sw}"


def _is_identity(m: nn.Module) -> bool:
    return isinstance(m, nn.Identity) or (type(m) is nn.Sequential and len(m) == 0)


def _unique_params(m: nn.Module) -> int:
    return sum(p.numel() for p in {id(p): p for p in m.parameters()}.values())


class _Rows:
    def __init__(self, model: nn.Module, records: dict[str, ModuleRecord]) -> None:
        self.model, self.records = model, records

    def _weighted(self, name: str) -> bool:
        rec = self.records.get(name)
        return rec is not None and (rec.flops > 0 or bool(rec.windows))

    def _is_unit(self, name: str, m: nn.Module) -> bool:
        """A plain Sequential that is one layer plus its normalisation / activation."""
        if type(m) is not nn.Sequential or any(len(list(c.children())) for c in m.children()):
            return False
        return sum(self._weighted(f"{name}.{n}") for n, _ in m.named_children()) <= 1

    def row(self, name: str, m: nn.Module, depth: int, unit: bool = False) -> Row:
        rec = self.records[name]
        cols = getattr(m, "paper_columns", None)
        columns = dict(cols()) if callable(cols) else {}
        if getattr(m, "spec_row", None):  # a network written as a table: its row as written
            columns = {"table row": m.spec_row, **columns}
        figures = getattr(self.model, "paper_figures", {})  # the paper's own numbers for this row
        columns.update(figures.get(name, {}))
        kind = "+".join(type(c).__name__ for c in m.children()) if unit else type(m).__name__
        return Row(name=name, depth=depth, type=kind, kernel=_window_text(rec) or _conv_text(m),
                   output=shape_text(rec.output_shape),
                   output_shape=rec.output_shape or (), params=_unique_params(m),
                   mult_adds=rec.flops // 2 if rec.flops else None,
                   receptive_field=rec.field.text() if rec.field else "", columns=columns)

    def paper(self, m: nn.Module, prefix: str = "", depth: int = 1) -> list[Row]:
        rows: list[Row] = []
        for child_name, child in m.named_children():
            name = f"{prefix}{child_name}"
            if _is_identity(child):
                continue
            has_columns = callable(getattr(child, "paper_columns", None))
            if not has_columns and type(child) in _CONTAINERS:
                if name in self.records and self._is_unit(name, child):
                    rows.append(self.row(name, child, depth, unit=True))
                else:  # its children (a Sequential may be iterated rather than called)
                    rows += self.paper(child, name + ".", depth + 1)
            elif not has_columns and any(callable(getattr(c, "paper_columns", None)) for c in child.children()):
                rows += self.paper(child, name + ".", depth + 1)  # its parts are the paper's rows (MobileNet)
            elif name in self.records:  # else it did not run (auxiliary heads in eval mode)
                rows.append(self.row(name, child, depth))
        return sorted(rows, key=lambda r: self.records[r.name].order)

    def to_depth(self, depth: int) -> list[Row]:
        mods = dict(self.model.named_modules())
        recs = sorted((r for r in self.records.values() if r.name and r.name.count(".") < depth),
                      key=lambda r: r.order)
        return [self.row(r.name, mods[r.name], r.name.count(".") + 1) for r in recs if r.name in mods]


def summary(model: nn.Module, input_size: tuple[int, int, int] | None = None, *, batch: int = 1,
            depth: int | None = None, dtype: str | torch.dtype = "float32", optimizer: str | int = "sgd-momentum",
            backend: str = "cpu", device: str | None = "meta") -> Summary:
    """The table and totals of `model` for `batch` images of `input_size` (C, H, W).

    `input_size` defaults to the registry card's (models from `create_model`) or the spec's
    (networks written as tables). `depth`: None for the paper view, K for every module down to
    K levels. `dtype`, `optimizer` ("sgd", "sgd-momentum", "adam", ... or a number of state
    tensors per parameter) and `backend` ("cpu" counts oneDNN's convolution copies) shape the
    memory estimate. `device="meta"` runs the pass shape-only (the model is not changed);
    `device=None` runs it on the model's own device with real tensors (for models whose forward
    needs values); a model whose forward fails on meta is retried that way automatically.
    """
    from .memory import estimate_memory_from_traces  # local: memory imports nothing from here

    if depth is not None and depth < 1:
        raise ValueError(f"depth must be >= 1 (or None for the paper view), got {depth}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    size = resolve_input_size(model, input_size)
    dt = dtype_of(dtype)
    infer, train = _traces(model, size, batch, dt, backend, device)
    rows_of = _Rows(model, infer.records)
    rows = rows_of.paper(model) if depth is None else rows_of.to_depth(depth)
    extra: dict[str, None] = {}
    for r in rows:
        extra.update(dict.fromkeys(r.columns))
    params = _unique_params(model)
    trainable = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values() if p.requires_grad)
    memory = estimate_memory_from_traces(model, size, batch, dt, optimizer, backend, infer, train)
    notes = []
    if isinstance(model, ZooModel) and getattr(model, "aux_logits", False):
        notes.append("auxiliary classifiers run in training mode only: not in the rows, in the parameters")
    if batch != 1:
        rows = [_per_image(r, batch) for r in rows]
    return Summary(model=_model_label(model), input_size=size, batch=batch, dtype=str(dt).removeprefix("torch."),
                   rows=tuple(rows), extra_columns=tuple(extra), params=params, trainable_params=trainable,
                   inference_params=used_params(infer),
                   mult_adds=infer.flops // 2 // batch, memory=memory, receptive_field=infer.output_field,
                   published=_published(model), notes=tuple(notes))


def _per_image(row: Row, batch: int) -> Row:
    """Rows give the mult-adds of one image whatever the batch, as the papers' tables do (every
    FLOP formula is linear in the batch)."""
    return Row(**{**row.__dict__, "mult_adds": None if row.mult_adds is None else row.mult_adds // batch})


def _traces(model: nn.Module, size: tuple[int, int, int], batch: int, dt: torch.dtype, backend: str,
            device: str | None) -> tuple[Trace, Trace]:
    kw = dict(batch=batch, dtype=dt, conv_workspace=backend == "cpu")
    try:
        return (trace(model, size, train=False, device=device, **kw),  # type: ignore[arg-type]
                trace(model, size, train=True, device=device, **kw))  # type: ignore[arg-type]
    except (NotImplementedError, RuntimeError):
        if device is None or not any(p.device.type != "meta" for p in model.parameters()):
            raise
        # a forward that needs values (e.g. `.item()`): run it for real on the model's device
        return (trace(model, size, train=False, device=None, **kw),  # type: ignore[arg-type]
                trace(model, size, train=True, device=None, **kw))  # type: ignore[arg-type]


def resolve_input_size(model: nn.Module, input_size: tuple[int, ...] | str | int | None) -> tuple[int, int, int]:
    """(C, H, W) from a tuple, "3x224x224", "224" / 224 (channels from the model), or the card/spec."""
    from ..input_size import parse_chw
    default = _default_input_size(model)
    if input_size is None:
        if default is None:
            raise ValueError(f"{_model_label(model)}: give input_size (C, H, W): the model has no registry "
                             "card or spec to take it from")
        return default
    return parse_chw(input_size, channels=default[0] if default else getattr(model, "in_chans", 3))


def _default_input_size(model: nn.Module) -> tuple[int, int, int] | None:
    spec_input = getattr(model, "spec_input_size", None)
    if spec_input is not None:
        return tuple(spec_input)  # type: ignore[return-value]
    name = getattr(model, "model_name", None)
    if name:
        from ..models import get_entry
        try:
            card = get_entry(name).card
        except KeyError:
            return None
        c = getattr(model, "in_chans", card.input_size[0])
        return (c, card.input_size[1], card.input_size[2])
    return None


def _model_label(model: nn.Module) -> str:
    return getattr(model, "model_name", None) or type(model).__name__


def _published(model: nn.Module) -> dict[str, float]:
    name = getattr(model, "model_name", None)
    if not name or getattr(model, "spec_text", None) is not None:
        return {}
    from ..models import get_entry
    try:
        card = get_entry(name).card
    except KeyError:
        return {}
    return {k: float(v) for k in ("params", "mult_adds", "top1_err", "top5_err")
            if (v := getattr(card, k)) is not None}


def load_model(model: nn.Module | str | Path, *, meta: bool = True,
               input_size: tuple[int, ...] | str | int | None = None) -> nn.Module:
    """A model from a registry name or a .yaml/.yml table spec (through `cnnzoo.resolve`, so a
    network sized by its input is built for `input_size`), or as given."""
    if isinstance(model, nn.Module):
        return model
    from ..resolve import resolve_model
    resolved = resolve_model(str(model), input_size=input_size)
    return resolved.build_on_meta() if meta else resolved.build()


def render_show(model: nn.Module | str | Path, input_size: tuple[int, int, int] | str | int | None = None,
                batch: int = 1, depth: int | None = None, fmt: str = "text", dtype: str = "float32",
                optimizer: str = "sgd-momentum") -> str:
    """What `cnnzoo show` prints.

    `model`: a registry name ("resnet50", built on the meta device: shape-only, fast at any
    size), a path to a network written as a table (.yaml/.yml), or an nn.Module.
    `input_size`: (C, H, W), "3x224x224", or H (square, the model's channels); default: the
    card's / the spec's input. `batch`: images per pass (memory scales with it; the rows' and
    total mult-adds are per image, as in the papers). `depth`: None = the paper's rows,
    K = every module down to K levels. `fmt`: "text" | "markdown" | "csv" | "json".
    `dtype`: "float32", "float16", "bfloat16" (memory). `optimizer`: the training-memory state
    ("sgd", "sgd-momentum", "adam", ...).
    """
    m = load_model(model, input_size=input_size)
    return summary(m, input_size, batch=batch, depth=depth, dtype=dtype, optimizer=optimizer).format(fmt)

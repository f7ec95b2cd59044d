"""Networks written as tables (seed 002, "Архитектура как таблица"): a YAML file whose rows read
like the tables of the lectures builds a trainable `ZooModel`.

    name: seed002_64x64
    input: 3x64x64                 # C x H x W
    activation: relu               # default activation of conv / fc rows (default: none)
    layers:
      - conv 3x3@16                # Convolution 1   3x3@16
      - conv 3x3@32
      - maxpool 2x2                # Pooling 2x2 (stride = kernel)
      - conv 3x3@64 stride 2 pad 1 bn relu
      - residual: [conv 3x3@64 bn relu, conv 3x3@64 bn]
      - inception: {1x1: 64, 3x3: [96, 128], 5x5: [16, 32], pool: 32}
      - se: 16
      - gap
      - dropout 0.5
      - fc 500 relu
      - fc 2

    model = build_from_yaml("net.yaml")            # a ZooModel; model.spec_text keeps the file
    model = build_from_text(model.spec_text)       # rebuilt from a checkpoint, without the file

Grammar. The file is a mapping: `input` (required: CxHxW for images, CxL for a 1-D signal such
as `1x16000` audio, CxDxHxW for a volume or clip such as `1x16x112x112`; seed 001), `layers` (required, a list of
rows), and optionally `name` (default: the file's stem), `classes` (number of classes; default
the classifier's width), `mean` / `std` (one value or one per channel; default ImageNet's for 3
channels, 0.5 otherwise), `padding` (`same`, the default, or `valid`: the default padding of
convolutions), `activation` (the default activation of conv / dwconv / separable / fc rows;
default none) and `description`. Any other key is an error.

A row is text, `kind [size] [options] [xN] [-> OUTPUT]`, or a one-key mapping for a block.
Rows joined with `+` on one line are consecutive layers ("relu+lrn", as seed 002 prints them).

    conv KxK[/S]@C     convolution, C filters, stride S (default 1); the window is K on a 1-D input,
                       KxK on images, KxKxK on volumes (one K means K on every axis). Options: stride N, pad N |
                       same | valid (default: the top-level `padding`; same = (K-1)/2 * dilation),
                       dilation N, groups N, bn (batch norm after the convolution, which then has
                       no bias), nobias, an activation, linear (no activation)
    dwconv KxK[/S]     depthwise convolution (one filter per channel); options as conv
    separable KxK[/S]@C  depthwise KxK then pointwise 1x1 to C channels, each with the row's bn /
                       activation (MobileNet's row when written `bn relu`)
    maxpool KxK[/S]    max pooling, stride = K unless given (per axis: 1x2x2 keeps a clip's frames);
                       options: stride N, pad N, ceil
    avgpool KxK[/S]    average pooling; options as maxpool
    lppool KxK[/S]     Lp pooling (mean |x|^p)^(1/p); option p P (default 2: L2 pooling; 1 = average,
                       inf = max of |x|)
    gap                global average pooling over every spatial axis (-> a vector)
    flatten            map -> vector (fc flattens by itself)
    fc N | fc classes  fully connected; options: bn, nobias, an activation, linear, dropconnect P
                       (DropConnect: each weight dropped with probability P in training). On a map
                       it flattens it and then only fits the spec's input size
    dropout [P]        P as 0.4 or 40% (default 0.5)
    bn                 batch norm (1-, 2- or 3-d on maps, 1-d on vectors)
    layernorm | ln     layer norm: each sample over all its features (seed 003), per-channel scale
    groupnorm G | gn G group norm with G groups (G must divide the channels)
    highway            highway layer y = H(x) T(x) + x (1 - T(x)): fully connected on a vector, 3x3
                       convolutions on a map; option gate B (T's initial bias, default -1)
    identity           passes its input on (a placeholder, e.g. in a branch)
    lrn                local response normalisation; options size N (5), alpha A (1e-4),
                       beta B (0.75), k K (2): AlexNet's constants
    relu, relu6, lrelu, prelu, elu, selu, gelu, silu, tanh, sigmoid, scaled_tanh, hardswish
                       activation rows
    softmax            accepted as the last row and not applied (the loss applies it)
    se R  /  se: R     squeeze-and-excitation with reduction R (the zoo's SqueezeExcite)
    - residual: [rows]  y = relu(branch(x) + shortcut(x)), ResNet's block; the branch's last row
                       has no default activation; shortcut = identity when the shape is kept, else
                       a strided 1x1 convolution (+ BN if the branch has BN): the paper's option B.
                       Mapping form: {branch: [rows], shortcut: auto | identity | conv,
                       act: relu | ... | none}
    - inception: {1x1: N, 3x3: [reduce, N], 5x5: [reduce, N], pool: proj}   GoogLeNet's module
                       (the zoo's Inception; `bn: true` adds batch norm)
    - fire: {s1x1: N, e1x1: N, e3x3: N}  or  fire: [s, e1, e3]   SqueezeNet's module (the zoo's
                       Fire; `bypass: true` for the simple bypass)
    - dense: {layers: L, growth: K}   DenseNet-B's dense block (the zoo's DenseBlock; bn_size: 4),
                       C -> C + L*K channels
    - concat: [[rows], [rows], ...]   parallel branches on the same input, outputs concatenated
                       along channels ([] is the identity branch)
    - add / mul / max: [[rows], [rows], ...]   the same, joined element-wise (sum, product, maximum;
                       the branches must agree in shape)
    - split: [[rows], [rows], ...]   the channels cut into equal parts, part i through branch i,
                       outputs concatenated; or {sizes: [a, b], branches: [[rows], [rows]]}

`xN` repeats a row N times; `-> 196x196x80` states the row's output (H x W x C as the tables
print it, or F for a vector) and is checked. Sizes use `x` or `×`.

Defaults, and why (so that seed 002's tables read as they are printed): convolutions keep the
size ("same" padding) unless `pad N` or `valid` says otherwise (the 400x400 table's output
column needs `padding: valid`); pooling strides by its window ("Pooling 2x2"); no activation
unless a row or the top-level `activation` names one — the classifier (the last fc, or the
last conv of a network without fc) and the last row of a residual branch never take the
top-level default, because every paper leaves them linear.

The model: `features` = the rows before the first one that pools globally, flattens or
classifies (`forward_features`); `head` = the rest (`forward_head`); `classifier_path` = the
classifier; `feature_info` = the last row at each map size. Shapes are inferred row by row at
build time; a row that cannot take its input says so with the file, line, row and shapes.
Weights are PyTorch's default initialisation.
"""

from __future__ import annotations

from pathlib import Path

from ..models.card import ModelCard
from ..registry import TableFormat, register_table_format
from .builder import NetSpecModel
from .parser import NetSpec, SpecError, parse_spec

_SUFFIXES = (".yaml", ".yml")
MAX_FILE_BYTES = 4_000_000


def is_table_spec(path: str | Path) -> bool:
    """True for a path ending in .yaml / .yml that is (or, if it does not exist yet, would be)
    a network table: a YAML mapping with a `layers:` key."""
    p = Path(path)
    if p.suffix.lower() not in _SUFFIXES:
        return False
    if not p.is_file():
        return True
    try:
        head = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return True  # `_read` says which line is not UTF-8
    except OSError:
        return False
    return any(line.startswith("layers:") for line in head.splitlines())


_OVERRIDES = ("num_classes", "in_chans")


def build_from_text(text: str, *, source: str = "<text>", **overrides: object) -> NetSpecModel:
    """Build a table spec given as YAML text (`source` names it in error messages); the
    overrides are those of `build_from_yaml`."""
    unknown = sorted(set(overrides) - set(_OVERRIDES))
    if unknown:
        raise SpecError(f"{source}: a network written as a table takes num_classes and in_chans, "
                        f"not {', '.join(map(repr, unknown))}")
    spec = parse_spec(text, source)
    _check_params(spec, source, overrides)
    return NetSpecModel(spec, **overrides)  # type: ignore[arg-type]


MAX_PARAMS = 1_000_000_000  # 4 GB of float32 weights: larger is a typo (or an attack), not a table


def _check_params(spec: NetSpec, source: str, overrides: dict[str, object]) -> None:
    """Count the parameters on the meta device (nothing allocated) before building for real."""
    import torch
    with torch.device("meta"):
        probe = NetSpecModel(spec, **overrides)  # type: ignore[arg-type]
    n = sum(p.numel() for p in probe.parameters())
    if n > MAX_PARAMS:
        raise SpecError(f"{source}: {n:,} parameters ({n * 4 / 2 ** 30:,.1f} GiB of float32); a network table is "
                        f"limited to {MAX_PARAMS:,} parameters")


def build_on_meta(path: str | Path, **overrides: object) -> NetSpecModel:
    """The table's model on the meta device: shapes and counts, no memory (`cnnzoo show`)."""
    import torch
    text, source = _read(path)
    with torch.device("meta"):
        return NetSpecModel(parse_spec(text, source), **overrides)  # type: ignore[arg-type]


def _read(path: str | Path) -> tuple[str, str]:
    p = Path(path)
    if p.suffix.lower() not in _SUFFIXES:
        raise SpecError(f"{p}: a network table must be a .yaml or .yml file")
    if not p.is_file():
        raise SpecError(f"{p}: no such file")
    if p.stat().st_size > MAX_FILE_BYTES:
        raise SpecError(f"{p}: {p.stat().st_size:,} bytes; a network table is limited to {MAX_FILE_BYTES:,}")
    data = p.read_bytes()
    try:
        return data.decode("utf-8"), str(p)
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise SpecError(f"{p}, line {line}: not UTF-8 text (byte 0x{data[e.start]:02x}); save the table as UTF-8")\
            from None


def build_from_yaml(path: str | Path, **overrides: object) -> NetSpecModel:
    """Build the network written as a table in `path` (.yaml / .yml).

    Overrides, as for any zoo model: `num_classes` (replaces the classifier's width; 0 removes
    it) and `in_chans` (the input's channels); any other is a SpecError. Errors are `SpecError`s
    (a `ConfigError`) naming the file and line.
    """
    text, source = _read(path)
    return build_from_text(text, source=source, **overrides)


def spec_input_size(path: str | Path) -> tuple[int, int, int]:
    """(C, H, W) of the table's `input:` (the file is read and checked, not built). A 1-D or 3-D
    table is a SpecError here: it builds and runs from Python, but the image pipeline of
    `cnnzoo train` / `eval` needs C x H x W."""
    text, source = _read(path)
    size = parse_spec(text, source).input_size
    if len(size) != 3:
        raise SpecError(f"{source}: input {'x'.join(map(str, size))} is a {len(size) - 1}-D signal; the commands "
                        "that read images need CxHxW (build it from Python with cnnzoo.netspec.build_from_yaml)")
    return size  # type: ignore[return-value]


def spec_card(path: str | Path, **overrides: object) -> ModelCard:
    """The registry-style card of a table (input size, smallest input, mean / std, classes)."""
    return build_from_yaml(path, **overrides).card


__all__ = ["NetSpec", "NetSpecModel", "SpecError", "build_from_text", "build_from_yaml", "is_table_spec",
           "parse_spec", "spec_card", "spec_input_size", "build_on_meta"]

register_table_format(TableFormat((".yaml", ".yml"), build=build_from_yaml, input_size=spec_input_size))

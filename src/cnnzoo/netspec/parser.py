"""Reading a network written as a table: YAML -> `NetSpec` (rows with their file and line).

Only the text is checked here (keys, layer names, sizes, options); shapes are checked by the
builder. Every error is a `SpecError` that starts with "<file>, line <n>".
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import ConfigError


class SpecError(ConfigError):
    """A network table that cannot be read or built; the message names the file and line."""


@dataclass(frozen=True)
class Where:
    source: str  # file name (or "<text>")
    line: int  # 1-based
    text: str = ""  # the row as written

    def __str__(self) -> str:
        return f"{self.source}, line {self.line}" + (f" ({self.text})" if self.text else "")

    def error(self, message: str, *, with_text: bool = True) -> SpecError:
        where = self if with_text else Where(self.source, self.line)
        return SpecError(f"{where}: {message}")


# -- vocabulary --------------------------------------------------------------------------------
ACTIVATIONS = ("relu", "relu6", "lrelu", "leakyrelu", "prelu", "elu", "selu", "gelu", "silu", "swish", "tanh",
               "sigmoid", "scaled_tanh", "hardswish")
WINDOW_LAYERS = ("conv", "dwconv", "separable", "maxpool", "avgpool", "lppool")
SIMPLE_LAYERS = ("fc", "gap", "flatten", "dropout", "bn", "lrn", "layernorm", "groupnorm", "highway", "identity",
                 "se", "softmax", *ACTIVATIONS)
BRANCH_BLOCKS = ("concat", "add", "mul", "max", "split")  # parallel branches joined (seed 002's layer catalogue)
BLOCKS = ("residual", "inception", "fire", "se", "dense", *BRANCH_BLOCKS)
LAYERS = tuple(dict.fromkeys(("conv", "dwconv", "separable", "maxpool", "avgpool", "lppool", "gap", "flatten", "fc",
                              "dropout", "bn", "lrn", "layernorm", "groupnorm", "highway", "identity", *ACTIVATIONS,
                              "softmax", "residual", "inception", "fire", "se", "dense", *BRANCH_BLOCKS)))
ALIASES = {"drop": "dropout", "pool": "maxpool", "linear": "fc", "dense": "fc", "globalavgpool": "gap",
           "avgpool_global": "gap", "batchnorm": "bn", "swish": "silu", "leakyrelu": "lrelu", "ln": "layernorm",
           "gn": "groupnorm", "l2pool": "lppool", "cat": "concat", "sum": "add"}
FLOAT_OPTIONS = ("alpha", "beta", "k", "p", "gate", "dropconnect")  # options whose value is a real number

# options: name -> takes a value
OPTIONS: dict[str, dict[str, bool]] = {
    "conv": {"stride": True, "pad": True, "same": False, "valid": False, "dilation": True, "groups": True,
             "bn": False, "nobias": False, "linear": False},
    "dwconv": {"stride": True, "pad": True, "same": False, "valid": False, "dilation": True, "bn": False,
               "nobias": False, "linear": False},
    "separable": {"stride": True, "pad": True, "same": False, "valid": False, "bn": False, "nobias": False,
                  "linear": False},
    "maxpool": {"stride": True, "pad": True, "ceil": False},
    "avgpool": {"stride": True, "pad": True, "ceil": False},
    "lppool": {"stride": True, "p": True},
    "fc": {"bn": False, "nobias": False, "linear": False, "dropconnect": True},
    "highway": {"gate": True},
    "lrn": {"size": True, "alpha": True, "beta": True, "k": True},
}
ACT_OPTION_LAYERS = ("conv", "dwconv", "separable", "fc")
TOP_LEVEL = ("name", "input", "classes", "mean", "std", "padding", "activation", "layers", "description")

# limits, checked before anything is built: a table beyond them is a typo or an attack
MAX_TEXT = 1_000_000  # characters of YAML
MAX_NESTING = 16  # levels of YAML lists / mappings
MAX_REPEAT = 1000  # `xN`
MAX_ROWS = 10_000  # rows after repeats
MAX_WIDTH = 1_000_000  # channels / features of one row
MAX_SIDE = 16_384  # pixels of the input's side, kernel and stride sizes
MAX_CHANNELS = 4096  # channels of the input

_WINDOW = re.compile(r"^(\d+(?:x\d+){0,2})(?:/(\d+))?(?:@(\d+|classes))?$")  # K, KxK or KxKxK
_SHAPE = re.compile(r"^\d+(?:x\d+)*$")


@dataclass(frozen=True)
class Row:
    """One row of the table, as written. `kind` is canonical ("maxpool", "fc", ...)."""

    kind: str
    where: Where
    kernel: tuple[int, ...] | None = None  # as written: (K,) means K in every dimension
    stride: int | None = None
    width: int | str | None = None  # channels / features; "classes" for `fc classes`
    value: float | None = None  # dropout probability, se reduction
    options: dict[str, object] = field(default_factory=dict)  # stride/pad/... values, flags as True
    act: str | None = None  # the activation named on the row
    expect: tuple[int, ...] | None = None  # "-> 196x196x80": H x W x C (or F) the table prints
    repeat: int = 1
    children: tuple[Row, ...] = ()  # residual branch
    branches: tuple[tuple[Row, ...], ...] = ()  # concat / add / mul / max / split: the parallel branches
    block: dict[str, object] = field(default_factory=dict)  # inception / fire / residual settings


@dataclass(frozen=True)
class NetSpec:
    name: str
    source: str
    input_size: tuple[int, ...]  # C, H, W (C, L for 1-D signals; C, D, H, W for volumes)
    rows: tuple[Row, ...]
    classes: int | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    padding: str = "same"
    activation: str | None = None
    description: str = ""
    text: str = ""


# -- YAML with lines ---------------------------------------------------------------------------
def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _value(node: yaml.Node) -> object:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def _check_structure(text: str, source: str) -> None:
    """Refuse, before composing, what would make YAML itself hang or recurse: huge text,
    aliases (`*name`, the "billion laughs"), deep nesting."""
    if len(text) > MAX_TEXT:
        raise SpecError(f"{source}: {len(text):,} characters; a network table is limited to {MAX_TEXT:,}")
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise SpecError(f"{source}, line {event.start_mark.line + 1}: YAML aliases (*name) are not "
                                "allowed in a network table; write the rows out")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_NESTING:
                    raise SpecError(f"{source}, line {event.start_mark.line + 1}: lists / mappings nest more "
                                    f"than {MAX_NESTING} levels deep; a network table needs at most 4")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return  # reported with its line by `yaml.compose` below


def parse_spec(text: str, source: str = "<text>") -> NetSpec:
    """Read a table spec from YAML text (`source` names it in errors)."""
    _check_structure(text, source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise SpecError(f"{source}{line}: not valid YAML: {getattr(e, 'problem', None) or e}") from None
    if not isinstance(root, yaml.MappingNode):
        raise SpecError(f"{source}: expected a mapping with `input:` and `layers:` (a network written as a table)")
    keys: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for k, v in root.value:
        key = str(_value(k))
        if key not in TOP_LEVEL:
            raise Where(source, _line(k)).error(f"unknown key {key!r}{_hint(key, TOP_LEVEL)}; expected one of: "
                                                f"{', '.join(TOP_LEVEL)}", with_text=False)
        keys[key] = (k, v)
    for required in ("input", "layers"):
        if required not in keys:
            raise SpecError(f"{source}: missing `{required}:`; a table spec needs `input: CxHxW` (e.g. 3x64x64) "
                            "and `layers:` (a list of rows)")
    top = {k: _value(v) for k, (_, v) in keys.items() if k != "layers"}
    where = {k: Where(source, _line(v)) for k, (_, v) in keys.items()}
    input_size = _input(top["input"], where["input"])
    padding = str(top.get("padding", "same"))
    if padding not in ("same", "valid"):
        raise where["padding"].error(f"padding must be same or valid, got {padding!r}")
    activation = top.get("activation")
    if activation is not None:
        activation = ALIASES.get(str(activation).lower(), str(activation).lower())
        if activation in ("none", "linear"):
            activation = None
        elif activation not in ACTIVATIONS:
            raise where["activation"].error(f"unknown activation {activation!r}; expected one of: "
                                            f"{', '.join(ACTIVATIONS)} or none")
    classes = top.get("classes")
    if classes is not None and (not isinstance(classes, int) or isinstance(classes, bool) or classes < 1):
        raise where["classes"].error(f"classes must be a positive integer, got {classes!r}")
    mean = _floats(top.get("mean"), where.get("mean"), "mean")
    std = _floats(top.get("std"), where.get("std"), "std")
    for label, stats in (("mean", mean), ("std", std)):
        if stats is not None and len(stats) not in (1, input_size[0]):
            raise where[label].error(f"{label} has {len(stats)} values; the input has {input_size[0]} channels")
    layers_node = keys["layers"][1]
    if not isinstance(layers_node, yaml.SequenceNode) or not layers_node.value:
        raise Where(source, _line(layers_node)).error("`layers:` must be a non-empty list of rows, e.g. - conv 3x3@16")
    rows = tuple(r for node in layers_node.value for r in _rows(node, source, text))
    if sum(r.repeat for r in rows) > MAX_ROWS:
        raise SpecError(f"{source}: {sum(r.repeat for r in rows):,} rows after repeats; "
                        f"a network table is limited to {MAX_ROWS:,}")
    name = str(top.get("name") or (Path(source).stem if source != "<text>" else "netspec"))
    return NetSpec(name=name, source=source, input_size=input_size, rows=rows, classes=classes, mean=mean, std=std,
                   padding=padding, activation=activation, description=str(top.get("description") or ""),
                   text=text)


def _input(value: object, where: Where) -> tuple[int, ...]:
    """CxHxW (images), CxL (1-D: audio, seed 001) or CxDxHxW (3-D: video, CT volumes)."""
    text = str(value).lower().replace("×", "x").replace(" ", "")
    if not _SHAPE.match(text) or not 1 <= text.count("x") <= 3:
        raise where.error("input must be CxHxW (channels x height x width, e.g. 3x64x64), CxL for a 1-D signal "
                          f"(1x16000) or CxDxHxW for a volume (1x16x112x112); got {value!r}")
    sizes = tuple(int(p) for p in text.split("x"))
    if min(sizes) < 1:
        raise where.error(f"input sizes must be positive, got {value!r}")
    if max(sizes[1:]) > MAX_SIDE or sizes[0] > MAX_CHANNELS:
        raise where.error(f"input {value!r} is larger than any network's input (sizes <= {MAX_SIDE:,}, "
                          f"channels <= {MAX_CHANNELS:,})")
    return sizes


def _floats(value: object, where: Where | None, label: str) -> tuple[float, ...] | None:
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    try:
        return tuple(float(v) for v in values)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        assert where is not None
        raise where.error(f"{label} must be a number or a list of numbers, got {value!r}") from None


def _hint(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


# -- rows --------------------------------------------------------------------------------------
def _rows(node: yaml.Node, source: str, doc: str) -> list[Row]:
    """One YAML list item -> rows ("relu+lrn" gives two); `doc` is the file's text."""
    line = _line(node)
    if isinstance(node, yaml.ScalarNode):
        text = str(_value(node)).strip()
        parts = [p.strip() for p in text.split("+")]
        if any(not p for p in parts):
            raise Where(source, line, text).error("empty part in a row joined with '+'")
        return [_row(p, Where(source, line, text if len(parts) == 1 else p)) for p in parts]
    if isinstance(node, yaml.MappingNode):
        if len(node.value) != 1:
            raise Where(source, line).error(
                f"a block row is a mapping with one key ({', '.join(BLOCKS)}), e.g. `- se: 16`")
        knode, vnode = node.value[0]
        kind = str(_value(knode)).strip().lower()
        written = " ".join(doc[node.start_mark.index:node.end_mark.index].split())
        where = Where(source, line, written if len(written) <= 70 else written[:69] + "…")
        if kind == "residual":
            return [_residual(vnode, where, source, doc)]
        if kind == "inception":
            return [_inception(vnode, where)]
        if kind == "fire":
            return [_fire(vnode, where)]
        if kind == "se":
            return [_row(f"se {_value(vnode)}", Where(source, line, f"se: {_value(vnode)}"))]
        if kind == "dense":
            return [_dense(vnode, where)]
        if kind in BRANCH_BLOCKS or kind in ALIASES and ALIASES[kind] in BRANCH_BLOCKS:
            return [_branches(ALIASES.get(kind, kind), vnode, where, source, doc)]
        raise where.error(f"unknown block {kind!r}{_hint(kind, BLOCKS)}; expected one of: {', '.join(BLOCKS)} "
                          f"(simple layers are written as text: - conv 3x3@16)", with_text=False)
    raise Where(source, line).error("a row must be text (e.g. conv 3x3@16) or a block (e.g. residual: [...])")


def _row(text: str, where: Where) -> Row:
    tokens = text.replace("×", "x").split()
    if not tokens:
        raise where.error("empty row")
    expect = None
    if "->" in tokens:
        i = tokens.index("->")
        out = tokens[i + 1:]
        if len(out) != 1 or not _SHAPE.match(out[0]):
            raise where.error("expected an output size after '->', e.g. -> 196x196x80 (H x W x C) or -> 500")
        expect = tuple(int(v) for v in out[0].split("x"))
        tokens = tokens[:i]
    raw_kind = tokens[0].lower()
    kind = ALIASES.get(raw_kind, raw_kind)
    if kind not in LAYERS:
        raise where.error(f"unknown layer {text!r}{_hint(raw_kind, LAYERS)}; expected one of: {', '.join(LAYERS)}",
                          with_text=False)
    if kind in ("residual", "inception", "fire", "dense", *BRANCH_BLOCKS):
        raise where.error(f"{kind} is a block: write it as `- {kind}: ...` (see the grammar in cnnzoo.netspec)")
    args = tokens[1:]
    repeat = 1
    if args and re.fullmatch(r"x\d+", args[-1].lower()):
        repeat = int(args.pop()[1:])
        if not 1 <= repeat <= MAX_REPEAT:
            raise where.error(f"a repeat count must be in 1..{MAX_REPEAT}, e.g. x3")
    fields: dict[str, object] = {"kind": kind, "where": where, "expect": expect, "repeat": repeat}
    if kind in WINDOW_LAYERS:
        fields.update(_window(kind, args, where))
        args = args[1:]
    elif kind == "fc":
        if not args or not (args[0].isdigit() or args[0] == "classes"):
            raise where.error("missing width; expected fc N (e.g. fc 500) or fc classes")
        fields["width"] = int(args[0]) if args[0].isdigit() else "classes"
        if fields["width"] == 0 or (isinstance(fields["width"], int) and fields["width"] > MAX_WIDTH):
            raise where.error(f"fc width must be in 1..{MAX_WIDTH:,} features")
        args = args[1:]
    elif kind == "groupnorm":
        if not args or not args[0].isdigit() or int(args[0]) < 1:
            raise where.error("missing the number of groups; expected groupnorm G, e.g. groupnorm 32")
        fields["value"] = int(args[0])
        args = args[1:]
    elif kind in ("dropout", "se"):
        if args and not args[0].startswith(tuple("abcdefghijklmnopqrstuvwxyz")):
            fields["value"] = _number(args[0], kind, where)
            args = args[1:]
        elif kind == "se":
            raise where.error("missing reduction; expected se R, e.g. se 16 (squeeze to C/16 channels)")
        else:
            fields["value"] = 0.5
    options, act = _options(kind, args, where)
    fields["options"], fields["act"] = options, act
    if "stride" in options:
        if fields.get("stride") is not None:
            raise where.error("stride given twice (in the window, as /S, and as `stride`)")
        fields["stride"] = options["stride"]
    return Row(**fields)  # type: ignore[arg-type]


def _number(token: str, kind: str, where: Where) -> float:
    try:
        if token.endswith("%"):
            return float(token[:-1]) / 100
        return float(token)
    except ValueError:
        raise where.error(f"{kind}: expected a number, got {token!r}") from None


def _window(kind: str, args: list[str], where: Where) -> dict[str, object]:
    conv = kind in ("conv", "separable")
    example = {"conv": "conv 3x3@64", "separable": "separable 3x3@128", "dwconv": "dwconv 3x3",
               "maxpool": "maxpool 2x2", "avgpool": "avgpool 2x2", "lppool": "lppool 2x2 p 2"}[kind]
    m = _WINDOW.match(args[0].lower()) if args else None
    if m is None or (conv and m.group(3) is None) or (not conv and m.group(3) is not None):
        what = "kernel and width" if conv else "kernel"
        got = f", got {args[0]!r}" if args else ""
        raise where.error(f"missing {what}; expected {example} (KxK[/stride]{'@channels' if conv else ''}){got}")
    kernel = tuple(int(k) for k in m.group(1).split("x"))  # the builder fits it to the input's dimensions
    stride = int(m.group(2)) if m.group(2) else None
    width: int | str | None = None
    if conv:
        width = m.group(3) if m.group(3) == "classes" else int(m.group(3))
        if width == 0 or (isinstance(width, int) and width > MAX_WIDTH):
            raise where.error(f"the number of channels must be in 1..{MAX_WIDTH:,}")
    if min(kernel) < 1 or (stride is not None and stride < 1) or max(*kernel, stride or 1) > MAX_SIDE:
        raise where.error(f"kernel and stride must be in 1..{MAX_SIDE:,}")
    return {"kernel": kernel, "stride": stride, "width": width}


def _options(kind: str, args: list[str], where: Where) -> tuple[dict[str, object], str | None]:
    allowed = OPTIONS.get(kind, {})
    options: dict[str, object] = {}
    act = None
    i = 0
    while i < len(args):
        tok = args[i].lower()
        tok = ALIASES.get(tok, tok) if tok in ("swish", "leakyrelu") else tok
        if kind in ACT_OPTION_LAYERS and tok in ACTIVATIONS:
            if act is not None:
                raise where.error(f"two activations on one row ({act}, {tok})")
            act = tok
            i += 1
            continue
        if tok not in allowed:
            expected = [f"{o} N" if v else o for o, v in allowed.items()]
            if kind in ACT_OPTION_LAYERS:
                expected.append("an activation (" + ", ".join(ACTIVATIONS) + ")")
            names = tuple(allowed) + (ACTIVATIONS if kind in ACT_OPTION_LAYERS else ())
            raise where.error(f"unknown option {args[i]!r} for {kind}{_hint(tok, names)}; "
                              + (f"expected: {', '.join(expected)}" if expected else f"{kind} takes no options"))
        if allowed[tok]:
            if i + 1 >= len(args):
                raise where.error(f"option {tok} needs a value, e.g. {tok} 2")
            value = _number(args[i + 1], f"{kind} {tok}", where)
            options[tok] = value if tok in FLOAT_OPTIONS else int(value)
            if tok not in FLOAT_OPTIONS and (value != int(value) or value < 0):
                raise where.error(f"{tok} must be a non-negative integer, got {args[i + 1]!r}")
            i += 2
        else:
            options[tok] = True
            i += 1
    if "linear" in options and act is not None:
        raise where.error(f"`linear` (no activation) and `{act}` on one row")
    if sum(k in options for k in ("pad", "same", "valid")) > 1:
        raise where.error("give one of pad N, same, valid")
    return options, act


def _sequence_rows(node: yaml.Node, where: Where, source: str, doc: str) -> tuple[Row, ...]:
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise where.error("expected a list of rows, e.g. [conv 3x3@64 bn relu, conv 3x3@64 bn]")
    return tuple(r for item in node.value for r in _rows(item, source, doc))


def _residual(node: yaml.Node, where: Where, source: str, doc: str) -> Row:
    settings: dict[str, object] = {"shortcut": "auto", "act": "relu"}
    if isinstance(node, yaml.MappingNode):
        branch_node = None
        for k, v in node.value:
            key = str(_value(k))
            if key == "branch":
                branch_node = v
            elif key in ("shortcut", "act"):
                settings[key] = str(_value(v)).lower()
            else:
                raise Where(where.source, _line(k)).error(
                    f"unknown residual key {key!r}; expected branch (a list of rows), shortcut "
                    "(auto, identity or conv), act (an activation or none)", with_text=False)
        if branch_node is None:
            raise where.error("residual needs `branch:` (a list of rows)")
        node = branch_node
    children = _sequence_rows(node, where, source, doc)
    if settings["shortcut"] not in ("auto", "identity", "conv"):
        raise where.error(f"residual shortcut must be auto, identity or conv, got {settings['shortcut']!r}")
    act = ALIASES.get(str(settings["act"]), str(settings["act"]))
    if act not in (*ACTIVATIONS, "none"):
        raise where.error(f"residual act must be an activation ({', '.join(ACTIVATIONS)}) or none, got {act!r}")
    settings["act"] = None if act == "none" else act
    return Row(kind="residual", where=where, children=children, block=settings)


INCEPTION_KEYS = ("1x1", "3x3", "5x5", "pool", "bn")


def _inception(node: yaml.Node, where: Where) -> Row:
    if not isinstance(node, yaml.MappingNode):
        raise where.error("inception needs a mapping: {1x1: 64, 3x3: [96, 128], 5x5: [16, 32], pool: 32} "
                          "(#1x1; #3x3 reduce, #3x3; #5x5 reduce, #5x5; pool proj)")
    values: dict[str, object] = {}
    for k, v in node.value:
        key = str(_value(k)).replace("×", "x")
        if key not in INCEPTION_KEYS:
            raise Where(where.source, _line(k)).error(
                f"unknown inception key {key!r}; expected: 1x1, 3x3, 5x5, pool (and bn: true)", with_text=False)
        values[key] = _value(v)
    missing = [k for k in ("1x1", "3x3", "5x5", "pool") if k not in values]
    if missing:
        raise where.error(f"inception is missing {', '.join(missing)}; expected "
                          "{1x1: N, 3x3: [reduce, N], 5x5: [reduce, N], pool: proj}")
    for key in ("3x3", "5x5"):
        pair = values[key]
        if not (isinstance(pair, list) and len(pair) == 2 and all(_count(p) for p in pair)):
            raise where.error(f"inception {key} must be [reduce, channels] (two positive integers), got {pair!r}")
    for key in ("1x1", "pool"):
        if not _count(values[key], zero=True):
            raise where.error(f"inception {key} must be a non-negative integer, got {values[key]!r}")
    return Row(kind="inception", where=where, block=values)


def _fire(node: yaml.Node, where: Where) -> Row:
    value = _value(node)
    if isinstance(value, list) and len(value) == 3:
        value = dict(zip(("s1x1", "e1x1", "e3x3"), value, strict=True))
    if not isinstance(value, dict) or not {"s1x1", "e1x1", "e3x3"} <= set(value) or \
            not set(value) <= {"s1x1", "e1x1", "e3x3", "bypass"}:
        raise where.error("fire needs {s1x1: N, e1x1: N, e3x3: N} (or [s1x1, e1x1, e3x3]); optional bypass: true")
    for key in ("s1x1", "e1x1", "e3x3"):
        if not _count(value[key]):
            raise where.error(f"fire {key} must be a positive integer, got {value[key]!r}")
    return Row(kind="fire", where=where, block=value)


def _count(v: object, *, zero: bool = False) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and (v >= 0 if zero else v >= 1) and v <= MAX_WIDTH


DENSE_KEYS = ("layers", "growth", "bn_size")


def _dense(node: yaml.Node, where: Where) -> Row:
    """`- dense: {layers: 6, growth: 32}`: DenseNet-B's dense block (bn_size 4: the 4k bottleneck)."""
    value = _value(node)
    if not isinstance(value, dict) or not {"layers", "growth"} <= set(value) or not set(value) <= set(DENSE_KEYS):
        raise where.error("dense needs {layers: N, growth: K} (optional bn_size: 4), e.g. dense: {layers: 6, growth: 32}")
    for key, v in value.items():
        if not _count(v):
            raise where.error(f"dense {key} must be a positive integer, got {v!r}")
    return Row(kind="dense", where=where, block=value)


def _branches(kind: str, node: yaml.Node, where: Where, source: str, doc: str) -> Row:
    """`- concat: [[rows], [rows]]` (and add / mul / max / split): parallel branches on one input.

    An empty branch `[]` is the identity. `split` cuts the input's channels into equal parts, one
    per branch (or `{sizes: [a, b], branches: [...]}`), and concatenates the branches' outputs."""
    sizes = None
    if kind == "split" and isinstance(node, yaml.MappingNode):
        parts = {str(_value(k)): v for k, v in node.value}
        if set(parts) != {"sizes", "branches"}:
            raise where.error("split takes [[rows], [rows], ...] or {sizes: [a, b, ...], branches: [[rows], ...]}")
        sizes = _value(parts["sizes"])
        if not isinstance(sizes, list) or not all(_count(v) for v in sizes):
            raise where.error(f"split sizes must be a list of positive channel counts, got {sizes!r}")
        node = parts["branches"]
    example = f"{kind}: [[conv 1x1@32], [conv 3x3@32]]"
    if not isinstance(node, yaml.SequenceNode) or len(node.value) < 2:
        raise where.error(f"{kind} needs a list of two or more branches, each a list of rows (e.g. {example}; "
                          "[] is the identity)")
    branches = []
    for item in node.value:
        if not isinstance(item, yaml.SequenceNode):
            raise where.error(f"each {kind} branch must be a list of rows (e.g. {example})")
        branches.append(tuple(r for sub in item.value for r in _rows(sub, source, doc)))
    if sizes is not None and len(sizes) != len(branches):
        raise where.error(f"split has {len(sizes)} sizes for {len(branches)} branches")
    return Row(kind=kind, where=where, branches=tuple(branches), block={"sizes": sizes} if sizes else {})

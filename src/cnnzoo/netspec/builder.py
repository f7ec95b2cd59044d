"""Building a `NetSpec` into a trainable `ZooModel`, inferring and checking shapes row by row."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor, nn

from ..layers.activations import SELU, ScaledTanh
from ..layers.attention import SqueezeExcite
from ..layers.dense_block import DenseBlock
from ..layers.dropconnect import DropConnectLinear
from ..layers.fire import Fire
from ..layers.highway import Highway, HighwayConv2d
from ..layers.inception_v1_modules import Inception
from ..layers.local_response_norm import LRN_ALPHA, LRN_BETA, LRN_K, LRN_SIZE, LocalResponseNorm
from ..layers.lp_pool import LpPool
from ..layers.norm import GroupNorm2d, LayerNorm2d
from ..models.base import FeatureInfo, ZooModel, global_pool
from ..models.card import IMAGENET_MEAN, IMAGENET_STD, ModelCard, Paper
from .blocks import (BATCH_NORMS, Branches, Conv, FullyConnected, GlobalAvgPool, Residual, Separable, Softmax,
                     map_text)
from .parser import ACTIVATIONS, BRANCH_BLOCKS, NetSpec, Row, SpecError

Shape = tuple[int, ...]  # (C, H, W) for a map ((C, L) 1-D, (C, D, H, W) 3-D), (F,) for a vector
CONVS: dict[int, type[nn.Module]] = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}  # by the map's spatial dims
POOLS: dict[str, dict[int, type[nn.Module]]] = {
    "maxpool": {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d},
    "avgpool": {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}}

ACT_MODULES: dict[str, Callable[[], nn.Module]] = {
    "relu": partial(nn.ReLU, inplace=True), "relu6": partial(nn.ReLU6, inplace=True),
    "lrelu": partial(nn.LeakyReLU, 0.01, inplace=True), "prelu": nn.PReLU, "elu": partial(nn.ELU, inplace=True),
    "selu": SELU, "gelu": nn.GELU, "silu": partial(nn.SiLU, inplace=True), "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
    "scaled_tanh": ScaledTanh, "hardswish": nn.Hardswish,
}
NAME_PREFIX = {"maxpool": "pool", "avgpool": "pool", "lppool": "pool", "dropout": "drop", "residual": "res",
               "separable": "sep", "layernorm": "ln", "groupnorm": "gn"}
ACT_LAYERS = ("conv", "dwconv", "separable", "fc")  # rows that take `activation:`'s default


def shape_text(shape: Shape) -> str:
    """(C, H, W) -> "HxWxC" (as the tables print), (F,) -> "F features"."""
    return map_text(shape) if len(shape) > 1 else f"{shape[0]} features"


def _meta_out(module: nn.Module, shape: Shape) -> Shape:
    """Output shape of `module` for one input of `shape`, computed on the meta device."""
    state = {k: torch.empty(v.shape, dtype=v.dtype, device="meta") for k, v in
             list(module.named_parameters(remove_duplicate=False)) + list(module.named_buffers(remove_duplicate=False))}
    was = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = torch.func.functional_call(module, state, (torch.empty(1, *shape, device="meta"),))
    finally:
        module.train(was)
    return tuple(out.shape[1:])


class _BlockRows:
    """The rows that need no window arithmetic: normalisation, activations and the blocks (SE,
    Inception, Fire, dense, branches). Part of `_Builder` (whose `need_map`, `rows` and
    `residual` they use), kept apart to keep each class readable."""

    def plain_row(self, row: Row, shape: Shape) -> tuple[nn.Module, int]:
        """Rows that keep the map's size: gap, flatten, dropout, norms, activations, and issue 11's."""
        kind = row.kind
        if kind == "gap":
            self.need_map(row, shape)
            return GlobalAvgPool(), 1
        if kind == "flatten":
            return nn.Flatten(1), 1
        if kind == "dropout":
            p = float(row.value if row.value is not None else 0.5)
            if not 0 <= p < 1:
                raise row.where.error(f"dropout probability must be in [0, 1), got {p:g}")
            return nn.Dropout(p), 1
        if kind == "bn":
            return BATCH_NORMS[max(1, len(shape) - 1)](shape[0]), 1
        if kind == "lrn":
            self.need_map(row, shape)
            o = row.options
            # AlexNet's normalisation and constants (Krizhevsky et al. 2012, §3.3): n = 5, alpha = 1e-4
            # (not divided by n, as torch's LocalResponseNorm does), beta = 0.75, k = 2
            return LocalResponseNorm(int(o.get("size", LRN_SIZE)), alpha=float(o.get("alpha", LRN_ALPHA)),  # type: ignore[arg-type]
                                     beta=float(o.get("beta", LRN_BETA)), k=float(o.get("k", LRN_K))), 1  # type: ignore[arg-type]
        if kind in ACTIVATIONS:
            return ACT_MODULES[kind](), 1
        if kind in ("layernorm", "groupnorm", "highway", "identity", "dense", *BRANCH_BLOCKS):
            return self.extra_row(row, shape)
        if kind == "softmax":
            return Softmax(), 1
        raise row.where.error(f"layer {kind!r} cannot be built")  # parser and builder disagree: a bug

    def block_row(self, row: Row, shape: Shape) -> tuple[nn.Module, int]:
        """se, inception, fire and residual rows."""
        if row.kind == "residual":
            return self.residual(row, shape)
        if row.kind == "se":
            c = self.need_map(row, shape, dims=(2,))[0]
            r = row.value or 0
            if r != int(r) or r < 1:
                raise row.where.error(f"se reduction must be a positive integer, got {r:g}")
            return SqueezeExcite(c, int(r)), 1
        if row.kind == "inception":
            c = self.need_map(row, shape, dims=(2,))[0]
            b = row.block
            (r3, n3), (r5, n5) = b["3x3"], b["5x5"]  # type: ignore[misc]
            return Inception(c, int(b["1x1"]), r3, n3, r5, n5, int(b["pool"]), norm=bool(b.get("bn", False))), 1  # type: ignore[arg-type]
        if row.kind == "fire":
            c = self.need_map(row, shape, dims=(2,))[0]
            b = row.block
            if b.get("bypass") and c != int(b["e1x1"]) + int(b["e3x3"]):  # type: ignore[arg-type]
                raise row.where.error(f"a fire bypass needs e1x1 + e3x3 = the input's {c} channels")
            return Fire(c, int(b["s1x1"]), int(b["e1x1"]), int(b["e3x3"]), bypass=bool(b.get("bypass", False))), 1  # type: ignore[arg-type]
        raise row.where.error(f"layer {row.kind!r} cannot be built")  # parser and builder disagree: a bug

    def extra_row(self, row: Row, shape: Shape) -> tuple[nn.Module, int]:
        """The rows of issue 11: layer / group norm, highway, identity, dense blocks, parallel branches."""
        kind = row.kind
        if kind == "layernorm":
            return (LayerNorm2d(shape[0]) if len(shape) > 1 else nn.LayerNorm(shape[0])), 1
        if kind == "groupnorm":
            c, g = self.need_map(row, shape)[0], int(row.value or 0)
            if c % g:
                raise row.where.error(f"groupnorm {g}: the groups must divide the input's {c} channels")
            return GroupNorm2d(c, g), 1
        if kind == "highway":
            gate = float(row.options.get("gate", -1.0))  # type: ignore[arg-type]
            if len(shape) == 1:
                return Highway(shape[0], gate_bias=gate), 1
            return HighwayConv2d(self.need_map(row, shape, dims=(2,))[0], gate_bias=gate), 1
        if kind == "identity":
            return nn.Identity(), 1
        if kind == "dense":
            c, b = self.need_map(row, shape, dims=(2,))[0], row.block
            return DenseBlock(int(b["layers"]), c, int(b["growth"]), bn_size=int(b.get("bn_size", 4))), 1  # type: ignore[arg-type]
        return self.branches(row, shape)

    def branches(self, row: Row, shape: Shape) -> tuple[Branches, int]:
        sizes = row.block.get("sizes")
        inputs = [shape] * len(row.branches)
        if row.kind == "split":
            c = self.need_map(row, shape)[0]
            if sizes is None:
                if c % len(row.branches):
                    raise row.where.error(f"split: {c} channels do not divide into {len(row.branches)} equal parts "
                                          "(give {sizes: [...], branches: [...]})")
                sizes = [c // len(row.branches)] * len(row.branches)
            if sum(sizes) != c:  # type: ignore[arg-type]
                raise row.where.error(f"split sizes {sizes} add up to {sum(sizes)}, not the input's {c} channels")  # type: ignore[arg-type]
            inputs = [(int(n), *shape[1:]) for n in sizes]  # type: ignore[union-attr]
        built = [self.rows(rows, s, branch=True) for rows, s in zip(row.branches, inputs, strict=True)]
        outs = [out for _, out in built]
        if row.kind in ("concat", "split"):
            if len(shape) < 2 or len({o[1:] for o in outs}) != 1:
                raise row.where.error(f"{row.kind}: the branches end with {', '.join(map(shape_text, outs))}; "
                                      "concatenation needs maps of one size")
        elif len(set(outs)) != 1:
            raise row.where.error(f"{row.kind}: the branches end with {', '.join(map(shape_text, outs))}; "
                                  "an element-wise join needs one shape")
        strides = {math.prod(s for *_, s, _ in b) for b, _ in built}
        seqs = [nn.Sequential(OrderedDict((name, m) for name, m, *_ in b)) for b, _ in built]
        return Branches(row.kind, seqs, sizes), max(strides)  # type: ignore[arg-type]


class _Builder(_BlockRows):
    def __init__(self, spec: NetSpec, classifier: Row, num_classes: int) -> None:
        self.spec, self.classifier, self.num_classes = spec, classifier, num_classes
        self.spec_input = "x".join(map(str, spec.input_size))

    # -- one list of rows (the network, or a residual branch) ---------------------------------
    def rows(self, rows: tuple[Row, ...], shape: Shape, *, branch: bool = False
             ) -> tuple[list[tuple[str, nn.Module, Shape, int, Row]], Shape]:
        """-> [(name, module, output shape, stride, row)], final shape."""
        counts: dict[str, int] = {}
        for r in rows:
            p = NAME_PREFIX.get(r.kind, r.kind)
            counts[p] = counts.get(p, 0) + r.repeat
        seen: dict[str, int] = {}
        out = []
        last_index = len(rows) - 1
        for i, row in enumerate(rows):
            for rep in range(row.repeat):
                prefix = NAME_PREFIX.get(row.kind, row.kind)
                seen[prefix] = seen.get(prefix, 0) + 1
                name = prefix if counts[prefix] == 1 else f"{prefix}{seen[prefix]}"
                last = i == last_index and rep == row.repeat - 1
                module, stride = self.row(row, shape, linear_default=branch and last)
                new_shape = self.out_shape(module, shape, row)
                if row.expect is not None and rep == row.repeat - 1:
                    self.check_expected(row, new_shape)
                module.spec_row = row.where.text  # type: ignore[assignment]  (shown by `cnnzoo show`)
                out.append((name, module, new_shape, stride, row))
                shape = new_shape
        return out, shape

    def out_shape(self, module: nn.Module, shape: Shape, row: Row) -> Shape:
        try:
            return _meta_out(module, shape)
        except SpecError:
            raise
        except (RuntimeError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise row.where.error(f"input is {shape_text(shape)}, which this layer cannot take: {first}") from None

    def check_expected(self, row: Row, shape: Shape) -> None:
        assert row.expect is not None
        got = (*shape[1:], shape[0]) if len(shape) > 1 else shape
        if tuple(row.expect) != tuple(got):
            want = "x".join(map(str, row.expect))
            raise row.where.error(f"the output is {'x'.join(map(str, got))} but the table says {want}")

    # -- one row --------------------------------------------------------------------------------
    def act(self, row: Row, *, linear_default: bool) -> nn.Module | None:
        name = row.act
        if name is None and "linear" not in row.options and not linear_default and row is not self.classifier:
            name = self.spec.activation
        return ACT_MODULES[name]() if name else None

    def need_map(self, row: Row, shape: Shape, *, dims: tuple[int, ...] = (1, 2, 3)) -> Shape:
        if len(shape) < 2:
            raise row.where.error(f"input is {shape_text(shape)} (a vector); {row.kind} needs a map (C x H x W): "
                                  "put it before gap / flatten / fc")
        if len(shape) - 1 not in dims:
            raise row.where.error(f"input is a {len(shape) - 1}-D map ({shape_text(shape)}); {row.kind} works on "
                                  f"{' or '.join(f'{d}-D' for d in dims)} maps")
        return shape

    def kernel(self, row: Row, dims: int) -> tuple[int, ...]:
        """The row's window fitted to a `dims`-D map: K means K in every dimension."""
        assert row.kernel is not None
        if len(row.kernel) == 1:
            return row.kernel * dims
        if len(row.kernel) != dims:
            raise row.where.error(f"a {'x'.join(map(str, row.kernel))} window on a {dims}-D map; write "
                                  f"{'x'.join(['K'] * dims)} (or one K)")
        return row.kernel

    def window(self, row: Row, shape: Shape, *, conv: bool
               ) -> tuple[tuple[int, ...], int | tuple[int, ...], tuple[int, ...], int]:
        """(kernel, stride, padding, dilation) of a conv / pool row, checked against the input; a
        pool strides by its window unless told (per axis: 1x2x2 keeps the frames of a clip)."""
        self.need_map(row, shape)
        k = self.kernel(row, len(shape) - 1)
        stride = row.stride or (1 if conv else k)
        dilation = int(row.options.get("dilation", 1))  # type: ignore[arg-type]
        if dilation < 1:
            raise row.where.error("dilation must be >= 1")
        if "pad" in row.options:
            pad = (int(row.options["pad"]),) * len(k)  # type: ignore[arg-type]
        elif conv and ("same" in row.options or (self.spec.padding == "same" and "valid" not in row.options)):
            pad = tuple((kk - 1) // 2 * dilation for kk in k)
        else:
            pad = (0,) * len(k)
        window = "x".join(map(str, k))
        if any(n + 2 * p < dilation * (kk - 1) + 1 for n, p, kk in zip(shape[1:], pad, k)):
            raise row.where.error(f"input is {shape_text(shape)}: a {window} window (padding {pad[0]}) does not fit; "
                                  "use a smaller kernel, padding, or fewer downsampling layers before it")
        if not conv and any(p * 2 > kk for p, kk in zip(pad, k)):
            raise row.where.error(f"pooling padding {pad[0]} is more than half the {window} window")
        return k, stride, pad, dilation

    def conv(self, row: Row, in_chs: int, out_chs: int, shape: Shape, *, groups: int = 1, pointwise: bool = False,
             act: nn.Module | None = None, stride: int | None = None) -> tuple[Conv, int]:
        k, s, pad, d = self.window(row, shape, conv=True)
        if pointwise:  # the pointwise half of a separable row
            k, s, pad, d = (1,) * len(k), 1, (0,) * len(k), 1
        if stride is not None:
            s = stride
        if in_chs % groups or out_chs % groups:
            raise row.where.error(f"groups {groups} must divide the input ({in_chs}) and output ({out_chs}) channels")
        bn = bool(row.options.get("bn"))
        layer = CONVS[len(k)](in_chs, out_chs, k, stride=s, padding=pad, dilation=d, groups=groups,
                              bias=not bn and not row.options.get("nobias"))
        return Conv(layer, bn, act), s

    def row(self, row: Row, shape: Shape, *, linear_default: bool) -> tuple[nn.Module, int]:
        """(module, stride) of one table row at input `shape`."""
        kind = row.kind
        if kind == "conv":
            c = self.need_map(row, shape)[0]
            width = self.num_classes if row is self.classifier else row.width
            if width == "classes":
                raise row.where.error("`@classes` is only for the classifier (the last fc, or the last conv "
                                      "when there is no fc)")
            return self.conv(row, c, int(width), shape, groups=int(row.options.get("groups", 1)),  # type: ignore[arg-type]
                             act=self.act(row, linear_default=linear_default))
        if kind == "dwconv":
            c = self.need_map(row, shape)[0]
            return self.conv(row, c, c, shape, groups=c, act=self.act(row, linear_default=linear_default))
        if kind == "separable":
            c = self.need_map(row, shape)[0]
            dw, s = self.conv(row, c, c, shape, groups=c, act=self.act(row, linear_default=False))
            dw_shape = _meta_out(dw, shape)
            pw, _ = self.conv(row, c, int(row.width), dw_shape, pointwise=True,  # type: ignore[arg-type]
                              act=self.act(row, linear_default=linear_default))
            return Separable(dw, pw), s
        if kind in ("maxpool", "avgpool"):
            k, s, pad, _ = self.window(row, shape, conv=False)
            pool = POOLS[kind][len(k)](k, s, pad, ceil_mode=bool(row.options.get("ceil")))
            return pool, s if isinstance(s, int) else s[-1]  # the reduction of the last (width) axis
        if kind == "lppool":
            k, s, _, _ = self.window(row, shape, conv=False)
            p = float(row.options.get("p", 2.0))  # type: ignore[arg-type]
            if not p >= 1:
                raise row.where.error(f"lppool p must be >= 1 (or inf), got {p:g}")
            return LpPool(p, k, s, dims=len(k)), s if isinstance(s, int) else s[-1]
        if kind == "fc":
            return self.fc(row, shape, linear_default=linear_default), 1
        if kind in ("se", "inception", "fire", "residual"):
            return self.block_row(row, shape)
        return self.plain_row(row, shape)

    def fc(self, row: Row, shape: Shape, *, linear_default: bool) -> FullyConnected:
        width = self.num_classes if row is self.classifier else row.width
        if width == "classes":
            raise row.where.error("`fc classes` is only for the last fc (the classifier)")
        if row is self.classifier and row.options.get("bn"):
            raise row.where.error("the classifier (the last fc) cannot have bn")
        features = math.prod(shape)
        expected = tuple(shape) if len(shape) > 1 and math.prod(shape[1:]) != 1 else None
        p = float(row.options.get("dropconnect", 0.0))  # type: ignore[arg-type]
        if not 0 <= p < 1:
            raise row.where.error(f"dropconnect probability must be in [0, 1), got {p:g}")
        bias = not row.options.get("nobias")
        linear = DropConnectLinear(features, int(width), p=p, bias=bias) if p else \
            nn.Linear(features, int(width), bias=bias)  # type: ignore[arg-type]
        return FullyConnected(linear,  # type: ignore[arg-type]
                              bool(row.options.get("bn")), self.act(row, linear_default=linear_default),
                              expected_map=expected, where=str(row.where), spec_input=self.spec_input)  # type: ignore[arg-type]

    def residual(self, row: Row, shape: Shape) -> tuple[Residual, int]:
        c = self.need_map(row, shape)[0]
        built, out = self.rows(row.children, shape, branch=True)
        if len(out) != len(shape):
            raise row.where.error(f"the residual branch ends with {shape_text(out)}; it must keep a map")
        stride = math.prod(s for *_, s, _ in built)
        oc = out[0]
        mode = row.block.get("shortcut", "auto")
        if out == shape and mode != "conv":
            shortcut: nn.Module = nn.Identity()
        elif mode == "identity":
            raise row.where.error(f"the branch turns {shape_text(shape)} into {shape_text(out)}; an identity "
                                  "shortcut needs the same shape (use shortcut: auto or conv)")
        elif tuple(math.ceil(n / stride) for n in shape[1:]) != out[1:]:
            raise row.where.error(f"the branch turns {shape_text(shape)} into {shape_text(out)}, which no "
                                  f"strided 1x1 shortcut matches (stride {stride}); use 'same' padding in the branch")
        else:
            dims = len(shape) - 1
            bn = any(isinstance(m, BATCH_NORMS[dims]) for _, m, *_ in built for m in m.modules())
            conv = CONVS[dims](c, oc, 1, stride=stride, bias=not bn)
            shortcut = nn.Sequential(OrderedDict(conv=conv, bn=BATCH_NORMS[dims](oc))) if bn else conv
        branch = nn.Sequential(OrderedDict((name, m) for name, m, *_ in built))
        act_name = row.block.get("act")
        return Residual(branch, shortcut, ACT_MODULES[act_name]() if act_name else None), stride  # type: ignore[index]


def _classifier(spec: NetSpec) -> Row:
    fcs = [r for r in spec.rows if r.kind == "fc"]
    if fcs:
        return fcs[-1]
    convs = [r for r in spec.rows if r.kind == "conv"]
    if convs:
        return convs[-1]
    raise SpecError(f"{spec.source}: the network has no classifier; end it with `fc N` (or `fc classes`), "
                    "or a 1x1 `conv 1x1@classes` followed by `gap`")


class NetSpecModel(ZooModel):
    """A network written as a table (see `cnnzoo.netspec`): `features` holds the rows up to the
    first one that pools, flattens or classifies; `head` the rest; the classifier is the last
    fc (or, in a network without fc, the last convolution)."""

    def __init__(self, spec: NetSpec, *, num_classes: int | None = None, in_chans: int | None = None) -> None:
        super().__init__()
        if in_chans is not None and in_chans < 1:
            raise ValueError(f"in_chans must be >= 1, got {in_chans}")
        if num_classes is not None and num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
        classifier = _classifier(spec)
        width = classifier.width
        if num_classes is not None:
            n = num_classes or (spec.classes or (width if isinstance(width, int) else 1))
        elif width == "classes":
            if spec.classes is None:
                raise classifier.where.error("the width is `classes` but the spec has no `classes:` key "
                                             "(add e.g. `classes: 10` at the top, or pass num_classes)")
            n = spec.classes
        else:
            if spec.classes is not None and spec.classes != width:
                raise classifier.where.error(f"the classifier has {width} outputs but `classes:` says {spec.classes}")
            n = int(width)  # type: ignore[arg-type]
        if classifier.repeat != 1:
            raise classifier.where.error("the classifier row cannot be repeated")
        c, *spatial = spec.input_size
        if in_chans is not None:
            c = in_chans
        builder = _Builder(spec, classifier, n)
        built, out = builder.rows(spec.rows, (c, *spatial))
        if out != (n,):
            raise SpecError(f"{spec.source}: the network ends with {shape_text(out)}; it must end with "
                            f"{n} features: finish with gap (global pooling) and/or an fc layer")
        softmax_rows = [i for i, (_, m, *_) in enumerate(built) if isinstance(m, Softmax)]
        if softmax_rows and softmax_rows != list(range(len(built) - len(softmax_rows), len(built))):
            raise built[softmax_rows[0]][4].where.error("softmax can only be the last row")
        cls_index = next(i for i, b in enumerate(built) if b[4] is classifier)
        vector_at = next((i for i, b in enumerate(built) if len(b[2]) == 1), len(built))
        split = min(cls_index, vector_at)
        self.features = nn.Sequential(OrderedDict((name, m) for name, m, *_ in built[:split]))
        self.head = nn.Sequential(OrderedDict((name, m) for name, m, *_ in built[split:]))
        cls_name, cls_module = built[cls_index][0], built[cls_index][1]
        self._classifier_row = cls_name
        inner = "fc" if isinstance(cls_module, FullyConnected) else "conv"
        self.classifier_path = f"head.{cls_name}.{inner}"
        self._conv_classifier = inner == "conv"
        feats = built[split - 1][2] if split else (c, *spatial)
        self.num_classes, self.in_chans = n, c
        self.num_features = feats[0]
        classifier_layer = self.get_classifier()
        self.head_hidden_size = (classifier_layer.in_features if isinstance(classifier_layer, nn.Linear)
                                 else classifier_layer.in_channels)  # type: ignore[assignment]
        self.feature_info = self._feature_info(built[:split], (c, *spatial))
        self.spec, self.spec_text, self.spec_source = spec, spec.text, spec.source
        self.spec_input_size = (c, *spatial)
        self.model_name = spec.name
        self.model_args = {k: v for k, v in (("num_classes", num_classes), ("in_chans", in_chans)) if v is not None}
        if num_classes == 0:
            self.reset_classifier(0)

    @staticmethod
    def _feature_info(built: list, input_shape: Shape) -> tuple[FeatureInfo, ...]:
        """One entry per spatial resolution: the last row at each map size, in forward order."""
        if not built:
            return (FeatureInfo("features", input_shape[0], 1),)
        infos, reduction = [], 1
        for i, (name, _, shape, stride, _) in enumerate(built):
            reduction *= stride
            if i + 1 == len(built) or built[i + 1][2][1:] != shape[1:]:
                infos.append(FeatureInfo(f"features.{name}", shape[0], reduction))
        return tuple(infos)

    def forward_features(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, num_features, h, w)
        return self.features(x)

    def forward_head(self, x: Tensor, *, pre_logits: bool = False) -> Tensor:
        for name, module in self.head.named_children():
            if pre_logits and name == self._classifier_row:
                return global_pool(x) if self._conv_classifier else torch.flatten(x, 1)
            x = module(x)
        return x

    @property
    def card(self) -> ModelCard:
        """A registry-style card: the spec's input size, normalisation, classes and smallest input."""
        c, *spatial = self.spec_input_size
        mean = self.spec.mean or (IMAGENET_MEAN if c == 3 else (0.5,) * c)
        std = self.spec.std or (IMAGENET_STD if c == 3 else (0.5,) * c)
        return ModelCard(paper=Paper(f"{self.spec.name} (a network written as a table: {self.spec_source})",
                                     "cnnzoo netspec", 0),
                         input_size=self.spec_input_size, min_size=self.min_size(),  # type: ignore[arg-type] mean=tuple(mean), std=tuple(std),
                         num_classes=self.num_classes, notes=self.spec.description)

    def min_size(self) -> int:
        """The smallest square input the network takes (the spec's own size when an fc reads a map)."""
        c, h, *rest = self.spec_input_size
        if len(rest) != 1 or any(isinstance(m, FullyConnected) and m.expected_map is not None for m in self.modules()):
            return h  # 1-D and 3-D inputs: the spec's own size
        w = rest[0]

        def works(s: int) -> bool:
            try:
                _meta_out(self, (c, s, s))
                return True
            except (RuntimeError, ValueError):
                return False

        lo, hi = 1, max(h, w)
        if not works(hi):
            return hi
        while lo < hi:
            mid = (lo + hi) // 2
            if works(mid):
                hi = mid
            else:
                lo = mid + 1
        return lo


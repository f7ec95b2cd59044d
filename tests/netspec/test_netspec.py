"""Networks written as tables (seed 002): build, show, train, and the errors a bad table gets."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from cnnzoo.analysis.receptive_field import receptive_field, receptive_field_by_gradient
from cnnzoo.analysis.summary import render_show, summary
from cnnzoo.errors import CnnzooError, ConfigError
from cnnzoo.layers.local_response_norm import LocalResponseNorm
from cnnzoo.netspec import SpecError, build_from_text, build_from_yaml, is_table_spec

TABLES = Path(__file__).resolve().parents[2] / "examples" / "tables"
SEED_64 = TABLES / "seed002_64x64.yaml"
SEED_400 = TABLES / "seed002_400x400.yaml"
DEMO = TABLES / "resnet_like.yaml"


def _train_one_epoch(model, images: int, batch: int, size: tuple[int, int, int]) -> list[float]:
    """A plain loop over random data: every step must give a finite loss and move the weights."""
    torch.manual_seed(0)
    x = torch.randn(images, *size)
    y = torch.randint(0, model.num_classes, (images,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    before = [p.detach().clone() for p in model.parameters()]
    model.train()
    losses = []
    for i in range(0, images, batch):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x[i:i + batch]), y[i:i + batch])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert all(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    return losses


def test_seed002_64x64_table():
    torch.manual_seed(0)
    model = build_from_yaml(SEED_64)
    # conv 3x3@16, 3x3@32, 3x3@64, 3x3@64 ("same"), three 2x2 pools: 64 -> 8; FC 64*8*8 -> 500 -> 2
    assert sum(p.numel() for p in model.parameters()) == (
        (3 * 9 * 16 + 16) + (16 * 9 * 32 + 32) + (32 * 9 * 64 + 64) + (64 * 9 * 64 + 64)
        + (64 * 8 * 8 * 500 + 500) + (500 * 2 + 2))
    assert model.num_classes == 2 and model.num_features == 64 and model.head_hidden_size == 500
    assert [(i.num_chs, i.reduction) for i in model.feature_info] == [(32, 1), (64, 2), (64, 4), (64, 8)]
    assert model.spec_text == SEED_64.read_text(encoding="utf-8")
    assert model.card.input_size == (3, 64, 64) and model.card.min_size == 64
    text = render_show(SEED_64)
    assert "8x8x64" in text and "fc 500" in text and "maxpool 2x2" in text
    _train_one_epoch(model, images=16, batch=8, size=(3, 64, 64))


def test_seed002_400x400_table():
    torch.manual_seed(0)
    model = build_from_yaml(SEED_400)  # every `->` output of the seed's table is checked at build
    assert sum(p.numel() for p in model.parameters()) == (
        (3 * 100 * 80 + 80) + (80 * 25 * 120 + 120) + (120 * 9 * 160 + 160) + (160 * 9 * 200 + 200)
        + (9 * 9 * 200 * 320 + 320) + (320 * 320 + 320) + (320 * 2 + 2))
    lrn = [m for m in model.modules() if isinstance(m, LocalResponseNorm)]
    drops = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(lrn) == 2 and len(drops) == 2 and drops[0].p == 0.5
    a = torch.rand(1, 12, 5, 5) * 10
    # AlexNet's function (§3.3: alpha is not divided by n), not torch's under the same constants
    torch.testing.assert_close(lrn[0](a), LocalResponseNorm()(a))
    assert not torch.allclose(lrn[0](a), torch.nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)(a))
    s = summary(model)
    assert [r.output for r in s.rows if r.name.startswith("features.pool")] == ["49x49x80", "22x22x120", "9x9x200"]
    assert "| lrn " in render_show(SEED_400, fmt="markdown")  # each row as written: "relu+lrn" is two rows
    assert build_from_yaml(SEED_400, num_classes=7).num_classes == 7
    _train_one_epoch(model, images=2, batch=2, size=(3, 400, 400))


def test_issue_example_blocks_and_contract():
    torch.manual_seed(0)
    model = build_from_yaml(DEMO)
    names = [n for n, _ in model.features.named_children()]
    assert names == ["conv1", "conv2", "pool", "conv3", "res", "inception", "se"]
    x = torch.randn(2, 3, 64, 64)
    model.eval()
    with torch.no_grad():
        feats = model.forward_features(x)
        assert feats.shape == (2, 256, 16, 16) and model.num_features == 256
        assert model.forward_head(feats, pre_logits=True).shape == (2, model.head_hidden_size) == (2, 500)
        assert model(torch.randn(1, 3, 96, 96)).shape == (1, 2)  # gap: any input size works
        maps = model.forward_intermediates(x)
        assert [m.shape[1] for m in maps] == [i.num_chs for i in model.feature_info]
        model.reset_classifier(5)
        assert model(x).shape == (2, 5)
        model.reset_classifier(0)
        assert model(x).shape == (2, 500)
    s = summary(build_from_yaml(DEMO))
    cols = {r.name: r.columns for r in s.rows}
    assert cols["features.inception"]["#3x3 reduce"] == 96 and cols["features.res"]["blocks"] == "[3x3, 64; 3x3, 64]"
    assert build_from_yaml(DEMO).card.min_size <= 16
    _train_one_epoch(build_from_yaml(DEMO, num_classes=3), images=8, batch=4, size=(3, 64, 64))


def test_rebuild_from_spec_text_and_overrides():
    model = build_from_yaml(SEED_64)
    again = build_from_text(model.spec_text, source="checkpoint")
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in again.state_dict().items()}
    again.load_state_dict(model.state_dict())
    gray = build_from_yaml(SEED_64, in_chans=1, num_classes=10)
    assert gray.in_chans == 1 and gray(torch.randn(1, 1, 64, 64)).shape == (1, 10)
    assert is_table_spec(SEED_64) and is_table_spec("new.yml") and not is_table_spec("resnet50")


def test_receptive_field_matches_the_gradient_method():
    model = build_from_yaml(DEMO)
    # conv 3, 5; pool 2x2: 6, jump 2; conv 3x3/2: 10, jump 4; residual: 10 + 2*2*4 = 26; inception
    # 5x5 branch: 26 + 4*4 = 42 (the SE gate is not a path)
    assert receptive_field(model).size == (42, 42)
    no_se = build_from_text(DEMO.read_text().replace("  - se: 16\n", ""))
    assert receptive_field_by_gradient(no_se, (3, 96, 96)) == (42, 42)


def _err(text: str, match: str, exc: type[Exception] = SpecError) -> None:
    with pytest.raises(exc, match=match):
        build_from_text(text, source="net.yaml")


BASE = "input: 3x32x32\nlayers:\n"


@pytest.mark.parametrize("rows,match", [
    ("  - conv 3x3@16\n  - convv 3x3@16\n  - fc 2\n",
     r"net\.yaml, line 4: unknown layer 'convv 3x3@16' \(did you mean conv\?\); expected one of: conv, dwconv, "),
    ("  - conv\n  - fc 2\n", r"net\.yaml, line 3 \(conv\): missing kernel and width; expected conv 3x3@64"),
    ("  - conv 3x3\n  - fc 2\n", r"line 3 \(conv 3x3\): missing kernel and width"),
    ("  - maxpool\n  - fc 2\n", r"line 3 \(maxpool\): missing kernel; expected maxpool 2x2"),
    ("  - fc\n", r"line 3 \(fc\): missing width; expected fc N"),
    ("  - conv 3x3@16 strid 2\n  - fc 2\n", r"unknown option 'strid' for conv \(did you mean stride\?\)"),
    ("  - conv 3x3@8\n  - gap\n  - conv 3x3@8\n  - fc 2\n",
     r"line 5 \(conv 3x3@8\): input is 8 features \(a vector\); conv needs a map"),
    ("  - maxpool 2x2 x6\n  - fc 2\n", r"line 3 \(maxpool 2x2 x6\): input is 1x1x3: a 2x2 window"),
    ("  - conv 3x3@8 -> 30x30x8\n  - fc 2\n", r"line 3 .*: the output is 32x32x8 but the table says 30x30x8"),
    ("  - residual: {branch: [conv 3x3@8], shortcut: identity}\n  - fc 2\n",
     r"line 3 \(residual: {branch: \[conv 3x3@8\], shortcut: identity}\): the branch turns 32x32x3 into 32x32x8; an identity shortcut"),
    ("  - fc classes\n", r"line 3 \(fc classes\): the width is `classes` but the spec has no `classes:`"),
    ("  - softmax\n  - fc 2\n", r"line 3 \(softmax\): softmax can only be the last row"),
    ("  - inception: {1x1: 8, 3x3: 16}\n  - fc 2\n", r"inception is missing 5x5, pool"),
    ("  - gap\n  - fc 2 -> 3\n", r"line 4 \(fc 2 -> 3\): the output is 2 but the table says 3"),
    ("  - conv 3x3@8\n", r"net\.yaml: the network ends with 32x32x8; it must end with 8 features"),
])
def test_bad_rows(rows, match):
    _err(BASE + rows, match)


def test_bad_files():
    _err("layers:\n  - fc 2\n", r"net\.yaml: missing `input:`")
    _err("input: 64\nlayers:\n  - fc 2\n", r"net\.yaml, line 1: input must be CxHxW")
    _err(BASE + "  - fc 2\nclases: 3\n", r"net\.yaml, line 4: unknown key 'clases' \(did you mean classes\?\)")
    _err(BASE + "  - conv 3x3@8\n - fc 2\n", r"net\.yaml, line \d+: not valid YAML")
    _err("input: 3x32x32\nclasses: 3\nlayers:\n  - fc 2\n", r"line 4 \(fc 2\): the classifier has 2 outputs but `classes:` says 3")
    with pytest.raises(SpecError, match="no such file"):
        build_from_yaml(TABLES / "missing.yaml")
    assert issubclass(SpecError, ConfigError) and issubclass(SpecError, CnnzooError)


def test_fc_on_a_map_says_which_size_it_was_built_for():
    model = build_from_yaml(SEED_64).eval()
    with pytest.raises(SpecError, match=r"seed002_64x64\.yaml, line \d+ \(fc 500\): input is 16x16x64 = 16384 "
                                         r"features but the layer was built for 8x8x64 = 4096 \(the spec's input 3x64x64\)"):
        model(torch.randn(1, 3, 128, 128))


def test_grammar_details():
    m = build_from_text("input: 3x32x32\nclasses: 4\nlayers:\n  - conv 3x3/2@8 bn relu\n  - relu+dropout 40%\n"
                        "  - dwconv 3x3 bn relu6\n  - separable 3x3@16 bn relu\n  - fire: [4, 8, 8]\n"
                        "  - avgpool 2x2 ceil\n  - conv 1x1@classes relu\n  - gap\n  - softmax\n")
    assert m.num_classes == 4 and m.classifier_path.endswith(".conv")
    x = torch.randn(2, 3, 32, 32)
    assert m(x).shape == (2, 4) and m.forward_head(m.forward_features(x), pre_logits=True).shape == (2, 16)
    conv1 = m.features.conv1.conv
    assert conv1.stride == (2, 2) and conv1.padding == (1, 1) and conv1.bias is None
    assert [type(c).__name__ for c in m.features.children()][:3] == ["Conv", "ReLU", "Dropout"]
    assert m.features.drop.p == pytest.approx(0.4)
    valid = build_from_text("input: 1x28x28\npadding: valid\nactivation: tanh\nlayers:\n  - conv 5x5@6 x2\n  - fc 10\n")
    assert valid.features.conv2.conv.padding == (0, 0) and valid.get_classifier().in_features == 6 * 20 * 20
    assert isinstance(valid.features.conv1.act, torch.nn.Tanh) and valid.head.fc.act is None  # classifier linear


def test_registry_entry_points():
    from cnnzoo import create_model
    from cnnzoo.netspec import spec_card, spec_input_size

    assert spec_input_size(SEED_400) == (3, 400, 400)
    assert spec_card(SEED_64).mean == (0.485, 0.456, 0.406)
    model = create_model(str(SEED_64), num_classes=5)
    assert model.num_classes == 5 and model.spec_text == SEED_64.read_text(encoding="utf-8")
    with pytest.raises(SpecError, match="takes num_classes and in_chans, not 'drop_rate'"):
        build_from_yaml(SEED_64, drop_rate=0.1)

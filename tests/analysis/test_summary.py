"""The per-layer table: rows, totals, formats, depth, and one counting mechanism for all."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
import torch
from torch import nn

import cnnzoo
from cnnzoo.analysis import count_mult_adds, count_params
from cnnzoo.analysis.summary import render_show, resolve_input_size, shape_text, summary


def _lenet():
    torch.manual_seed(0)
    return cnnzoo.create_model("lenet5")


def test_lenet5_rows_are_the_papers_table():
    s = summary(_lenet())
    rows = {r.name: r for r in s.rows}
    assert list(rows) == ["c1", "s2", "c3", "s4", "c5", "f6", "output"]
    # LeCun et al. 1998 §II.B: maps and sizes; parameters 156, 12, 1,516, 32, 48,120, 10,164, 850
    assert [r.output for r in s.rows] == ["28x28x6", "14x14x6", "10x10x16", "5x5x16", "1x1x120", "84", "10"]
    assert [r.params for r in s.rows] == [156, 12, 1516, 32, 48120, 10164, 850]
    assert rows["c1"].kernel == "5x5/1" and rows["s2"].kernel == "2x2/2"
    assert rows["c1"].type == "Conv2d+ScaledTanh"
    # C1: 28*28*6 outputs x 25 taps; C3: the connection table's 60 kernels x 25 taps x 10*10
    assert rows["c1"].mult_adds == 28 * 28 * 6 * 25
    assert rows["c3"].mult_adds == 60 * 25 * 10 * 10
    assert [r.receptive_field for r in s.rows][:5] == ["5", "6", "14", "16", "32"]
    assert s.receptive_field is not None and s.receptive_field.text() == "32"


@pytest.mark.parametrize("name", ["lenet5", "resnet18", "squeezenet1_0"])
def test_totals_are_count_params_and_count_mult_adds(name):
    with torch.device("meta"):
        model = cnnzoo.create_model(name)
    size = cnnzoo.model_card(name).input_size
    s = summary(model)
    assert s.params == count_params(model)
    assert s.mult_adds == count_mult_adds(model, size)
    assert s.flops == 2 * s.mult_adds
    assert s.input_size == size


def test_meta_and_real_tensors_agree():
    model = _lenet()
    meta, real = summary(model, batch=2), summary(model, batch=2, device=None)
    assert [(r.name, r.output, r.params, r.mult_adds, r.receptive_field) for r in meta.rows] == \
           [(r.name, r.output, r.params, r.mult_adds, r.receptive_field) for r in real.rows]
    assert meta.memory.inference == real.memory.inference
    assert meta.memory.saved_bytes == real.memory.saved_bytes


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(8, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.b(torch.relu(self.a(x))) + x)

    def paper_columns(self):
        return {"blocks": "[3x3, 8; 3x3, 8]"}


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.blocks = nn.Sequential(_Block(), _Block())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


def test_paper_view_depth_and_columns():
    s = summary(_Net(), (3, 32, 32))
    assert [r.name for r in s.rows] == ["stem", "blocks.0", "blocks.1", "pool", "fc"]
    assert s.extra_columns == ("blocks",)
    assert s.rows[1].columns == {"blocks": "[3x3, 8; 3x3, 8]"}
    assert s.rows[0].type == "Conv2d+BatchNorm2d+ReLU" and s.rows[0].kernel == "3x3/2"
    assert s.rows[0].output == "16x16x8"
    assert s.rows[3].mult_adds is None and s.rows[3].kernel == "16x16/1"  # global pooling: not counted
    assert s.rows[4].receptive_field == "global"
    # RF: 3 (stem) + 4 convs 3x3 at jump 2: 3 + 4 * 2 * 2 = 19
    assert s.rows[2].receptive_field == "19" and s.receptive_field.text() == "19"
    d1 = summary(_Net(), (3, 32, 32), depth=1)
    assert [r.name for r in d1.rows] == ["stem", "blocks", "pool", "fc"]
    d2 = summary(_Net(), (3, 32, 32), depth=2)
    assert [r.name for r in d2.rows][:5] == ["stem", "stem.0", "stem.1", "stem.2", "blocks"]
    assert sum(r.params for r in d1.rows) == s.params


def test_formats():
    s = summary(_lenet(), batch=4)
    text = s.to_text()
    assert "c3" in text and "10x10x16" in text and "FLOPs = 2 x mult-adds" in text
    md = s.to_markdown()
    assert md.count("\n| c") >= 3 and "|---|" in md
    rows = list(csv.DictReader(io.StringIO(s.to_csv())))
    assert [r["name"] for r in rows] == [r.name for r in s.rows]
    assert rows[0]["mult-adds"] == str(28 * 28 * 6 * 25)  # per image, whatever the batch
    data = json.loads(s.to_json())
    assert data["totals"]["params"] == 60_850 and data["batch"] == 4
    assert data["totals"]["memory_bytes"]["inference"] == s.memory.inference
    with pytest.raises(ValueError, match="unknown format"):
        s.format("html")


def test_batch_and_dtype_scale_the_memory_not_the_counts():
    one, eight = summary(_lenet(), batch=1), summary(_lenet(), batch=8)
    assert one.mult_adds == eight.mult_adds
    assert eight.memory.input_bytes == 8 * one.memory.input_bytes
    # saved maps scale with the batch (a few hundred bytes of weights derived from parameters do not)
    assert eight.memory.saved_bytes == pytest.approx(8 * one.memory.saved_bytes, rel=0.01)
    half = summary(_lenet(), batch=8, dtype="float16")
    assert half.memory.grad_bytes * 2 == eight.memory.grad_bytes  # (an int64 index buffer stays int64)
    assert half.memory.input_bytes * 2 == eight.memory.input_bytes


def test_input_size_forms_and_errors():
    model = _lenet()
    assert resolve_input_size(model, None) == (1, 32, 32)  # from the card
    assert resolve_input_size(model, "1x48x48") == (1, 48, 48)
    assert resolve_input_size(model, 64) == (1, 64, 64)
    assert shape_text((2, 64, 7, 5)) == "7x5x64"
    with pytest.raises(ValueError, match="give input_size"):
        summary(_Net())
    with pytest.raises(ValueError, match="CxHxW"):
        resolve_input_size(model, "1x32")  # two numbers are H x W; this is fine
        resolve_input_size(model, "axb")
    with pytest.raises(ValueError, match="depth"):
        summary(model, depth=0)


def test_render_show_by_name_is_fast():
    render_show("lenet5")  # imports the zoo and warms the dispatcher
    t = time.perf_counter()
    text = render_show("resnet50", fmt="markdown")
    elapsed = time.perf_counter() - t
    assert "layer4" in text and "7x7x2048" in text
    assert elapsed < 10, f"render_show('resnet50') took {elapsed:.1f} s"

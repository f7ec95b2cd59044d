"""One resolver (name or table -> model, input size, normalisation) and one CxHxW parser."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from cnnzoo.input_size import format_chw, format_hwc, parse_chw
from cnnzoo.models import model_card
from cnnzoo.resolve import resolve_model

SRC = Path(__file__).resolve().parents[1] / "src" / "cnnzoo"


def test_parse_and_format_chw() -> None:
    assert parse_chw("3x224x224") == (3, 224, 224) == parse_chw("3×224×224")
    assert parse_chw("64", channels=1) == (1, 64, 64) == parse_chw(64, channels=1)
    assert parse_chw("32x48") == (3, 32, 48) and parse_chw((1, 8, 9)) == (1, 8, 9)
    for bad in ("3x0x4", "axb", "1x2x3x4"):
        with pytest.raises(ValueError, match="CxHxW"):
            parse_chw(bad)
    assert format_chw((3, 32, 48)) == "3x32x48" and format_hwc((3, 32, 48)) == "32x48x3"


def test_img_size_reaches_builders_sized_by_their_input() -> None:
    r = resolve_model("fcnn_1", img_size=64)
    assert r.input_size == (3, 64, 64) and r.build_args == {"img_size": 64}
    model = r.build(num_classes=2).eval()
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 2)
    # a network with global pooling needs nothing from its builder
    assert resolve_model("resnet18", img_size=64).build_args == {}


def test_normalisation_and_size_come_from_the_card_or_the_table() -> None:
    r = resolve_model("alexnet")
    card = model_card("alexnet")
    assert r.input_size == card.input_size and r.mean == tuple(card.mean) and r.card is card
    table = Path(__file__).resolve().parents[1] / "examples" / "tables" / "seed002_64x64.yaml"
    t = resolve_model(str(table), input_size="3x80x80")
    assert t.input_size == (3, 80, 80) and t.card is None and t.mean == (0.5,) * 3


def test_the_registry_imports_nothing_above_it() -> None:
    tree = ast.parse((SRC / "registry.py").read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [m for m in imported if m.startswith("netspec") or m == "models"
                or (m.startswith("models.") and m not in ("models.base", "models.card"))], imported
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import) and any("cnnzoo" in a.name for a in n.names)]


def test_help_imports_neither_torch_nor_the_zoo() -> None:
    """`cnnzoo --help` and every `cnnzoo <command> --help` build the whole parser: it must not
    import torch or any model family (seconds of start-up); the public API still loads the zoo."""
    import subprocess
    import sys
    code = ("import sys; from cnnzoo.cli import build_parser; build_parser(); "
            "heavy = sorted(m for m in sys.modules if m == 'torch' or m.startswith('cnnzoo.models.')); "
            "print(heavy); from cnnzoo import list_models; print(len(list_models()) > 100)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(SRC.parent), "PATH": ""}).stdout.split("\n")
    assert out[:2] == ["[]", "True"], out

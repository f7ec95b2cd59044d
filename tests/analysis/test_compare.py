"""Side-by-side table and the accuracy-vs-operations bubble chart."""

from __future__ import annotations

import pytest

import cnnzoo
from cnnzoo.analysis.compare import ComparedModel, compare, comparison_table, plot_comparison, render_compare
from cnnzoo.errors import UnknownModelError


def test_compare_counts_and_card_figures():
    (lenet,) = compare(["lenet5"], latency=False)
    card = cnnzoo.model_card("lenet5")
    assert lenet.params == 60_850 and lenet.mult_adds == 332_824
    assert lenet.input_size == card.input_size and lenet.published_params == card.params
    assert lenet.top1_err is None and lenet.top1_acc is None and lenet.latency_ms is None


def test_latency_is_measured():
    (lenet,) = compare(["lenet5"], latency=True, runs=2, warmup=1)
    assert lenet.latency_ms is not None and 0 < lenet.latency_ms < 10_000


def _fake(name: str, top1: float | None) -> ComparedModel:
    return ComparedModel(name, (3, 224, 224), 25_000_000, 4_000_000_000, 25e6, 3.8e9, top1, 7.0, 12.5)


def test_chart_skips_models_without_top1(tmp_path):
    path = tmp_path / "cmp.png"
    skipped = plot_comparison([_fake("a", 23.0), _fake("b", None), _fake("c", 30.5)], path)
    assert skipped == ["b"]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    table = comparison_table([_fake("a", 23.0), _fake("b", None)])
    assert "77.00" in table and "—" in table and "12.5" in table
    assert comparison_table([_fake("a", 23.0)], "markdown").startswith("| model |")


def test_render_compare(tmp_path):
    names = [n for n in ("lenet5", "squeezenet1_0") if n in cnnzoo.list_models()]
    out = render_compare(names, plot_path=tmp_path / "c.png", latency=False)
    assert all(n in out for n in names) and "lenet5" in out.split("not on the chart")[1]
    assert (tmp_path / "c.png").exists()
    with pytest.raises(ValueError):
        render_compare([])
    with pytest.raises(UnknownModelError):
        render_compare(["resnet5O"], latency=False)

"""Lesion study mechanics: deleting a block, reordering blocks, Kendall's tau."""

from __future__ import annotations

import random

import pytest
import torch

from cnnzoo.experiments.common import RunTestSet
from cnnzoo.experiments.lesion import (deletable, deleted, kendall_tau, lesion_measurements, random_order,
                                       reordered, swappable_groups)
from cnnzoo.models.resnet import CifarResNet


def _block_io(model: torch.nn.Module, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(input, output) of every residual block in forward order."""
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    hooks = [b.register_forward_hook(lambda m, i, o: seen.append((i[0].detach().clone(), o.detach().clone())))
             for b in model.blocks()]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return seen


@pytest.mark.parametrize("shortcut", ["A", "none"])
def test_deleting_a_block_changes_only_that_blocks_path(shortcut: str) -> None:
    torch.manual_seed(0)
    model = CifarResNet(depth=14, num_classes=10, shortcut=shortcut).eval()  # 6 blocks, 2 per stage
    x = torch.randn(2, 3, 16, 16)
    intact = _block_io(model, x)
    blocks = model.blocks()
    k = 3  # the second block of stage 2: stride 1, 32 -> 32 channels (deletable in both networks)
    assert k in deletable(blocks)
    params = {n: p.clone() for n, p in model.named_parameters()}
    with deleted(blocks, [k]):
        lesioned = _block_io(model, x)
    for i in range(k):  # blocks before it: untouched
        assert torch.equal(lesioned[i][1], intact[i][1])
    block_in, block_out = lesioned[k]
    # the deleted block passes its input on through the identity path only: relu(x) for a
    # post-activation ResNet block (x >= 0 already), x itself for a plain layer pair
    assert torch.equal(block_out, torch.relu(block_in))
    assert torch.equal(block_out, block_in)
    assert not torch.equal(lesioned[k][1], intact[k][1])
    assert all(torch.equal(p, params[n]) for n, p in model.named_parameters())
    assert not any(b.skip for b in blocks)  # restored after the `with`
    restored = _block_io(model, x)
    assert all(torch.equal(a[1], b[1]) for a, b in zip(restored, intact, strict=True))


def test_plain_network_keeps_shape_changing_blocks() -> None:
    blocks = CifarResNet(depth=14, shortcut="none").blocks()
    assert deletable(blocks) == [0, 1, 3, 5]  # the first blocks of stages 2 and 3 subsample: not removable
    assert deletable(CifarResNet(depth=14).blocks()) == list(range(6))


def test_kendall_tau_on_known_permutations() -> None:
    assert kendall_tau([0, 1, 2, 3, 4]) == 1.0
    assert kendall_tau([4, 3, 2, 1, 0]) == -1.0
    assert kendall_tau([1, 0, 2, 3]) == pytest.approx(1 - 2 * 1 / 6)  # one discordant pair of 6
    assert kendall_tau([2, 0, 1]) == pytest.approx(-1 / 3)  # pairs: (2,0)-, (2,1)-, (0,1)+
    scipy_stats = pytest.importorskip("scipy.stats")
    perm = list(range(12))
    random.Random(3).shuffle(perm)
    assert kendall_tau(perm) == pytest.approx(scipy_stats.kendalltau(range(12), perm).statistic)


def test_reordering_swaps_same_shape_blocks_and_restores() -> None:
    torch.manual_seed(0)
    model = CifarResNet(depth=20).eval()  # 3 stages of 3 blocks
    blocks = model.blocks()
    assert swappable_groups(blocks) == [[0, 1, 2], [4, 5], [7, 8]]
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        before = model(x)
        with reordered(model, [0, 2, 1, 3, 4, 5, 6, 7, 8]):
            assert model.layer1[1] is blocks[2] and model.layer1[2] is blocks[1]
            swapped = model(x)
        after = model(x)
    assert not torch.allclose(swapped, before) and torch.equal(after, before)
    with pytest.raises(ValueError, match="within the stages"):
        with reordered(model, [3, 1, 2, 0, 4, 5, 6, 7, 8]):
            pass
    order = random_order(blocks, 3, random.Random(0))
    assert sorted(order) == list(range(9)) and order[3] == 3 and order[6] == 6


def test_lesion_measurements_rows() -> None:
    torch.manual_seed(0)
    model = CifarResNet(depth=14).eval()
    test = RunTestSet(loaded=None, images=None, inputs=torch.randn(20, 3, 16, 16), labels=torch.randint(0, 10, (20,)))
    rows = lesion_measurements(model, test, samples=2, seed=0, label="resnet14")
    kinds = [r["test"] for r in rows]
    assert kinds.count("none") == 1 and kinds.count("single") == 6 and kinds.count("random") == 12
    assert all(-1 <= r["tau"] <= 1 and 0 <= r["error"] <= 1 for r in rows)
    assert {r["k"] for r in rows if r["test"] == "random"} == set(range(1, 7))

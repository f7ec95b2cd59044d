"""The private torch APIs behind `cnnzoo.analysis.torch_internals` still behave as the tracer
needs. A failure here means this torch changed one of them: the counts and memory figures of
`cnnzoo show` cannot be trusted on it until torch_internals.py is adapted."""

from __future__ import annotations

import torch
from torch import nn

from cnnzoo.analysis.torch_internals import (TorchDispatchMode, WeakIdKeyDictionary, cpu_allocations,
                                             reparametrized, storage_key, tree_flatten)

WHY = f"torch {torch.__version__} changed a private API cnnzoo.analysis.torch_internals relies on: "


def test_storage_key_tells_shared_memory_apart() -> None:
    a = torch.zeros(4, 4)
    assert storage_key(a) == storage_key(a.view(16)) == storage_key(a[1:]), WHY + "untyped_storage()._cdata"
    assert storage_key(a) != storage_key(a.clone()), WHY + "untyped_storage()._cdata"


def test_dispatch_mode_sees_every_operator() -> None:
    seen = []

    class Spy(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            seen.append(str(func.overloadpacket))
            return func(*args, **(kwargs or {}))

    with Spy():
        torch.relu(torch.ones(2) + 1)
    assert any("add" in s for s in seen) and any("relu" in s for s in seen), WHY + f"TorchDispatchMode saw {seen}"


def test_reparametrized_runs_with_other_tensors_and_restores() -> None:
    lin = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        lin.weight.fill_(1.0)
    with reparametrized(lin, {"weight": torch.full((1, 2), 3.0)}):
        assert lin(torch.ones(1, 2)).item() == 6.0, WHY + "_reparametrize_module"
    assert lin(torch.ones(1, 2)).item() == 2.0, WHY + "_reparametrize_module did not restore"


def test_pytree_and_weak_dict() -> None:
    leaves, _ = tree_flatten({"a": (1, [2, 3])})
    assert leaves == [1, 2, 3], WHY + "_pytree.tree_flatten"
    d = WeakIdKeyDictionary()
    t = torch.zeros(1)
    d[t] = 1
    assert t in d and torch.zeros(1) not in d, WHY + "utils.weak.WeakIdKeyDictionary"


def test_profiler_allocation_events() -> None:
    events = cpu_allocations(lambda: torch.empty(1 << 20, dtype=torch.uint8).fill_(1))
    assert any(nbytes >= 1 << 20 for _, nbytes in events), WHY + f"profiler allocation events: {events[:5]}"

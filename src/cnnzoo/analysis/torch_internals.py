"""Every private torch API cnnzoo relies on, in one place (tested with torch 2.14.1).

The tracer (`analysis/trace.py`) and the memory measurement (`analysis/memory.py`) need a few
things torch offers only under private names: intercepting every operator
(`TorchDispatchMode`), flattening nested outputs (`_pytree`), telling tensors that share
memory apart (`untyped_storage()._cdata`), running a module with other parameters without
changing it (`_reparametrize_module`), and the profiler's raw allocation events. A torch that
renames or changes one of them fails `tests/analysis/test_torch_internals.py` with a message
naming it, rather than giving wrong counts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.weak import WeakIdKeyDictionary

__all__ = ["TorchDispatchMode", "WeakIdKeyDictionary", "cpu_allocations", "reparametrized", "storage_key",
           "tree_flatten"]


def storage_key(t: Tensor) -> int:
    """One number per block of memory: equal for views of the same tensor, different otherwise."""
    return t.untyped_storage()._cdata


@contextlib.contextmanager
def reparametrized(model: nn.Module, state: dict[str, Tensor]) -> Iterator[None]:
    """Inside the block, `model`'s parameters and buffers are the tensors of `state` (by name);
    the model is left as it was."""
    from torch.nn.utils.stateless import _reparametrize_module
    with _reparametrize_module(model, state):
        yield


def cpu_allocations(fn: Callable[[], object]) -> list[tuple[int, int]]:
    """(time in ns, bytes; negative = freed) of every CPU allocation event while `fn` runs: the
    low-level entry points of `torch.profiler.profile(profile_memory=True)`, without building
    the per-operator tables (seconds for a DenseNet) that are not needed."""
    from torch._C._profiler import _EventType, _ExperimentalConfig
    from torch.autograd.profiler import (ProfilerActivity, ProfilerConfig, ProfilerState, _disable_profiler,
                                         _enable_profiler, _prepare_profiler)

    config = ProfilerConfig(ProfilerState.KINETO, False, True, False, False, False, _ExperimentalConfig())
    activities = {ProfilerActivity.CPU}
    _prepare_profiler(config, activities)
    _enable_profiler(config, activities)
    try:
        fn()
    finally:
        result = _disable_profiler()
    events: list[tuple[int, int]] = []
    stack = list(result.experimental_event_tree())
    while stack:
        e = stack.pop()
        if e.tag == _EventType.Allocation and e.extra_fields.device.type == "cpu":
            events.append((e.start_time_ns, e.extra_fields.alloc_size))
        stack.extend(e.children)
    return events


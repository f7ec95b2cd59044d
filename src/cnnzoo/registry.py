"""The model registry: a name -> (builder, card) table that refuses duplicates.

    register_model("resnet50", partial(ResNet, block=Bottleneck, depths=(3, 4, 6, 3)), card)
    model = create_model("resnet50", num_classes=10)
    list_models("resnet*")

The families register themselves when `cnnzoo.models` is imported (its `load_zoo()` also imports
`cnnzoo.netspec`, which registers the table format). This module imports neither: lookups that
must see the whole zoo import them from `cnnzoo.models` (or the public `cnnzoo.create_model`, ...),
which re-exports them with the zoo loaded.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ConfigError, UnknownModelError

if TYPE_CHECKING:  # types only: importing models/ here would load the zoo from below
    from .models.base import ZooModel
    from .models.card import ModelCard


@dataclass(frozen=True)
class Entry:
    name: str
    builder: Callable[..., ZooModel]
    card: ModelCard
    family: str  # the models/<family>.py module that registered it
    alias_of: str | None = None  # registered earlier under this name with the very same builder (vgg16 = vgg_d)


_REGISTRY: dict[str, Entry] = {}


def register_model(name: str, builder: Callable[..., ZooModel], card: ModelCard) -> None:
    """Add a variant. Raises ValueError if `name` is taken. Registering the same builder object
    under a second name makes that name an alias (a familiar name for the same network)."""
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is already registered (by {_REGISTRY[name].family})")
    family = getattr(builder, "func", builder).__module__.rpartition(".")[2]
    alias_of = next((e.name for e in _REGISTRY.values() if e.builder is builder), None)
    _REGISTRY[name] = Entry(name, builder, card, family, alias_of)


@dataclass(frozen=True)
class TableFormat:
    """A way to write a network as a file (netspec's .yaml tables): how to build one and read
    its input size. Registered by the package that implements it, so that this module imports
    nothing above it."""
    suffixes: tuple[str, ...]
    build: Callable[..., ZooModel]
    input_size: Callable[[str], tuple[int, int, int]]


_TABLE_FORMATS: list[TableFormat] = []


def register_table_format(fmt: TableFormat) -> None:
    _TABLE_FORMATS.append(fmt)


def _table_format(name: str) -> TableFormat:
    for fmt in _TABLE_FORMATS:
        if name.lower().endswith(fmt.suffixes):
            return fmt
    raise ConfigError(f"{name}: no network table format reads this file")  # netspec not imported: a bug


def list_models(pattern: str = "*", *, family: str | None = None, aliases: bool = True) -> list[str]:
    """Registered names matching a shell-style `pattern` (e.g. "resnet*"), in sorted order
    (`aliases=False`: each network once, under its first name)."""
    return sorted(n for n, e in _REGISTRY.items()
                  if fnmatch.fnmatchcase(n, pattern) and (family is None or e.family == family)
                  and (aliases or e.alias_of is None))


def get_entry(name: str) -> Entry:
    """The registry entry of `name`; an unknown name raises with the close matches."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=5, cutoff=0.6)
        hint = f"; did you mean: {', '.join(close)}?" if close else "; `cnnzoo models` lists them"
        raise UnknownModelError(f"unknown model {name!r}{hint}") from None


def model_card(name: str) -> ModelCard:
    return get_entry(name).card


def builder_arguments(name: str) -> dict[str, inspect.Parameter]:
    """The keyword arguments `create_model(name, ...)` accepts (those not fixed by the variant)."""
    builder = get_entry(name).builder
    return {k: p for k, p in inspect.signature(builder).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}


def is_table_path(name: str) -> bool:
    """True when `name` refers to a network written as a table (a .yaml/.yml file)."""
    return name.lower().endswith((".yaml", ".yml"))


def model_input_size(name: str) -> tuple[int, int, int]:
    """(C, H, W) the model expects by default: its card's, or its table's `input:`."""
    if is_table_path(name):
        return _table_format(name).input_size(name)
    return get_entry(name).card.input_size


def create_model(name: str, **overrides: object) -> ZooModel:
    """Build the registered model `name` (or the network table at path `name`), with
    constructor arguments overridden.

    The usual overrides are `num_classes` and `in_chans`; each family documents the others.
    An argument the builder does not take is a ConfigError naming the ones it does.
    """
    if is_table_path(name):
        return _table_format(name).build(name, **overrides)
    entry = get_entry(name)
    accepted = builder_arguments(name)
    unknown = sorted(set(overrides) - set(accepted))
    if unknown:
        raise ConfigError(f"model {name!r} takes no argument {', '.join(map(repr, unknown))}; "
                          f"it takes: {', '.join(sorted(accepted))}")
    model = entry.builder(**overrides)
    model.model_name = name  # what a checkpoint records to rebuild it
    model.model_args = dict(overrides)
    return model

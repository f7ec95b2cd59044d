"""Frozen dataclass configs, and the one mechanism that fills them from flags and YAML.

A config class declares each field once, with its type, default and help text
(`field(default=..., metadata={"help": ...})`). From that:

- `add_arguments(parser, Config)` makes one `--flag` per field (types, choices, booleans);
- `from_mapping(Config, mapping, source=...)` checks a YAML mapping: unknown keys and values
  of the wrong type are ConfigErrors that name the file and the key;
- `merge(Config, yaml_mapping, flag_values)` gives the config: defaults < YAML < flags;
- `to_mapping(config)` is what a run folder's config.yaml holds (it loads back to the same).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from .errors import ConfigError

T = TypeVar("T")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """(inner type, accepts None) for `X | None`."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _describe(tp: Any) -> str:
    inner, optional = _unwrap_optional(tp)
    if typing.get_origin(inner) is Literal:
        text = "one of " + ", ".join(map(str, typing.get_args(inner)))
    else:
        text = getattr(inner, "__name__", str(inner))
        text = {"int": "an integer", "float": "a finite number", "str": "a string", "bool": "true or false"}.get(text, text)
    return text + (" or null" if optional else "")


def coerce(tp: Any, value: Any, *, where: str) -> Any:
    """`value` checked against (and converted to) type `tp`; a ConfigError says `where`."""
    inner, optional = _unwrap_optional(tp)
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "null")):
        if optional:
            return None
        raise ConfigError(f"{where}: expected {_describe(tp)}, got null")
    try:
        if typing.get_origin(inner) is Literal:
            choices = typing.get_args(inner)
            if value in choices:
                return value
            if isinstance(value, str | int | float):
                for c in choices:
                    if str(c) == str(value):
                        return c
            raise ValueError
        if inner is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
                return value.lower() in ("true", "yes", "on", "1")
            raise ValueError
        if inner is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if inner is float:
            if isinstance(value, bool) or not math.isfinite(float(value)):
                raise ValueError  # nan and inf pass every range check: never a valid setting
            return float(value)
        if inner is str:
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                return str(value)
            raise ValueError
    except (ValueError, TypeError):
        raise ConfigError(f"{where}: expected {_describe(tp)}, got {value!r}") from None
    raise TypeError(f"config field type {tp!r} is not supported")  # programming error


def from_mapping(cls: type[T], mapping: Mapping[str, Any], *, source: str) -> T:
    """Build `cls` from a mapping (keys may use '-' or '_'); unknown keys are errors."""
    names = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for key, value in mapping.items():
        name = str(key).replace("-", "_")
        if name not in names:
            close = difflib.get_close_matches(name, names, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ConfigError(f"{source}: unknown key {key!r}{hint}; valid keys: {', '.join(names)}")
        values[name] = coerce(hints[name], value, where=f"{source}: key {key!r}")
    try:
        return cls(**values)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{source}: {e}") from None


def load_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """A YAML file that must hold a mapping; errors name the file (and line, for syntax)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{p}:{where} is not valid YAML: {getattr(e, 'problem', e)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping of option: value, got {type(data).__name__}")
    return data


def to_mapping(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def add_arguments(parser: argparse.ArgumentParser, cls: type, *, skip: tuple[str, ...] = ()) -> None:
    """One flag per field of `cls` (but those in `skip`, e.g. given as positionals). Defaults are
    SUPPRESSed: only flags actually given appear in the parsed namespace, so they can override
    a YAML file without erasing it."""
    hints = _hints(cls)
    sections: dict[str, argparse._ArgumentGroup] = {}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        tp = hints[f.name]
        inner, optional = _unwrap_optional(tp)
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else None
        help_text = f.metadata.get("help", "")
        if "default" not in help_text:
            help_text = f"{help_text} (default: {default})" if help_text else f"(default: {default})"
        section_name = f.metadata.get("group", "options")
        if section_name not in sections:
            sections[section_name] = parser.add_argument_group(section_name)
        target = sections[section_name]
        kwargs: dict[str, Any] = dict(dest=f.name, default=argparse.SUPPRESS, help=help_text)
        if inner is bool and not optional:
            target.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        if typing.get_origin(inner) is Literal:
            kwargs["choices"] = list(typing.get_args(inner))
            kwargs["type"] = type(kwargs["choices"][0])
        kwargs["metavar"] = f.metadata.get("metavar", f.name.upper())
        if "choices" in kwargs:
            kwargs.pop("metavar")
        target.add_argument(flag, **kwargs)


def merge(cls: type[T], yaml_values: Mapping[str, Any], flag_values: Mapping[str, Any], *, source: str) -> T:
    """defaults < YAML file < command-line flags."""
    base = from_mapping(cls, yaml_values, source=source)
    flags = from_mapping(cls, flag_values, source="command line")
    given = {k: getattr(flags, k) for k in flag_values}
    return dataclasses.replace(base, **given)

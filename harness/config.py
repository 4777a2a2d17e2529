"""One config idiom for every experiment: frozen dataclasses, presets, flags mapped onto them.

An experiment's settings are a frozen dataclass whose defaults are complete; a preset is a dict
of field values over those defaults. `add_config_arguments` gives the parser one flag per field
(``--field-name``, default: keep the preset's value), `config_overrides` reads back the fields
the user gave, and the saved config is ``dataclasses.asdict`` of the resulting dataclass, never
``vars(args)``. Optional fields (``int | None``) accept ``none`` on the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any

NONE_WORDS = ("none", "full")


def _parser_of(kind: Any) -> tuple[Callable[[str], Any], int | str | None, bool]:
    """(parse one token, argparse ``nargs``, accepts None) of a field annotation.

    ``tuple[T, ...]`` takes one or more tokens, ``tuple[T, T]`` exactly two, a scalar one.
    """
    origin = typing.get_origin(kind)
    optional = False
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        optional = len(args) < len(typing.get_args(kind))
        if len(args) != 1:
            raise TypeError(f"config: unsupported field type {kind!r}")
        kind = args[0]
        origin = typing.get_origin(kind)
    nargs: int | str | None = None
    if origin is tuple:
        items = typing.get_args(kind)
        if items[-1] is Ellipsis:
            items, nargs = items[:-1], "+"
        else:
            nargs = len(items)
        if len(set(items)) != 1:
            raise TypeError(f"config: unsupported field type {kind!r}")
        kind = items[0]
    if kind not in (int, float, str, bool):
        raise TypeError(f"config: unsupported field type {kind!r}")
    parse: Callable[[str], Any] = kind
    if optional:

        def parse(text: str, base: Callable[[str], Any] = kind) -> Any:
            return None if text.lower() in NONE_WORDS else base(text)

        parse.__name__ = getattr(kind, "__name__", "value")  # argparse's error names the type
    return parse, nargs, optional


def add_config_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    config_cls: type,
    *,
    skip: Iterable[str] = (),
    defaults: Any = None,
) -> None:
    """Add ``--field-name`` for every field of the dataclass ``config_cls`` (but ``skip``).

    A flag not given leaves no attribute (``argparse.SUPPRESS``): the preset's value is kept;
    an optional field given ``none`` is set to None. Its help text shows
    ``defaults``' value of the field (a config instance, default ``config_cls()``) and the
    flag's type.
    """
    hints = typing.get_type_hints(config_cls)
    defaults = defaults if defaults is not None else config_cls()
    skipped = set(skip)
    for field in dataclasses.fields(config_cls):
        if field.name in skipped or not field.init:
            continue
        parse, nargs, _ = _parser_of(hints[field.name])
        flag = "--" + field.name.replace("_", "-")
        shown = getattr(defaults, field.name)
        if hints[field.name] is bool:
            parser.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=f"(default: {shown})",
            )
            continue
        parser.add_argument(
            flag,
            type=parse,
            nargs=nargs,
            default=argparse.SUPPRESS,
            metavar=field.name.upper(),
            help=f"(default: {shown if nargs is None else ' '.join(map(str, shown))})",
        )


def config_overrides(
    args: argparse.Namespace, config_cls: type, *, skip: Iterable[str] = ()
) -> dict[str, Any]:
    """The fields of ``config_cls`` given on the command line, as ``{field: value}``."""
    skipped = set(skip)
    given = vars(args)
    out: dict[str, Any] = {}
    for field in dataclasses.fields(config_cls):
        if field.name in skipped or not field.init or field.name not in given:
            continue
        value = given[field.name]
        out[field.name] = tuple(value) if isinstance(value, list) else value
    return out


def from_preset(config_cls: type, presets: dict[str, dict[str, Any]], name: str, **overrides: Any):
    """``config_cls`` built from preset ``name`` (a dict of field values) and ``overrides``.

    Raises:
        ValueError: ``name`` is not a key of ``presets`` (the message lists them).
    """
    if name not in presets:
        raise ValueError(f"preset: unknown {name!r}; choose from {sorted(presets)}")
    return config_cls(**{**presets[name], **overrides})


def config_to_dict(config: Any) -> dict[str, Any]:
    """The JSON-ready record of a config dataclass (tuples become lists, as in the file)."""
    return _lists(dataclasses.asdict(config))


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists(item) for item in value]
    return value


__all__ = ["add_config_arguments", "config_overrides", "config_to_dict", "from_preset"]

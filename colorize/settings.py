"""Settings declared once: a dataclass field carries its default, its help
text and its choices; every command's absl flags (train.py, eval.py,
colorize.data, colorize.export) and the docs' flag table are generated from
the fields, so they cannot drift apart (tests/test_settings.py checks the
table in docs/training.md). Adding a field with setting() adds its flag."""
from __future__ import annotations

import dataclasses
import typing
from typing import Any, Optional

from absl import flags

# The default of a setting that has none: the command requires its flag.
REQUIRED = dataclasses.MISSING


def setting(default: Any, help: str, choices: Optional[tuple] = None, *,
            flag: Optional[str] = None, unit: Optional[float] = None) -> Any:
    """A dataclass field with its flag's help text (and allowed values).
    flag: the flag's name when it is not the field's; unit: the field holds
    the flag's value times unit (e.g. --max_megapixels for max_pixels)."""
    metadata = {"help": help, "choices": choices, "flag": flag, "unit": unit}
    if default is REQUIRED:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _base_type(annotation) -> type:
    """str, int, float, bool or tuple, from an annotation such as
    Optional[float] or tuple[float, ...] (string annotations resolved)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin is tuple:
        return tuple
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and len(args) == 1:
        return _base_type(args[0])
    return annotation


def _item_type(annotation) -> type:
    """The element type of tuple[float, ...] (or Optional of it)."""
    for a in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(a) is tuple:
            return typing.get_args(a)[0]
    return float


def fields(cls) -> list[tuple[dataclasses.Field, type]]:
    """The fields of cls that are settings (have a help text), with their
    base types; other fields (set by code, not by flags) are left out."""
    hints = typing.get_type_hints(cls)
    return [(f, _base_type(hints[f.name])) for f in dataclasses.fields(cls) if "help" in f.metadata]


def flag_name(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or f.name


def _flag_default(f: dataclasses.Field):
    if f.default is dataclasses.MISSING:
        return None
    if f.metadata.get("unit") and f.default is not None:
        return f.default / f.metadata["unit"]
    if isinstance(f.default, tuple):
        return list(map(str, f.default)) or None
    return f.default


def define_flags(cls, flag_values: flags.FlagValues = flags.FLAGS,
                 module_name: Optional[str] = None) -> None:
    """One absl flag per setting of the dataclass cls, same name (or its
    flag=), default and help; fields with choices become enum flags, tuples
    list flags, required ones (no default) required flags. module_name: the
    program the flags belong to (for --helpshort)."""
    for f, kind in fields(cls):
        help_text, choices = f.metadata["help"], f.metadata.get("choices")
        args = dict(name=flag_name(f), default=_flag_default(f), help=help_text,
                    flag_values=flag_values, module_name=module_name)
        if choices:
            flags.DEFINE_enum(enum_values=list(choices), **args)
        elif kind is bool:
            flags.DEFINE_bool(**args)
        elif kind is int and not f.metadata.get("unit"):
            flags.DEFINE_integer(**args)
        elif kind in (int, float):
            flags.DEFINE_float(**args)
        elif kind is tuple:
            flags.DEFINE_list(**args)
        else:
            flags.DEFINE_string(**args)
        if f.default is dataclasses.MISSING:
            flags.mark_flag_as_required(args["name"], flag_values)


class SettingError(ValueError):
    """A flag value that does not fit its field."""


def values_from_flags(cls, flag_values: flags.FlagValues = flags.FLAGS) -> dict:
    """{field: value} for the flags that have a value (None: the field's
    default applies); list flags become tuples of the field's item type,
    flags with a unit are scaled to the field's."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f, kind in fields(cls):
        value = flag_values[flag_name(f)].value
        if value is None:
            continue
        if kind is tuple:
            item = _item_type(hints[f.name])
            try:
                value = tuple(item(v) for v in value)
            except ValueError:
                raise SettingError(f"--{flag_name(f)} must be {item.__name__} values separated "
                                   f"by commas; got {','.join(value)}") from None
        elif f.metadata.get("unit"):
            value = value * f.metadata["unit"]
            value = round(value) if kind is int else value
        values[f.name] = value
    return values


def config_from_flags(cls, flag_values: flags.FlagValues = flags.FLAGS, **overrides):
    """cls built from its flags (and overrides, for settings set by code)."""
    return cls(**{**values_from_flags(cls, flag_values), **overrides})


def _markdown_default(f: dataclasses.Field) -> str:
    if f.default is dataclasses.MISSING:
        return "(required)"
    if isinstance(f.default, tuple):
        return ",".join(map(str, f.default)) or "(none)"
    value = _flag_default(f)
    if value is None:
        return "(see meaning)"
    if isinstance(value, bool):
        return str(value).lower()
    return f"`{value}`" if isinstance(value, str) else str(value)


def markdown_table(cls) -> str:
    """The flag table of cls for the docs: flag, default, meaning."""
    rows = ["| flag | default | meaning |", "|---|---|---|"]
    for f, _ in fields(cls):
        meaning = f.metadata["help"].replace("|", "\\|")
        choices = f.metadata.get("choices")
        if choices:
            meaning += " One of: " + ", ".join(f"`{c}`" for c in choices) + "."
        rows.append(f"| `--{flag_name(f)}` | {_markdown_default(f)} | {meaning} |")
    return "\n".join(rows) + "\n"

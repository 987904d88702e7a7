"""Settings declared once: a dataclass field carries its default, its help
text and its choices; absl flags and the README's flag table are generated
from the fields, so the three cannot drift apart (tests/test_settings.py
checks the README)."""
from __future__ import annotations

import dataclasses
import typing
from typing import Any, Optional

from absl import flags


def setting(default: Any, help: str, choices: Optional[tuple] = None) -> Any:
    """A dataclass field with its flag's help text (and allowed values)."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


def _base_type(annotation) -> type:
    """str, int, float, bool or tuple, from an annotation such as
    Optional[float] or tuple[float, ...] (string annotations resolved)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin is tuple:
        return tuple
    if origin is typing.Union and len(args) == 1:
        return _base_type(args[0])
    return annotation


def fields(cls) -> list[tuple[dataclasses.Field, type]]:
    hints = typing.get_type_hints(cls)
    return [(f, _base_type(hints[f.name])) for f in dataclasses.fields(cls)]


def define_flags(cls, flag_values: flags.FlagValues = flags.FLAGS,
                 module_name: Optional[str] = None) -> None:
    """One absl flag per field of the dataclass cls, same name, default and
    help; fields with choices become enum flags, tuples list flags.
    module_name: the program the flags belong to (for --helpshort)."""
    for f, kind in fields(cls):
        help_text, choices = f.metadata["help"], f.metadata.get("choices")
        args = dict(name=f.name, default=f.default, help=help_text, flag_values=flag_values,
                    module_name=module_name)
        if choices:
            flags.DEFINE_enum(enum_values=list(choices), **args)
        elif kind is bool:
            flags.DEFINE_bool(**args)
        elif kind is int:
            flags.DEFINE_integer(**args)
        elif kind is float:
            flags.DEFINE_float(**args)
        elif kind is tuple:
            flags.DEFINE_list(**{**args, "default": list(f.default) or None})
        else:
            flags.DEFINE_string(**args)


class SettingError(ValueError):
    """A flag value that does not fit its field."""


def values_from_flags(cls, flag_values: flags.FlagValues = flags.FLAGS) -> dict:
    """{field: value} for the flags that have a value (None: the field's
    default applies); list flags become tuples of numbers."""
    values = {}
    for f, kind in fields(cls):
        value = flag_values[f.name].value
        if value is None:
            continue
        if kind is tuple:
            try:
                value = tuple(float(v) for v in value)
            except ValueError:
                raise SettingError(f"--{f.name} must be numbers separated by commas; "
                                   f"got {','.join(value)}") from None
        values[f.name] = value
    return values


def _markdown_default(value) -> str:
    if value is None:
        return "(see meaning)"
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "(none)"
    if isinstance(value, bool):
        return str(value).lower()
    return f"`{value}`" if isinstance(value, str) else str(value)


def markdown_table(cls) -> str:
    """The flag table of cls for the README: flag, default, meaning."""
    rows = ["| flag | default | meaning |", "|---|---|---|"]
    for f, _ in fields(cls):
        meaning = f.metadata["help"].replace("|", "\\|")
        choices = f.metadata.get("choices")
        if choices:
            meaning += " One of: " + ", ".join(f"`{c}`" for c in choices) + "."
        rows.append(f"| `--{f.name}` | {_markdown_default(f.default)} | {meaning} |")
    return "\n".join(rows) + "\n"

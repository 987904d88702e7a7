"""Each training setting is declared once (colorize.config.TrainConfig):
its flag and its README row are generated from the field, so they cannot
drift apart."""
import dataclasses
from pathlib import Path

import pytest
from absl import flags

from colorize import config as config_lib, settings
from colorize.config import TrainConfig

README = Path(__file__).resolve().parents[1] / "README.md"


def fresh_flags(argv=()):
    values = flags.FlagValues()
    settings.define_flags(TrainConfig, values)
    values(["prog", *argv])
    return values


def test_every_field_has_a_flag_with_its_default_and_help():
    values = fresh_flags()
    for f in dataclasses.fields(TrainConfig):
        flag = values[f.name]
        assert flag.help.endswith(f.metadata["help"]) and f.metadata["help"]  # enum: "<a|b>: " first
        default = list(f.default) or None if isinstance(f.default, tuple) else f.default
        assert flag.default == default, f.name
    assert set(values) == {f.name for f in dataclasses.fields(TrainConfig)}


def test_flags_build_the_config():
    values = fresh_flags(["--gan=dcgan", "--data=a,b", "--data_weights=3,1", "--lr_g=0.001",
                          "--sync_bn", "--image_size=128"])
    cfg = TrainConfig(**settings.values_from_flags(TrainConfig, values))
    assert cfg == dataclasses.replace(TrainConfig(), gan="dcgan", data="a,b",
                                      data_weights=(3.0, 1.0), lr_g=0.001, sync_bn=True,
                                      image_size=128)
    with pytest.raises(flags.IllegalFlagValueError):
        fresh_flags(["--gan=began"])
    with pytest.raises(settings.SettingError, match="--data_weights must be numbers"):
        settings.values_from_flags(TrainConfig, fresh_flags(["--data_weights=x"]))


def test_readme_flag_table_is_the_generated_one():
    text = README.read_text(encoding="utf-8")
    table = settings.markdown_table(TrainConfig)
    assert table in text, "README's train flag table is stale: paste python -m colorize.config"
    for f in dataclasses.fields(TrainConfig):
        assert f"| `--{f.name}` |" in text

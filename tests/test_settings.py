"""Each command's settings are declared once, as dataclass fields (train:
colorize.config.TrainConfig; eval: colorize.evaluate.EvalConfig; the shard
builder: colorize.data.builder.BuildConfig; export: colorize.export.
ExportConfig): their flags and the docs' flag table are generated from the
fields, so they cannot drift apart."""
import dataclasses
from pathlib import Path

import pytest
from absl import flags

from colorize import evaluate, export, settings
from colorize.config import TrainConfig
from colorize.data import builder

TRAINING_DOC = Path(__file__).resolve().parents[1] / "docs" / "training.md"
COMMANDS = [TrainConfig, evaluate.EvalConfig, builder.BuildConfig, export.ExportConfig]


def fresh_flags(cls, argv=()):
    values = flags.FlagValues()
    settings.define_flags(cls, values)
    values(["prog", *argv])
    return values


@pytest.mark.parametrize("cls", COMMANDS)
def test_every_setting_has_a_flag_with_its_default_and_help(cls):
    required = [f"--{settings.flag_name(f)}=x" for f, _ in settings.fields(cls)
                if f.default is dataclasses.MISSING]
    values = fresh_flags(cls, required)
    for f, _ in settings.fields(cls):
        flag = values[settings.flag_name(f)]
        assert flag.help.endswith(f.metadata["help"]) and f.metadata["help"]  # enum: "<a|b>: " first
    names = {settings.flag_name(f) for f, _ in settings.fields(cls)}
    assert set(values) == names
    # Fields set by code (a progress bar), not by flags, have no flag.
    assert names <= {settings.flag_name(f) for f in dataclasses.fields(cls)}


@pytest.mark.parametrize("cls", COMMANDS)
def test_a_command_line_without_flags_gives_the_dataclass_defaults(cls):
    required = {f.name: "x" for f, _ in settings.fields(cls) if f.default is dataclasses.MISSING}
    values = fresh_flags(cls, [f"--{n}=x" for n in required])
    assert settings.config_from_flags(cls, values) == cls(**required)


def test_flags_build_the_config():
    values = fresh_flags(TrainConfig, ["--gan=dcgan", "--data=a,b", "--data_weights=3,1",
                                       "--lr_g=0.001", "--sync_bn", "--image_size=128"])
    cfg = TrainConfig(**settings.values_from_flags(TrainConfig, values))
    assert cfg == dataclasses.replace(TrainConfig(), gan="dcgan", data="a,b",
                                      data_weights=(3.0, 1.0), lr_g=0.001, sync_bn=True,
                                      image_size=128)
    with pytest.raises(flags.IllegalFlagValueError):
        fresh_flags(TrainConfig, ["--gan=began"])
    with pytest.raises(settings.SettingError, match="--data_weights must be float values"):
        settings.values_from_flags(TrainConfig, fresh_flags(TrainConfig, ["--data_weights=x"]))


def test_flags_with_another_name_unit_or_item_type():
    """eval's --max_megapixels sets max_pixels (x 1e6, an int); export's
    --average is a list of integer steps; a required flag is required."""
    cfg = settings.config_from_flags(evaluate.EvalConfig, fresh_flags(
        evaluate.EvalConfig, ["--input=a", "--output=b", "--max_megapixels=1.5"]))
    assert cfg.max_pixels == 1_500_000 and isinstance(cfg.max_pixels, int)
    cfg = settings.config_from_flags(export.ExportConfig, fresh_flags(
        export.ExportConfig, ["--output=o", "--model_dir=m", "--average=100,200"]))
    assert cfg.average == (100, 200)
    with pytest.raises(flags.IllegalFlagValueError):
        fresh_flags(evaluate.EvalConfig, ["--input=a"])  # --output missing


def test_the_training_docs_flag_table_is_the_generated_one():
    text = TRAINING_DOC.read_text(encoding="utf-8")
    table = settings.markdown_table(TrainConfig)
    assert table in text, ("docs/training.md's flag table is stale: paste "
                           "python -m colorize.config")
    for f in dataclasses.fields(TrainConfig):
        assert f"| `--{f.name}` |" in text

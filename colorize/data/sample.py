"""The built-in sample: real colour photographs shipped inside the
scikit-image wheel, turned into shards on first use, so that a fresh install
can train offline with nothing downloaded and no image files in this repo."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from colorize.data import builder

DEFAULT_DIR = os.path.join("data", "sample")
# Colour photographs in skimage/data (the others there are gray or synthetic).
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg",
          "motorcycle_left.png", "motorcycle_right.png", "hubble_deep_field.jpg")
SAMPLE_SIZE = 96  # stored size; training resizes the whole photo to its size


def _skimage_data_dir() -> Path:
    import skimage.data  # imported here: only the sample needs scikit-image
    return Path(skimage.data.__file__).parent


def is_built(output: str = DEFAULT_DIR) -> bool:
    return (Path(output) / builder.MANIFEST).exists()


def ensure_sample(output: str = DEFAULT_DIR, progress: bool = False) -> str:
    """Build the sample shards under `output` unless they are there already.

    Every photo goes to train: seven images are too few to split, and the
    trainer falls back to the train shards (in eval order) for its
    validation grid when there are no val shards."""
    if is_built(output):
        return output
    src = _skimage_data_dir()
    missing = [p for p in PHOTOS if not (src / p).exists()]
    if missing:
        raise FileNotFoundError(f"scikit-image does not ship {missing} in {src}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in PHOTOS:
            os.symlink(src / name, Path(tmp) / name)
        cfg = builder.BuildConfig(input=tmp, output=output, size=SAMPLE_SIZE, shards=1,
                                  val_fraction=0.0, workers=1, progress=progress)
        manifest = builder.build(cfg)
    manifest["source"] = "scikit-image data: " + ", ".join(PHOTOS)
    (Path(output) / builder.MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return output

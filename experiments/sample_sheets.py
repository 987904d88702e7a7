"""Comparison sheet of every results-table run on scikit-image's photos
(committable, unlike CelebA's): rows are photos, columns gray | each run |
original. The shipped model gets its own sheet.

    python experiments/sample_sheets.py [--previous SAVED_MODEL]
writes experiments/sheets/table_runs.png and experiments/sheets/shipped.png
(gray | [previous model |] shipped model | original).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from colorize import imageio, inference, visualize  # noqa: E402
from colorize.data import sample  # noqa: E402

PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png")
PANEL = 96
GANS = ("none", "dcgan", "lsgan", "ebgan", "wgan", "wgan-gp")


def panel(rgb):
    return imageio.resize(imageio.center_crop_square(rgb), PANEL, PANEL)


def sheet(models: list, out: Path) -> None:
    src = sample._skimage_data_dir()
    photos = [imageio.read_image(src / name) for name in PHOTOS]
    columns = [[panel(visualize.gray_of(p)) for p in photos]]
    for model in models:
        columns.append([panel(r / 255.0) for r in inference.colorize_batch(photos, model)])
    columns.append([panel(p) for p in photos])
    imageio.write_image(out, visualize.comparison_sheet([list(row) for row in zip(*columns)]))
    print(f"wrote {out}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--previous", help="an earlier shipped SavedModel, shown beside the current")
    a = p.parse_args()
    runs = REPO / "experiments" / "work" / "runs"
    out_dir = REPO / "experiments" / "sheets"
    names = [f"{g}_{loss}_s0" for g in GANS for loss in ("l1", "l2")
             if (runs / f"{g}_{loss}_s0").is_dir()]
    if names:
        sheet([inference.checkpoint_model(str(runs / n)) for n in names], out_dir / "table_runs.png")
        print("columns: gray | " + " | ".join(names) + " | original")
    if os.path.exists(os.path.join(inference.SHIPPED_MODEL, "saved_model.pb")):
        models = [inference.saved_model(a.previous)] if a.previous else []
        sheet(models + [inference.shipped_model()], out_dir / "shipped.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())

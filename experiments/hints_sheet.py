"""The hint methods side by side with the same hints: scikit-image's photos
(they may be published) at 256 x 256 with Zhang et al. 2017's simulated
user (experiments/scribble_sweep.py's hints: 6 x 6 squares of the true
mean ab, seeded by photo and N).

    python experiments/hints_sheet.py --guided=experiments/work/guided/export [--n_hints 1,10]

Rows: each photo at each N. Columns: the hints (painted on the gray photo)
| automatic | Levin alone | model + scribbles (eval.py --marks) | [guided
| guided + scribbles, with --guided] | original. Each panel's title is in
the printed legend, with its PSNR; the sheet goes to
experiments/sheets/hints.png.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "experiments")]

import sample_sheets  # noqa: E402 (its photos)
import scribble_sweep as sweep  # noqa: E402

from colorize import imageio, inference, metrics, scribbles, visualize  # noqa: E402
from colorize.data import sample  # noqa: E402

COLUMNS = ("automatic", "levin", "model+scribbles")
PANEL = 128


def photos() -> list[tuple[str, np.ndarray]]:
    """scikit-image's sheet photos, centre squares at the sweep's size."""
    src = sample._skimage_data_dir()
    return [(name, imageio.to_uint8(imageio.resize(imageio.center_crop_square(
        imageio.read_image(src / name)), sweep.SIZE, sweep.SIZE)))
        for name in sample_sheets.PHOTOS]


def hints_panel(case: sweep.Case) -> np.ndarray:
    """The gray photo with the hint squares in their colours."""
    shown = case.gray.copy()
    scribbles.paint_marks(shown, case.rgb, case.marks)
    return shown


def rows(cases: list[tuple[str, sweep.Case]], methods: list[str]) -> tuple[list[list], list[str]]:
    """Sheet rows (float panels) and one legend line per row (each method's
    PSNR)."""
    def panel(rgb):
        return imageio.resize(imageio.to_unit_float(rgb), PANEL, PANEL)

    sheet, legend = [], []
    for name, case in cases:
        outputs = {m: sweep.METHODS[m](case) for m in methods}
        sheet.append([panel(hints_panel(case))] + [panel(outputs[m]) for m in methods]
                     + [panel(case.rgb)])
        legend.append(f"{name}, N={case.n}: " + ", ".join(
            f"{m} {metrics.psnr(outputs[m], case.rgb):.2f} dB" for m in methods))
    return sheet, legend


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n_hints", default="1,10")
    p.add_argument("--guided", default=None, help="a guided SavedModel (train.py --hints): adds "
                   "the columns " + " and ".join(sweep.GUIDED_METHODS))
    p.add_argument("--out", default=str(REPO / "experiments" / "sheets" / "hints.png"))
    a = p.parse_args()
    methods = list(COLUMNS)
    if a.guided:
        sweep.load_guided(a.guided)
        methods += sweep.GUIDED_METHODS
    n_hints = [int(n) for n in a.n_hints.split(",")]
    shown = photos()
    outputs = sweep.network_outputs([rgb for _, rgb in shown], inference.shipped_model(
        with_guided=False), inference.gray_model())
    cases = [(name, sweep.make_case(i, rgb, *out, n))
             for i, ((name, rgb), out) in enumerate(zip(shown, outputs)) for n in n_hints]
    sheet, legend = rows(cases, methods)
    imageio.write_image(Path(a.out), visualize.comparison_sheet(sheet))
    print(f"wrote {a.out}\ncolumns: hints | " + " | ".join(methods) + " | original")
    print("\n".join(legend))
    return 0


if __name__ == "__main__":
    sys.exit(main())

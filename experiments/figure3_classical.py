"""Figure 3's classical columns, and Charpiat et al. in numbers beside Zhang
et al.'s net (the paper's Figure 3(c) comparison).

    python experiments/figure3_classical.py [--hints 10]

1. Levin et al. with a few scribbles: for each row photo of the Figure 3
   sheet (experiments/figure3_sheet.py's input folder), --hints simulated
   user hints (Zhang et al. 2017's protocol, colorize.marks.simulated_marks:
   squares painted with their mean true ab, the square's side 6 px per
   256 px of the photo's shorter side, as in the 256 px sweep of RESULTS.md),
   written as hints PNGs and colorized by `eval.py --model=levin --marks`.
2. Charpiat et al.'s multimodal predictions from one reference photo, by
   `eval.py --reference`: a scikit-image photo's reference is its own left
   45 % (the split protocol of experiments/reference_quality.py: a
   reference of the same subject); a scene's is the next photo of its class
   in scenes/val (a reference of the same kind of scene).
3. The sheet with both columns (experiments/figure3_sheet.py --column).
4. The comparison in numbers on the 48 scenes/val pairs of
   experiments/reference_quality.py (its scenes.json: the reference method,
   each target photo coloured from another photo of its category) against
   experiments/run_colcol.py's scenes runs on the same 48 target photos (their
   eval.py metrics.json): printed as a markdown table.
Needs run_colcol.py's runs (--work, experiments/work_colcol), which runs
this script last; the table also needs reference_quality.py's scores
(experiments/work_reference) and is skipped, with a note, without them.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from colorize import color, folders, imageio, marks  # noqa: E402

WORK = REPO / "experiments" / "work_colcol"  # run_colcol.py's (--work)
REFERENCE_SCORES = REPO / "experiments" / "work_reference" / "scenes.json"
LEVIN = "Levin et al., {n} hints"
CHARPIAT = "Charpiat et al., one reference"
SPLIT = 0.45  # the reference's share of the photo's width (reference_quality's)
# The runs compared with the reference method (run_colcol.py's names).
RUNS = ("colcol_none_l1", "colcol_none_l2", "colcol_wgan_l1", "unet_wgan_l1")
METRICS = ("psnr", "auc", "colourfulness", "delta_colourfulness")


def eval_py(*flags: str) -> None:
    subprocess.run([sys.executable, "eval.py", *flags], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)


def hints_image(photo: np.ndarray, count: int, seed: int) -> np.ndarray:
    """RGBA uint8 hints of count simulated-user squares (opaque where hinted:
    the photo's L with the square's mean ab)."""
    lab = color.rgb_to_lab_np(imageio.to_unit_float(photo[..., :3]))
    side = max(1, round(6 * min(photo.shape[:2]) / 256))
    hints = marks.simulated_marks(lab, count, np.random.default_rng(seed), patch=side)
    rgba = np.zeros((*photo.shape[:2], 4), np.uint8)
    flat = rgba.reshape(-1, 4)
    hinted = np.concatenate([lab.reshape(-1, 3)[hints.index, :1], hints.ab], axis=-1)
    flat[hints.index, :3] = imageio.to_uint8(color.lab_to_rgb_np(hinted[:, None])[:, 0])
    flat[hints.index, 3] = 255
    return rgba


def levin_column(work: Path, inputs: Path, rels: list[str], count: int) -> Path:
    marks_dir, out = work / "figure3" / f"hints{count}", work / "figure3" / f"levin{count}"
    for i, rel in enumerate(rels):
        target = (marks_dir / rel).with_suffix(".png")
        if not target.exists():
            photo = imageio.to_uint8(imageio.read_image(inputs / rel))
            imageio.write_image(target, hints_image(photo, count, seed=i))
    eval_py("--model=levin", f"--input={inputs}", f"--marks={marks_dir}", f"--output={out}")
    return out


def reference_of(inputs: Path, rel: str, data_root: Path, refs: Path) -> Path:
    """The reference photo of one row (see the module's docstring)."""
    if rel.startswith("scenes/"):
        cls = rel.split("/")[1]
        names = sorted(folders.list_images(data_root / "scenes" / "val" / cls))
        return data_root / "scenes" / "val" / cls / names[1]
    ref = (refs / rel).with_suffix(".png")
    if not ref.exists():
        photo = imageio.read_image(inputs / rel)
        imageio.write_image(ref, photo[:, :round(photo.shape[1] * SPLIT)])
    return ref


def charpiat_column(work: Path, inputs: Path, rels: list[str], data_root: Path) -> Path:
    """One eval.py --reference run per row (each row has its own reference),
    all into one output folder."""
    out, refs = work / "figure3" / "charpiat", work / "figure3" / "references"
    names = folders.output_names(rels)
    for rel in rels:
        target = out / names[rel]
        if not target.exists():
            eval_py(f"--input={inputs / rel}", f"--reference={reference_of(inputs, rel, data_root, refs)}",
                    f"--output={target.parent}")
    return out


def comparison(work: Path) -> str:
    """Markdown: the reference method against the scenes runs on the 48
    target photos of reference_quality.py's scenes pairs."""
    pairs = [row for row in json.loads(REFERENCE_SCORES.read_text()) if "reference" in row]
    targets = {row["path"] for row in pairs}
    table = {"reference method (Charpiat et al.)": [row["reference"] for row in pairs],
             "gray": [row["gray"] for row in pairs]}
    for run in RUNS:
        for seed in (0, 1):
            doc = json.loads((work / "scenes" / "eval" / f"{run}_s{seed}" / "metrics.json").read_text())
            rows = [r for r in doc["per_image"] if r["path"] in targets]
            if len(rows) != len(targets):
                raise SystemExit(f"{run}_s{seed}: {len(rows)} of the {len(targets)} targets scored")
            table.setdefault(run, []).extend(rows)
    lines = [f"| {len(targets)} scenes/val targets | " + " | ".join(METRICS) + " |",
             "|---|" + "---:|" * len(METRICS)]
    for name, rows in table.items():
        means = [statistics.fmean(r[k] for r in rows) for k in METRICS]
        lines.append(f"| {name} | " + " | ".join(f"{m:.2f}" for m in means) + " |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data_root", default=str(REPO.parent / "shared" / "data"))
    p.add_argument("--work", default=str(WORK), help="run_colcol.py's work folder")
    p.add_argument("--hints", type=int, default=10, help="simulated hints per photo (Levin)")
    a = p.parse_args()
    data_root, work = Path(a.data_root), Path(a.work)
    if not (data_root / "scenes" / "val").is_dir():
        print(f"skipping: {data_root / 'scenes' / 'val'} not found (pass --data_root)")
        return 0
    # The sheet script fills the input folder and draws the model columns.
    sheet = [sys.executable, "experiments/figure3_sheet.py", f"--data_root={data_root}",
             f"--work={work}"]
    subprocess.run(sheet, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    inputs = work / "figure3" / "input"
    rels = folders.list_images(inputs)
    levin = levin_column(work, inputs, rels, a.hints)
    charpiat = charpiat_column(work, inputs, rels, data_root)
    subprocess.run([*sheet, "--column", f"{LEVIN.format(n=a.hints)}={levin}",
                    "--column", f"{CHARPIAT}={charpiat}"], cwd=REPO, check=True)
    if REFERENCE_SCORES.exists():
        print(comparison(work))
    else:
        print(f"no {REFERENCE_SCORES}: run experiments/reference_quality.py for the numbers")
    return 0


if __name__ == "__main__":
    sys.exit(main())

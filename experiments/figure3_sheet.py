"""The paper's Figure 3 as a sheet: scikit-image's photos, and one scene
per class of shared/data/scenes/val on a second sheet kept out of git.

    python experiments/figure3_sheet.py [--column "LABEL=EVAL_OUTPUT_DIR" ...]

Columns: gray | Col. Col. (G) with L1 | with L2 | Col. Col. (GAN) (wgan +
L1) | U-Net (GAN) (wgan + L1) | each --column, in the order given |
original. The networks are experiments/run_colcol.py's seed-0 runs trained
on scenes (the faces runs would paint skin on everything, and CelebA may
not be published).

Every column is an output folder of eval.py over the same input folder,
WORK/figure3/input (written here: the row photos, full size), so another
method is added by one flag: colorize that folder with it, e.g.

    python eval.py --saved_model=OTHER --input=experiments/work_colcol/figure3/input --output=OUT
    python experiments/figure3_sheet.py --column "Levin, scribbles=OUT"

Writes experiments/sheets/figure3.png (scikit-image's photos: they may be
published) and WORK/figure3/scenes.png (the scene rows: the Intel scenes'
licence is unclear, so they stay out of the repository), and prints the
columns.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "experiments"))

import sample_sheets  # noqa: E402  (scikit-image's photos and the panel size)

from colorize import folders, imageio, visualize  # noqa: E402

# (label, run_colcol.py's run name without its seed; gray: the baseline)
MODEL_COLUMNS = (
    ("gray", "gray"),
    ("Col. Col. (G), L1", "colcol_none_l1"),
    ("Col. Col. (G), L2", "colcol_none_l2"),
    ("Col. Col. (GAN), wgan + L1", "colcol_wgan_l1"),
    ("U-Net (GAN), wgan + L1", "unet_wgan_l1"),
)
# Figure 3's classical methods, drawn once their outputs exist (--column).
PENDING = ("Levin et al. with a few scribbles",
           "Charpiat et al.'s multimodal predictions from one reference photo")


def row_photos(data_root: Path) -> dict[str, Path]:
    """Input relpath -> source file: scikit-image's sheet photos, then the
    first photo (by name) of each scene class of scenes/val."""
    skimage_dir = sample_sheets.sample._skimage_data_dir()
    rows = {f"skimage/{name}": skimage_dir / name for name in sample_sheets.PHOTOS}
    val = data_root / "scenes" / "val"
    for cls in sorted(p.name for p in val.iterdir() if p.is_dir()):
        first = sorted(folders.list_images(val / cls))[0]
        rows[f"scenes/{cls}/{first}"] = val / cls / first
    return rows


def colorized(run: str, dataset: str, seed: int, work: Path, inputs: Path) -> Path:
    """eval.py's output folder of one model column over inputs (eval.py
    skips the photos already there)."""
    if run == "gray":
        model, out = "--model=gray", work / "figure3" / "gray"
    else:
        model_dir = work / dataset / "runs" / f"{run}_s{seed}"
        if not (model_dir / "config.json").exists():
            raise SystemExit(f"{model_dir} is not trained yet: run experiments/run_colcol.py")
        model, out = f"--model_dir={model_dir}", work / "figure3" / f"{dataset}_{run}_s{seed}"
    subprocess.run([sys.executable, "eval.py", model, f"--input={inputs}", f"--output={out}"],
                   cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return out


def parse_column(text: str) -> tuple[str, Path]:
    label, sep, folder = text.partition("=")
    if not sep or not label.strip() or not folder.strip():
        raise argparse.ArgumentTypeError(f"--column wants LABEL=EVAL_OUTPUT_DIR, got {text!r}")
    return label.strip(), Path(folder.strip())


def draw(inputs: Path, rels: list[str], columns: list[tuple[str, Path]], out: Path) -> None:
    """One row per input photo: each column's result (eval.py's output name
    for it in the column's folder), then the original; panels are centre
    squares at sample_sheets.PANEL px."""
    names = folders.output_names(rels)
    rows = []
    for rel in rels:
        panels = []
        for label, folder in columns:
            result = folder / names[rel]
            if not result.exists():
                raise SystemExit(f"column {label!r}: {result} is missing (is {folder} an "
                                 f"eval.py output of {inputs}?)")
            panels.append(sample_sheets.panel(imageio.read_image(result)))
        rows.append(panels + [sample_sheets.panel(imageio.read_image(inputs / rel))])
    imageio.write_image(out, visualize.comparison_sheet(rows))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data_root", default=str(REPO.parent / "shared" / "data"))
    p.add_argument("--work", default=str(REPO / "experiments" / "work_colcol"))
    p.add_argument("--dataset", default="scenes", help="the runs' training set")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--column", type=parse_column, action="append", default=[],
                   metavar="LABEL=DIR", help="another method's eval.py output folder over "
                   "WORK/figure3/input, drawn before the original (repeatable)")
    p.add_argument("--out", default=str(REPO / "experiments" / "sheets" / "figure3.png"))
    a = p.parse_args()

    work, data_root = Path(a.work), Path(a.data_root)
    if not (data_root / "scenes" / "val").is_dir():
        print(f"skipping: {data_root / 'scenes' / 'val'} not found (pass --data_root)")
        return 0
    fig = work / "figure3"
    inputs = fig / "input"
    rows = row_photos(data_root)
    for rel, src in rows.items():
        (inputs / rel).parent.mkdir(parents=True, exist_ok=True)
        if not (inputs / rel).exists():
            shutil.copyfile(src, inputs / rel)

    columns = [(label, colorized(run, a.dataset, a.seed, work, inputs))
               for label, run in MODEL_COLUMNS] + a.column

    public = [rel for rel in rows if rel.startswith("skimage/")]
    draw(inputs, public, columns, Path(a.out))
    draw(inputs, [rel for rel in rows if rel not in public], columns, fig / "scenes.png")
    drawn = [label for label, _ in columns]
    print(f"wrote {a.out} (rows: {', '.join(public)}) and {fig / 'scenes.png'} (the scenes)\n"
          f"columns: {' | '.join(drawn)} | original")
    pending = [m for m in PENDING if not any(m.split()[0] in d for d in drawn)]
    if pending:
        print("not drawn yet (add with --column): " + "; ".join(pending))
    return 0


if __name__ == "__main__":
    sys.exit(main())

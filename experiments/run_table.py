"""The results table: every GAN variant x {l1, l2} on CelebA at 64 px with
the same budget, scored on celeba/val next to the gray baseline.

    python experiments/run_table.py [--steps 1000] [--width 0.25]

Steps (each skipped when its output is already there, so a stopped run
continues where it was):
1. shards of shared/data/celeba/train at 64 px, squashed (--mode=resize),
   all to train: eval squashes whole photos to the render size the same way;
2. python train.py for each of the 12 (gan, loss) pairs, same steps, batch,
   width and seed, each variant with its paper learning rate;
3. python eval.py --metrics on shared/data/celeba/val for each run and for
   --model=gray;
4. experiments/work/results.json and results.md (the table), and comparison
   sheets (gray | variant | original) of 8 validation faces per variant in
   experiments/work/sheets/. CelebA images may not be published, so the
   sheets stay out of git; RESULTS.md shows sheets of scikit-image's photos
   (experiments/sample_sheets.py).
Everything goes to experiments/work/ (git-ignored).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GANS = ("none", "dcgan", "lsgan", "ebgan", "wgan", "wgan-gp")
LOSSES = ("l1", "l2")
SHEET_FACES = 8


def sh(cmd: list[str], log: Path) -> float:
    """Run a command from the repo root, output to log; returns seconds."""
    print("$ " + " ".join(cmd), flush=True)
    start = time.monotonic()
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        proc = subprocess.run(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}; see {log}")
    return time.monotonic() - start


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data_root", default=str(REPO.parent / "shared" / "data"))
    p.add_argument("--work", default=str(REPO / "experiments" / "work"))
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--generator", default="unet")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gans", nargs="+", default=list(GANS))
    a = p.parse_args()

    data_root, work = Path(a.data_root), Path(a.work)
    train_dir, val_dir = data_root / "celeba" / "train", data_root / "celeba" / "val"
    if not train_dir.is_dir():
        print(f"skipping: {train_dir} not found (pass --data_root)")
        return 0
    work.mkdir(parents=True, exist_ok=True)
    log = work / "log.txt"
    py = sys.executable
    timings_path = work / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}

    shards = work / f"shards_celeba{a.size}"
    if not (shards / "manifest.json").exists():
        timings["build"] = sh([py, "-m", "colorize.data", f"--input={train_dir}",
                               f"--output={shards}", f"--size={a.size}", "--mode=resize",
                               "--val_fraction=0", "--overwrite"], log)

    runs = {"gray": None}
    for gan in a.gans:
        for loss in LOSSES:
            name = f"{gan}_{loss}"
            model_dir = work / "runs" / name
            runs[name] = model_dir
            if name not in timings:
                timings[name] = sh([py, "train.py", f"--gan={gan}", f"--loss={loss}",
                                    f"--data={shards}", f"--model_dir={model_dir}",
                                    f"--max_steps={a.steps}", f"--batch_size={a.batch_size}",
                                    f"--width={a.width}", f"--image_size={a.size}",
                                    f"--generator={a.generator}", f"--seed={a.seed}",
                                    "--log_every=100", "--image_every=500",
                                    "--checkpoint_every=500"], log)
                timings_path.write_text(json.dumps(timings, indent=2))

    results = {}
    for name, model_dir in runs.items():
        out = work / "eval" / name
        if not (out / "metrics.json").exists():
            model = ["--model=gray"] if model_dir is None else [f"--model_dir={model_dir}"]
            sh([py, "eval.py", *model, f"--input={val_dir}", f"--output={out}", "--metrics",
                "--overwrite"], log)
        results[name] = json.loads((out / "metrics.json").read_text())["mean"]
    config = {"steps": a.steps, "batch_size": a.batch_size, "width": a.width, "size": a.size,
              "generator": a.generator, "seed": a.seed}
    (work / "results.json").write_text(json.dumps(
        {"config": config, "timings_s": timings, "mean": results}, indent=2))
    (work / "results.md").write_text(table(results, timings))
    print(table(results, timings))
    sheets(work, runs, val_dir)
    return 0


def table(results: dict, timings: dict) -> str:
    lines = ["| run | PSNR (dB) | SSIM | AuC (%) | colourfulness | ΔCF | train time |",
             "|---|---|---|---|---|---|---|"]
    for name, m in results.items():
        t = timings.get(name)
        lines.append(f"| {name} | {m['psnr']:.2f} | {m['ssim']:.4f} | {m['auc']:.2f} | "
                     f"{m['colourfulness']:.2f} | {m['delta_colourfulness']:+.2f} | "
                     f"{'—' if t is None else f'{t / 60:.1f} min'} |")
    return "\n".join(lines) + "\n"


def sheets(work: Path, runs: dict, val_dir: Path) -> None:
    """One sheet per run: 8 validation faces, gray | run | original."""
    sys.path.insert(0, str(REPO))
    from colorize import imageio, visualize

    faces = imageio.list_images(val_dir)[:SHEET_FACES]
    out = work / "sheets"
    for name in runs:
        rows = []
        for rel in faces:
            original = imageio.read_image(val_dir / rel)
            result = imageio.read_image(work / "eval" / name / rel)
            rows.append([visualize.gray_of(original), result, original])
        imageio.write_image(out / f"{name}.png", visualize.comparison_sheet(rows))


if __name__ == "__main__":
    sys.exit(main())

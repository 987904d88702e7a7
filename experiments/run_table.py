"""The results table: every GAN variant x {l1, l2} on CelebA at 64 px with
the same budget and several seeds, scored on celeba/val next to the gray
baseline, with the adversarial share each run trained with.

    python experiments/run_table.py [--steps 1000] [--width 0.25] [--seeds 0 1]

Steps (each skipped when its output is already there, so a stopped run
continues where it was):
1. shards of shared/data/celeba/train at 64 px (whole photos, squashed),
   all to train: eval squashes whole photos to the render size the same way;
2. python train.py for each of the 12 (gan, loss) pairs and each seed, same
   steps, batch and width, each variant with its paper learning rate;
3. python eval.py --metrics on shared/data/celeba/val for each run and for
   --model=gray;
4. experiments/work/results.json and results.md (the table: mean and
   spread over seeds; adv share = median of the logged adversarial share
   over the second half of training), and comparison
   sheets (gray | variant | original) of 8 validation faces per variant in
   experiments/work/sheets/. CelebA images may not be published, so the
   sheets stay out of git; RESULTS.md shows sheets of scikit-image's photos
   (experiments/sample_sheets.py).
Everything goes to experiments/work/ (git-ignored).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GANS = ("none", "dcgan", "lsgan", "ebgan", "wgan", "wgan-gp")
LOSSES = ("l1", "l2")
SHEET_FACES = 8
# Table columns and their number formats.
METRICS = {"psnr": ".2f", "ssim": ".4f", "auc": ".2f", "colourfulness": ".2f",
           "delta_colourfulness": "+.2f"}


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
    p = budget_parser(__doc__, REPO / "experiments" / "work")
    p.add_argument("--generator", default="unet")
    p.add_argument("--gans", nargs="+", default=list(GANS))
    p.add_argument("--losses", nargs="+", default=list(LOSSES))
    p.add_argument("--precision", help="train.py's --precision (default: its own default); "
                   "named in the run names when given")
    p.add_argument("--shards", help="shards to reuse (default: WORK/shards_celeba<size>, built "
                   "when missing)")
    a = p.parse_args()

    data_root, work = Path(a.data_root), Path(a.work)
    train_dir, val_dir = data_root / "celeba" / "train", data_root / "celeba" / "val"
    if not train_dir.is_dir():
        print(f"skipping: {train_dir} not found (pass --data_root)")
        return 0
    work.mkdir(parents=True, exist_ok=True)
    log = work / "log.txt"
    timings = Timings(work / "timings.json")
    shards = Path(a.shards) if a.shards else work / f"shards_celeba{a.size}"
    ensure_shards(train_dir, shards, a.size, log, timings)

    budget = Budget(a.steps, a.batch_size, a.width, a.size, a.precision)
    runs = {"gray": None}
    for seed in a.seeds:  # seed-major: a stopped run has whole tables first
        for gan in a.gans:
            for loss in a.losses:
                name = f"{gan}_{loss}{'_' + a.precision if a.precision else ''}_s{seed}"
                runs[name] = work / "runs" / name
                train(name, runs[name], shards, a.generator, gan, loss, seed, budget, log,
                      timings)

    results = score(runs, val_dir, work / "eval", log, timings)
    config = {"steps": a.steps, "batch_size": a.batch_size, "width": a.width, "size": a.size,
              "generator": a.generator, "seeds": a.seeds, "precision": a.precision}
    (work / "results.json").write_text(json.dumps(
        {"config": config, "timings_s": timings.seconds, "per_run": results}, indent=2))
    (work / "results.md").write_text(table(results, timings.seconds))
    print(table(results, timings.seconds))
    sheets(work, [n for n in runs if n == "gray" or n.endswith(f"_s{a.seeds[0]}")], val_dir)
    return 0


def budget_parser(doc: str, work: Path) -> argparse.ArgumentParser:
    """The flags every table script shares: data, work folder and the
    budget (the same for every run of a table), with the table's defaults."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--data_root", default=str(REPO.parent / "shared" / "data"))
    p.add_argument("--work", default=str(work))
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--width", type=float, default=0.25, help="the generators' width "
                   "(0.25: the U-Net has 1.8 M parameters, colcol 2.0 M)")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    return p


@dataclasses.dataclass(frozen=True)
class Budget:
    """What every run of one table shares: generator steps, batch, width,
    training size and precision (None: train.py's default)."""
    steps: int
    batch_size: int
    width: float
    size: int
    precision: str | None = None


class Timings:
    """Wall seconds per step name, kept in a JSON file so that a stopped
    run's finished steps are neither redone nor forgotten."""

    def __init__(self, path: Path):
        self.path = path
        self.seconds = json.loads(path.read_text()) if path.exists() else {}

    def __contains__(self, name: str) -> bool:
        return name in self.seconds

    def record(self, name: str, seconds: float) -> None:
        self.seconds[name] = seconds
        self.path.write_text(json.dumps(self.seconds, indent=2))


def ensure_shards(train_dir: Path, shards: Path, size: int, log: Path,
                  timings: Timings) -> None:
    """Shards of every photo of train_dir at `size` px (whole photos,
    squashed, as eval feeds them), all to train; built once."""
    if not (shards / "manifest.json").exists():
        timings.record(f"build {shards.name}", sh(
            [sys.executable, "-m", "colorize.data", f"--input={train_dir}",
             f"--output={shards}", f"--size={size}", "--val_fraction=0", "--overwrite"], log))


def train(name: str, model_dir: Path, shards: Path, generator: str, gan: str, loss: str,
          seed: int, budget: Budget, log: Path, timings: Timings) -> None:
    """python train.py for one run, each variant with its paper learning
    rate; skipped when timings has it (the run finished)."""
    if name in timings:
        return
    precision = [f"--precision={budget.precision}"] if budget.precision else []
    timings.record(name, sh([sys.executable, "train.py", f"--gan={gan}", f"--loss={loss}",
                             f"--data={shards}", f"--model_dir={model_dir}",
                             f"--max_steps={budget.steps}", f"--batch_size={budget.batch_size}",
                             f"--width={budget.width}", f"--image_size={budget.size}",
                             f"--generator={generator}", f"--seed={seed}",
                             # the published decoders (pix2pix's U-Net, Zhang's
                             # block 8), as the paper used
                             "--upsample=transpose",
                             "--log_every=100", "--image_every=500",
                             "--checkpoint_every=500", *precision], log))


def score(runs: dict, val_dir: Path, eval_root: Path, log: Path,
          timings: Timings | None = None, prefix: str = "") -> dict:
    """eval.py --metrics on val_dir for each run (None: --model=gray), once
    (its wall time in timings as "eval PREFIXNAME"); returns each run's
    mean scores with its adversarial share."""
    results = {}
    for name, model_dir in runs.items():
        out = eval_root / name
        if not (out / "metrics.json").exists():
            model = ["--model=gray"] if model_dir is None else [f"--model_dir={model_dir}"]
            seconds = sh([sys.executable, "eval.py", *model, f"--input={val_dir}",
                          f"--output={out}", "--metrics", "--overwrite"], log)
            if timings is not None:
                timings.record(f"eval {prefix}{name}", seconds)
        results[name] = json.loads((out / "metrics.json").read_text())["mean"]
        if model_dir is not None:
            results[name]["adv_share"] = adversarial_share(model_dir)
    return results


def adversarial_share(model_dir: Path) -> float | None:
    """Median of the logged gan/adv_share over the second half of training
    (None for the generator alone, which logs none)."""
    import tensorflow as tf

    points = []
    for path in sorted((model_dir / "train").glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for v in event.summary.value:
                if v.tag == "gan/adv_share":
                    points.append((event.step, float(tf.make_ndarray(v.tensor))))
    if not points:
        return None
    last = max(step for step, _ in points)
    return statistics.median(v for step, v in points if step > last / 2)


def _mean_spread(values: list, fmt: str) -> str:
    """'mean ± half the range' (with two seeds, half the range is the
    distance of each seed from the mean)."""
    mean = format(statistics.mean(values), fmt)
    if len(values) == 1:
        return mean
    return f"{mean} ± {format((max(values) - min(values)) / 2, fmt.lstrip('+'))}"


def table(results: dict, timings: dict) -> str:
    """One row per (gan, loss): mean ± half-range over seeds."""
    groups: dict[str, list[str]] = {}
    for name in results:
        groups.setdefault(name.rsplit("_s", 1)[0] if name != "gray" else name, []).append(name)
    lines = ["| run | seeds | PSNR (dB) | SSIM | AuC (%) | colourfulness | ΔCF | adv share "
             "| train time |", "|---|---|---|---|---|---|---|---|---|"]
    for group, names in groups.items():
        cells = [_mean_spread([results[n][k] for n in names], f) for k, f in METRICS.items()]
        shares = [results[n].get("adv_share") for n in names]
        share = "—" if None in shares else _mean_spread(shares, ".2f")
        t = [timings[n] / 60 for n in names if n in timings]
        time_cell = f"{statistics.mean(t):.1f} min" if t else "—"
        lines.append(f"| {group} | {len(names)} | " + " | ".join(cells)
                     + f" | {share} | {time_cell} |")
    return "\n".join(lines) + "\n"


def sheets(work: Path, runs: dict, val_dir: Path) -> None:
    """One sheet per run: 8 validation faces, gray | run | original."""
    sys.path.insert(0, str(REPO))
    from colorize import folders, imageio, visualize

    faces = folders.list_images(val_dir)[:SHEET_FACES]
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

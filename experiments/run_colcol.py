"""The paper's first experiment (§3, Figure 3) in numbers: Zhang et al.'s
colorful-colorization net (`--generator=colcol`) alone ("Col. Col. (G)")
with L1 and with L2, and each in the GAN the authors paired it with
("Col. Col. (GAN)"), on faces (CelebA) and on scenes (the Places2
stand-in), beside the U-Net trained the same way and the gray baseline.

    python experiments/run_colcol.py [--steps 1000] [--width 0.25] [--seeds 0 1]

The variant table's budget rules (experiments/run_table.py, whose steps
this reuses): every run the same generator steps, batch, training size and
width, two seeds, each GAN with its paper learning rate. Per dataset:
1. shards of shared/data/<dataset>/train at --size px;
2. python train.py for each generator x {none, wgan} x {l1, l2} x seed;
3. python eval.py --metrics on shared/data/<dataset>/val for each run and
   for --model=gray;
4. WORK/<dataset>/results.json and results.md (mean ± half-range over
   seeds, adversarial share, train time).
Then experiments/figure3_classical.py draws Figure 3 from the scenes runs,
with the classical methods' columns (Levin et al., Charpiat et al.).
Every step is skipped when its output is there, so a stopped run continues
where it was. Everything goes to WORK (git-ignored); the total wall time
is printed and kept in WORK/timings.json.

Why wgan: the paper does not name the GAN of "Col. Col. (GAN)" (Figure 3's
caption says only "as a generator in a GAN"). In the authors' code, the
colcol generator (ColColGAN.netG) is trained by their train.py, whose
--LOSS_METHOD defaults to 'wasserstein', as do their training scripts
(_train.sh, config/colorarch_wasserstein_celeba.py): the weight-clipping
WGAN, RMSProp 5e-5, 5 critic steps per generator step.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run_table  # noqa: E402  (the variant table's training and scoring steps)

REPO = run_table.REPO
DATASETS = ("celeba", "scenes")
GENERATORS = ("colcol", "unet")
PAPER_GAN = "wgan"
GANS = ("none", PAPER_GAN)
LOSSES = ("l1", "l2")


def run_name(generator: str, gan: str, loss: str, seed: int) -> str:
    return f"{generator}_{gan}_{loss}_s{seed}"


def main() -> int:
    p = run_table.budget_parser(__doc__, REPO / "experiments" / "work_colcol")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--generators", nargs="+", default=list(GENERATORS), choices=GENERATORS)
    p.add_argument("--no_sheet", action="store_true", help="skip experiments/figure3_classical.py (the sheet)")
    a = p.parse_args()

    data_root, work = Path(a.data_root), Path(a.work)
    missing = [d for d in a.datasets if not (data_root / d / "train").is_dir()]
    if missing:
        print(f"skipping: {', '.join(str(data_root / d / 'train') for d in missing)} not found "
              "(pass --data_root)")
        return 0
    work.mkdir(parents=True, exist_ok=True)
    timings = run_table.Timings(work / "timings.json")
    budget = run_table.Budget(a.steps, a.batch_size, a.width, a.size)
    start = time.monotonic()
    for dataset in a.datasets:
        tables(dataset, data_root, work, budget, a.generators, a.seeds, timings)
    if not a.no_sheet and "scenes" in a.datasets:
        timings.record("figure3 sheet", run_table.sh(
            [sys.executable, "experiments/figure3_classical.py", f"--work={work}",
             f"--data_root={data_root}"], work / "log.txt"))
    print(f"this invocation: {(time.monotonic() - start) / 60:.1f} min; every step ever run "
          f"here (WORK/timings.json): {sum(timings.seconds.values()) / 60:.1f} min")
    return 0


def tables(dataset: str, data_root: Path, work: Path, budget: run_table.Budget,
           generators: list[str], seeds: list[int], timings: run_table.Timings) -> None:
    """Train, score and tabulate one dataset's runs."""
    out = work / dataset
    out.mkdir(exist_ok=True)
    log = out / "log.txt"
    shards = work / f"shards_{dataset}{budget.size}"
    run_table.ensure_shards(data_root / dataset / "train", shards, budget.size, log, timings)
    runs = {"gray": None}
    for generator in generators:
        for seed in seeds:
            for gan in GANS:
                for loss in LOSSES:
                    name = run_name(generator, gan, loss, seed)
                    runs[name] = out / "runs" / name
                    run_table.train(f"{dataset} {name}", runs[name], shards, generator, gan,
                                    loss, seed, budget, log, timings)
    results = run_table.score(runs, data_root / dataset / "val", out / "eval", log, timings,
                              prefix=f"{dataset} ")
    train_s = {n: timings.seconds[f"{dataset} {n}"] for n in runs if n != "gray"}
    config = {"dataset": dataset, "steps": budget.steps, "batch_size": budget.batch_size,
              "width": budget.width, "size": budget.size, "seeds": seeds,
              "generators": generators, "gans": GANS, "losses": LOSSES}
    (out / "results.json").write_text(json.dumps(
        {"config": config, "train_s": train_s, "per_run": results}, indent=2))
    text = run_table.table(results, train_s)
    (out / "results.md").write_text(text)
    print(f"{dataset}/val:\n{text}")


if __name__ == "__main__":
    sys.exit(main())

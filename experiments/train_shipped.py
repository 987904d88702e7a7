"""Train, export and score the model shipped in the package
(colorize/pretrained/general): diverse photos, scenes, faces and BSDS.

    python experiments/train_shipped.py [--gan lsgan --loss l1 --steps 10000 --size 128]
    python experiments/train_shipped.py --work=W2 --start_from=W1/run/ckpt-10000 \
        --steps=16000 --lr_decay_steps=6000 --select --average   # continue a run

1. shards of shared/data photos/train, scenes/train, celeba/train and
   bsds/train at --size px (whole photos, squashed, as eval feeds them);
2. python train.py on the four folders together (--data=a,b,c,d) with
   --data_weights (WEIGHTS below: why these);
3. python eval.py --metrics with the model shipped so far ("previous",
   once, before it is replaced), then python -m colorize.export into
   work/export: the last checkpoint, or with --select the candidate with
   the best PSNR on the photos that the shards' 2 % val split held out of
   photos/train and scenes/train (the kept checkpoints, and with --average
   the mean of those trained under the decay), its ab averaged with the
   mirror image's (--flip_average, the default). It replaces
   colorize/pretrained/general only if it beats the shipped model on the
   held-out photos (both as exported) by more than twice the standard
   error of the photo-by-photo PSNR difference;
4. python eval.py --metrics with the new shipped model (no model flag) and
   with --model=gray on photos/val, scenes/val and celeba/val, and each
   model's mean ab bias (prediction - truth, Lab units) and mean chroma.
Work files go to experiments/work/shipped/ (git-ignored); the summary to
experiments/work/shipped/results.json. Stopped runs continue (train.py
resumes; finished steps are skipped).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The package (imported inside the functions that need it: importing it
# loads TensorFlow) and run_table's helpers.
sys.path[:0] = [str(REPO), str(REPO / "experiments")]
from run_table import sh  # noqa: E402

# Sampling weights. The model's main use is ordinary photos, so the diverse
# photos/ set (objects, animals, food, indoor and outdoor scenes) gets the
# largest share; scenes/ (landscapes, streets, buildings) and faces a fifth
# each, faces because old portraits are a common thing to colorize and the
# only people in the data (they beat their targets with room to spare at a
# quarter); BSDS500 is a small (300) set of varied natural photos, kept at
# 5% so that it is not memorised.
TRAIN_SETS = {"photos/train": 0.55, "scenes/train": 0.2, "celeba/train": 0.2,
              "bsds/train": 0.05}
EVAL_SETS = ("photos/val", "scenes/val", "celeba/val")
SELECT_SETS = ("photos/train", "scenes/train")  # their held-out 2 %: see held_out()
SHIPPED = REPO / "colorize" / "pretrained" / "general"
VAL_FRACTION = 0.02  # of each training folder, kept out of the shards


def ab_bias(src: Path, out: Path) -> dict:
    """Mean over photos of the mean ab error (prediction - truth, Lab units:
    a colour cast shows as a non-zero mean) and the mean chroma of the
    predictions and of the originals (desaturation shows as a lower one)."""
    import numpy as np

    from colorize import color, folders, imageio

    bias, chroma_pred, chroma_true = [], [], []
    for rel in folders.list_images(src):
        if not (out / rel).exists():
            continue
        true = color.rgb_to_lab_np(imageio.read_image(src / rel))[..., 1:]
        pred = color.rgb_to_lab_np(imageio.read_image(out / rel))[..., 1:]
        bias.append((pred - true).reshape(-1, 2).mean(axis=0))
        chroma_pred.append(np.hypot(pred[..., 0], pred[..., 1]).mean())
        chroma_true.append(np.hypot(true[..., 0], true[..., 1]).mean())
    a, b = np.mean(bias, axis=0)
    return {"bias_a": float(a), "bias_b": float(b), "chroma": float(np.mean(chroma_pred)),
            "chroma_true": float(np.mean(chroma_true))}


def scored(out: Path, src: Path) -> bool:
    """Whether out holds eval.py's scores of every photo in src (a stopped
    eval writes the scores of the photos it finished: not reusable)."""
    from colorize import folders

    if not (out / "metrics.json").exists():
        return False
    mean = json.loads((out / "metrics.json").read_text())["mean"]
    return mean.get("count") == len(folders.list_images(src))


def held_out(data_root: Path, work: Path) -> list[Path]:
    """For each of photos/train and scenes/train, a folder of links to the
    photos that the builder's --val_fraction split kept out of the
    training shards (the same hash of the relative path): checkpoints are
    chosen on these, so the reported val folders stay unseen."""
    from colorize import folders
    from colorize.data.builder import split_of

    made = []
    for name in SELECT_SETS:
        out = work / "held_out" / name.replace("/", "_")
        out.mkdir(parents=True, exist_ok=True)
        for rel in folders.list_images(data_root / name):
            link = out / rel.replace("/", "__")
            if split_of(rel, VAL_FRACTION) == "val" and not link.exists():
                link.symlink_to(data_root / name / rel)
        made.append(out)
    return made


def checkpoint_steps(model_dir: Path) -> list[int]:
    return sorted(int(p.name[len("ckpt-"):-len(".index")]) for p in model_dir.glob("ckpt-*.index"))


def scored_dir(work: Path, folder: Path, name: str) -> Path:
    """Where eval.py writes a candidate's output and scores for a held-out folder."""
    return work / "select" / f"{folder.name}_{name}"


def held_out_scores(model: list[str], name: str, folders: list[Path], work: Path,
                    log: Path) -> dict:
    """eval.py's mean scores of a model (its flags) over the held-out
    folders, averaged over the folders; kept under work/select/."""
    means = []
    for folder in folders:
        out = scored_dir(work, folder, name)
        if not scored(out, folder):
            sh([sys.executable, "eval.py", *model, f"--input={folder}", f"--output={out}",
                "--metrics", "--overwrite"], log)
        means.append(json.loads((out / "metrics.json").read_text())["mean"])
    return {k: sum(m[k] for m in means) / len(means)
            for k in ("psnr", "auc", "colourfulness", "delta_colourfulness")}


def select(model_dir: Path, average: list[int], folders: list[Path], work: Path,
           log: Path) -> tuple:
    """The candidate with the highest mean PSNR over the held-out folders
    (early stopping on data the run did not train on): its name and model
    flags (eval.py's and export's), and every candidate's scores. The
    candidates are the kept checkpoints (by step) and, when average lists
    steps, the mean of those checkpoints ("mean", exported to work/mean)."""
    candidates = {str(step): [f"--model_dir={model_dir}", f"--step={step}"]
                  for step in checkpoint_steps(model_dir)}
    if average:
        mean = work / "mean"
        sh([sys.executable, "-m", "colorize.export", f"--model_dir={model_dir}",
            f"--average={','.join(map(str, average))}", f"--output={mean}", "--overwrite"], log)
        candidates["mean"] = [f"--saved_model={mean}"]
    scores = {}
    for name, model in candidates.items():
        scores[name] = held_out_scores(model, name, folders, work, log)
        print(f"{name}: {scores[name]}", flush=True)
    best = max(scores, key=lambda name: scores[name]["psnr"])
    return best, candidates[best], scores


def paired_psnr_gain(new: str, old: str, folders: list[Path], work: Path) -> tuple:
    """Mean and standard error of new's PSNR minus old's, photo by photo,
    over the held-out folders (both scored there by held_out_scores)."""
    import numpy as np

    diffs = []
    for folder in folders:
        per_image = [{row["path"]: row["psnr"] for row in json.loads(
            (scored_dir(work, folder, name) / "metrics.json").read_text())["per_image"]}
            for name in (new, old)]
        diffs += [per_image[0][path] - per_image[1][path] for path in per_image[0]]
    diffs = np.array(diffs)
    return float(diffs.mean()), float(diffs.std(ddof=1) / np.sqrt(len(diffs)))


def replace_if_better(exported: Path, folders: list[Path], work: Path, log: Path) -> tuple:
    """Copy the exported model over the shipped one only if it is better on
    the held-out photos, both scored as exported (flip averaging included):
    its mean PSNR gain, photo by photo, must exceed twice its standard
    error. A run that does not clearly beat the model users have leaves it
    in place (a 15 MB file is not replaced for a difference within noise).
    Returns (replaced, the scores and the gain)."""
    for folder in folders:  # this run's export: never an earlier run's scores
        shutil.rmtree(scored_dir(work, folder, "export"), ignore_errors=True)
    report = {"exported": held_out_scores([f"--saved_model={exported}"], "export", folders,
                                          work, log)}
    if SHIPPED.exists():  # scored once, before any replacement (as "previous" below)
        report["shipped"] = held_out_scores([f"--saved_model={SHIPPED}"], "shipped_before",
                                            folders, work, log)
        gain, stderr = paired_psnr_gain("export", "shipped_before", folders, work)
        report.update(psnr_gain=gain, psnr_gain_stderr=stderr)
        if gain <= 2 * stderr:
            print(f"kept the shipped model: this run's held-out PSNR gain over it is "
                  f"{gain:+.3f} dB (standard error {stderr:.3f})", flush=True)
            return False, report
        shutil.rmtree(SHIPPED)
    shutil.copytree(exported, SHIPPED)
    return True, report


def start_from(checkpoint: Path, model_dir: Path) -> None:
    """Seed an empty model_dir with checkpoint (a prefix: .../run/ckpt-N)
    and its run's config.json, so that train.py continues that run there
    (with this run's flags: more steps, a decaying rate). A model_dir that
    has checkpoints already is left alone: a stopped continuation resumes."""
    if checkpoint_steps(model_dir):
        return
    model_dir.mkdir(parents=True, exist_ok=True)
    for part in checkpoint.parent.glob(checkpoint.name + ".*"):
        shutil.copy2(part, model_dir / part.name)
    shutil.copy2(checkpoint.parent / "config.json", model_dir / "config.json")
    (model_dir / "checkpoint").write_text(f'model_checkpoint_path: "{checkpoint.name}"\n')


def build_shards(data_root: Path, work: Path, size: int, log: Path, timings: dict) -> list[str]:
    """Shards of each TRAIN_SETS folder at size px under work/shards (built
    once; the build's time goes into timings), VAL_FRACTION held out."""
    shard_dirs = []
    for name in TRAIN_SETS:
        out = work / "shards" / name.replace("/", "_")
        shard_dirs.append(str(out))
        if not (out / "manifest.json").exists():
            timings[f"build {name}"] = sh([
                sys.executable, "-m", "colorize.data", f"--input={data_root / name}",
                f"--output={out}", f"--size={size}", f"--val_fraction={VAL_FRACTION}",
                "--overwrite"], log)
    return shard_dirs


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data_root", default=str(REPO.parent / "shared" / "data"))
    p.add_argument("--work", default=str(REPO / "experiments" / "work" / "shipped"))
    p.add_argument("--gan", default="lsgan")
    p.add_argument("--loss", default="l1")
    p.add_argument("--steps", type=int, default=10000)
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--width", type=float, default=0.35)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gan_weight", type=float, default=0.5)
    p.add_argument("--weights", default=",".join(str(w) for w in TRAIN_SETS.values()),
                   help="sampling weights of " + ", ".join(TRAIN_SETS))
    p.add_argument("--keep_checkpoints", type=int, default=3,
                   help="kept checkpoints, to score earlier ones")
    p.add_argument("--checkpoint_every", type=int, default=500)
    p.add_argument("--lr_decay_steps", type=int, default=0,
                   help="train.py's: the rate falls linearly to 0 over the last N steps")
    p.add_argument("--start_from", default=None,
                   help="a checkpoint prefix (.../run/ckpt-N) to continue from")
    p.add_argument("--select", action="store_true",
                   help="export the candidate with the best held-out PSNR, not the last checkpoint")
    p.add_argument("--flip_average", action=argparse.BooleanOptionalAction, default=True,
                   help="export's --flip_average: average each photo's ab with its mirror "
                   "image's (the candidates are chosen without it)")
    p.add_argument("--average", action="store_true",
                   help="with --select and --lr_decay_steps: the mean of the kept checkpoints "
                   "trained under the decay is a candidate too")
    a = p.parse_args()
    if a.average and not (a.select and a.lr_decay_steps):
        p.error("--average needs --select and --lr_decay_steps")
    data_root, work = Path(a.data_root), Path(a.work)
    first = next(iter(TRAIN_SETS))
    if not (data_root / first).is_dir():
        print(f"skipping: {data_root / first} not found (pass --data_root)")
        return 0
    work.mkdir(parents=True, exist_ok=True)
    log, py = work / "log.txt", sys.executable
    timings_path = work / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}

    shard_dirs = build_shards(data_root, work, a.size, log, timings)
    model_dir = work / "run"
    if a.start_from:
        start_from(Path(a.start_from), model_dir)
    timings["train"] = timings.get("train", 0.0) + sh([
        py, "train.py", f"--gan={a.gan}", f"--loss={a.loss}", f"--data={','.join(shard_dirs)}",
        f"--data_weights={a.weights}", f"--gan_weight={a.gan_weight}",
        f"--lr_decay_steps={a.lr_decay_steps}",
        f"--keep_checkpoints={a.keep_checkpoints}",
        f"--model_dir={model_dir}", f"--max_steps={a.steps}", f"--batch_size={a.batch_size}",
        f"--width={a.width}", f"--image_size={a.size}", f"--seed={a.seed}", "--log_every=100",
        "--image_every=1000", f"--checkpoint_every={a.checkpoint_every}"], log)
    timings_path.write_text(json.dumps(timings, indent=2))

    def evaluate(name: str, model: str, flag: list[str], again: bool = True) -> None:
        out = work / "eval" / f"{name.replace('/', '_')}_{model}"
        if again or not scored(out, data_root / name):
            sh([py, "eval.py", *flag, f"--input={data_root / name}", f"--output={out}",
                "--metrics", "--overwrite"], log)
        mean = json.loads((out / "metrics.json").read_text())["mean"]
        if model != "gray":
            mean.update(ab_bias(data_root / name, out))
        results[f"{name} {model}"] = mean

    results = {}
    for name in EVAL_SETS:  # the model shipped so far: scored once, before it is replaced
        evaluate(name, "previous", [f"--saved_model={SHIPPED}"], again=False)
    # With the decay, the checkpoints it trained may be averaged (the
    # rate is low there, so they are close: their mean evens out the GAN's
    # swings between checkpoints).
    average = ([step for step in checkpoint_steps(model_dir) if step > a.steps - a.lr_decay_steps]
               if a.average else [])
    last = checkpoint_steps(model_dir)[-1]
    choice, model, selection = str(last), [f"--model_dir={model_dir}", f"--step={last}"], {}
    held_out_folders = held_out(data_root, work)
    if a.select:
        choice, model, selection = select(model_dir, average, held_out_folders, work, log)
    # The mean is exported already (work/mean): re-exported, not averaged again.
    exported = work / "export"
    sh([py, "-m", "colorize.export", *model, f"--output={exported}", "--overwrite",
        "--flip_average" if a.flip_average else "--noflip_average"], log)
    replaced, against = replace_if_better(exported, held_out_folders, work, log)
    for name in EVAL_SETS:
        evaluate(name, "shipped", [])
        evaluate(name, "gray", ["--model=gray"])
    summary = {"config": vars(a), "timings_s": timings, "exported": choice,
               "replaced_shipped": replaced, "held_out_exported_vs_shipped": against,
               "held_out_by_step": selection,
               "export_bytes": folder_size(SHIPPED), "mean": results}
    (work / "results.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train, export and sweep the guided model (train.py --hints): the general
model's photo mix, with Zhang et al. 2017's simulated user in the input
pipeline (docs/guided.md).

    python experiments/train_guided.py [--steps 20000 --size 128 --width 0.35 --hint_p 0.125]
    python experiments/train_guided.py --steps 300 --work=experiments/work/guided_probe  # a probe

1. shards of the general model's training folders (train_shipped.TRAIN_SETS,
   at --size px, 2 % of photos/train and scenes/train held out), built
   once (--shards_from reuses train_shipped's);
2. python train.py --hints on them together, with train_shipped's
   sampling weights; its img/s and wall time go to timings.json;
3. python -m colorize.export into work/export (flip averaging by default:
   the hints are mirrored with the photo);
4. the simulated-user sweep (experiments/scribble_sweep.py with the export
   as --guided) on the held-out photos (--every to thin them), for
   choosing a recipe without touching photos/val and scenes/val; --report
   sweeps those two as well, for RESULTS.md.
The shipped guided model (colorize/pretrained/guided) is not replaced
here. Work files go to experiments/work/guided/ (git-ignored); the summary
to experiments/work/guided/results.json. A stopped run continues
(train.py resumes; built shards are kept).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "experiments")]
from run_table import sh  # noqa: E402
from train_shipped import (EVAL_SETS, TRAIN_SETS, build_shards, held_out,  # noqa: E402
                           folder_size)

SWEEP = REPO / "experiments" / "scribble_sweep.py"
# The sweep's hint counts for choosing a recipe (the report uses all of
# scribble_sweep's): the targets are at 0, 1, 10 and 50 hints.
SELECT_HINTS = "0,1,10,50"


def train_rate(log: Path) -> float | None:
    """The last img/s that train.py's progress line printed into log."""
    rates = re.findall(r"([0-9.]+) img/s", log.read_text()) if log.exists() else []
    return float(rates[-1]) if rates else None


def sweep(data: Path, folders: list[str], exported: Path, out: Path, every: int, n_hints: str,
          log: Path) -> dict:
    """scribble_sweep.py's mean PSNR table over data's folders for the
    guided export (its columns for the network alone and refined by the
    exact hints, beside gray, the shipped model, Levin alone and model +
    scribbles)."""
    if not (out / "sweep.json").exists():
        sh([sys.executable, str(SWEEP), f"--data={data}", f"--folders={','.join(folders)}",
            f"--every={every}",
            f"--n_hints={n_hints}", f"--guided={exported}", f"--out={out}"], log)
    return json.loads((out / "sweep.json").read_text())["mean"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data_root", default=str(REPO.parent / "shared" / "data"))
    p.add_argument("--work", default=str(REPO / "experiments" / "work" / "guided"))
    p.add_argument("--shards_from", default=None,
                   help="a train_shipped work folder whose shards (same --size) to reuse")
    p.add_argument("--generator", default="unet")
    p.add_argument("--gan", default="none", help="L1 alone, as Zhang et al. 2017 (docs/guided.md)")
    p.add_argument("--loss", default="l1")
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--width", type=float, default=0.35)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hint_p", type=float, default=1 / 8, help="train.py's --hint_p")
    p.add_argument("--hint_max_patch", type=int, default=9, help="train.py's --hint_max_patch")
    p.add_argument("--lr_decay_steps", type=int, default=0)
    p.add_argument("--lr_g", type=float, default=None,
                   help="train.py's --lr_g (default: the variant's, 1e-4 for L1 alone)")
    p.add_argument("--init_generator", default=str(REPO / "colorize" / "pretrained" / "general"),
                   help="train.py's --init_generator: the shipped model, hint inputs at zero "
                        "('' starts from scratch)")
    p.add_argument("--hints_at_output", action=argparse.BooleanOptionalAction, default=True,
                   help="train.py's --hints_at_output (hints at full resolution)")
    p.add_argument("--weights", default=",".join(str(w) for w in TRAIN_SETS.values()),
                   help="sampling weights of " + ", ".join(TRAIN_SETS))
    p.add_argument("--flip_average", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--every", type=int, default=4, help="sweep every k-th held-out photo")
    p.add_argument("--report", action="store_true",
                   help="also sweep " + ", ".join(EVAL_SETS[:2]) + " (every photo)")
    a = p.parse_args()
    data_root, work = Path(a.data_root), Path(a.work)
    if not (data_root / next(iter(TRAIN_SETS))).is_dir():
        print(f"skipping: {data_root / next(iter(TRAIN_SETS))} not found (pass --data_root)")
        return 0
    work.mkdir(parents=True, exist_ok=True)
    log = work / "log.txt"
    timings_path = work / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    shard_dirs = build_shards(data_root, Path(a.shards_from) if a.shards_from else work, a.size,
                              log, timings)
    model_dir = work / "run"
    train_log = work / "train_log.txt"
    timings["train"] = timings.get("train", 0.0) + sh([
        sys.executable, "train.py", "--hints", f"--hint_p={a.hint_p}",
        f"--hint_max_patch={a.hint_max_patch}", f"--init_generator={a.init_generator}",
        "--hints_at_output" if a.hints_at_output else "--nohints_at_output",
        f"--generator={a.generator}", f"--gan={a.gan}",
        f"--loss={a.loss}", f"--data={','.join(shard_dirs)}", f"--data_weights={a.weights}",
        f"--lr_decay_steps={a.lr_decay_steps}", f"--model_dir={model_dir}",
        *([f"--lr_g={a.lr_g}"] if a.lr_g else []),
        f"--max_steps={a.steps}", f"--batch_size={a.batch_size}", f"--width={a.width}",
        f"--image_size={a.size}", f"--seed={a.seed}", "--log_every=50", "--image_every=1000",
        "--checkpoint_every=500"], train_log)
    timings["train_img_per_s"] = train_rate(train_log)
    timings_path.write_text(json.dumps(timings, indent=2))
    exported = work / "export"
    sh([sys.executable, "-m", "colorize.export", f"--model_dir={model_dir}",
        f"--output={exported}", "--overwrite",
        "--flip_average" if a.flip_average else "--noflip_average"], log)
    # held_out() links the held-out photos of photos/train and scenes/train.
    held = held_out(data_root, work)
    results = {"held_out": sweep(held[0].parent, [f.name for f in held], exported,
                                 work / "sweep_held_out", a.every, SELECT_HINTS, log)}
    if a.report:
        results["val"] = sweep(data_root, list(EVAL_SETS[:2]), exported, work / "sweep_val", 1,
                               "0,1,2,5,10,20,50,100", log)
    summary = {"config": vars(a), "timings_s": timings, "export_bytes": folder_size(exported),
               "sweeps": results}
    (work / "results.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

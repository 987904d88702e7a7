"""Quality of colour from a reference photo (colorize.reference) on pairs
of photos that share their colours, against gray and the automatic model.

    nice -n 10 python experiments/reference_quality.py [--every 5] [--scene_pairs 8]
    python experiments/reference_quality.py --sheet   # experiments/sheets/reference.png (+ WORK's scenes sheet)

Pairs:
  split:  each photo of photos/val cut in two: its left 45 % is the
          reference, its right 45 % the photo to colorize (every --every-th
          photo, sorted by path);
  scenes: scenes/val photos of the same category (the subfolder): photo
          2i is the reference for photo 2i + 1, --scene_pairs per category.
Per pair, one prediction of the reference model serves every variant:
  reference:          the method as eval --reference runs it;
  reference, no cut:  each pixel's most probable class (no graph cut), to
                      measure what global coherence does;
  reference + prior:  mixed with the automatic model by the classifier's
                      confidence (eval --reference --reference_prior);
  automatic:          the shipped network alone;
  gray:               zero chroma.
Every variant's ab is merged onto the photo's full-resolution L by eval's
own merge and scored by colorize.metrics.score. Writes
experiments/work_reference/<set>.json (per pair) and prints the means with
the paired differences' standard errors.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tqdm import tqdm  # noqa: E402

from colorize import (color, folders, imageio, inference, metrics, reference,  # noqa: E402
                      visualize)

DATA = REPO.parent / "shared" / "data"
WORK = REPO / "experiments" / "work_reference"
SHEET = REPO / "experiments" / "sheets" / "reference.png"
VARIANTS = ("reference", "reference, no cut", "reference + prior", "automatic", "gray")
SPLIT = 0.45


def split_pairs(every: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    root = DATA / "photos" / "val"
    pairs = []
    for rel in folders.list_images(root)[::every]:
        pairs.append((rel, *split(imageio.to_uint8(imageio.read_image(root / rel, keep_depth=True)))))
    return pairs


def scene_pairs(per_category: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    root = DATA / "scenes" / "val"
    pairs = []
    for category in sorted(p.name for p in root.iterdir() if p.is_dir()):
        names = folders.list_images(root / category)
        for i in range(min(per_category, len(names) // 2)):
            ref, target = (imageio.to_uint8(imageio.read_image(root / category / n, keep_depth=True))
                           for n in names[2 * i:2 * i + 2])
            pairs.append((f"{category}/{names[2 * i + 1]}", ref, target))
    return pairs


def variants(ref: np.ndarray, target: np.ndarray, network: inference.Model) -> dict:
    """Every variant's uint8 RGB colorization of target."""
    learnt = reference.learn([ref])
    size = learnt.config.size
    image = inference.as_image_tensor(target)
    l = np.asarray(color.denormalize_l(inference.network_input(target, size)))[..., 0]
    pred = reference.predict(learnt, l)
    cut, confidence = reference.class_colours(learnt, pred, reference.choose_classes(learnt, l, pred))
    no_cut, _ = reference.class_colours(learnt, pred, np.argmax(pred.probabilities, axis=1))
    net_in = tf.constant(inference.network_input(target, network.render_size)[None])
    net_ab = color.denormalize_ab(
        tf.image.resize(network.predict(net_in), [size, size])[0]).numpy().reshape(-1, 2)
    abs_ = {"reference": cut, "reference, no cut": no_cut,
            "reference + prior": confidence[:, None] * cut + (1 - confidence[:, None]) * net_ab,
            "automatic": net_ab, "gray": np.zeros_like(net_ab)}
    return {name: np.asarray(inference.merge(image, color.normalize_ab(
        tf.constant(ab.reshape(size, size, 2), tf.float32)))) for name, ab in abs_.items()}


def evaluate(name: str, pairs, network) -> list[dict]:
    rows = []
    for rel, ref, target in tqdm(pairs, desc=name, file=sys.stderr, dynamic_ncols=True):
        if metrics.mean_chroma(target) < 1.0:
            continue  # a gray photo: nothing to score against (as eval)
        try:
            results = variants(ref, target, network)
        except reference.ReferenceError as e:
            rows.append({"path": rel, "refused": str(e)})
            continue
        rows.append({"path": rel, **{v: metrics.score(results[v], target) for v in VARIANTS}})
    return rows


def summary(name: str, rows: list[dict]) -> None:
    scored = [r for r in rows if "refused" not in r]
    print(f"\n{name}: {len(scored)} pairs scored, {len(rows) - len(scored)} refused "
          "(gray reference)")
    print(f"{'':>20} | {'PSNR dB':>8} | {'AuC %':>7} | {'dCF':>7} | "
          f"{'PSNR - gray':>14} | {'AuC - gray':>13} | {'AuC - autom.':>13}")

    def stat(key, v, base=None):
        x = np.array([r[v][key] for r in scored], float)
        if base:
            x = x - np.array([r[base][key] for r in scored], float)
        finite = x[np.isfinite(x)]
        return finite.mean(), finite.std(ddof=1) / np.sqrt(len(finite))

    for v in VARIANTS:
        cells = [f"{stat(k, v)[0]:8.2f}" if k == "psnr" else f"{stat(k, v)[0]:7.2f}"
                 for k in ("psnr", "auc", "delta_colourfulness")]
        diffs = [stat("psnr", v, "gray"), stat("auc", v, "gray"), stat("auc", v, "automatic")]
        print(f"{v:>20} | " + " | ".join(cells) + " | "
              + " | ".join(f"{m:+6.2f} ± {se:4.2f}".rjust(w)
                           for (m, se), w in zip(diffs, (14, 13, 13))))


def split(photo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left 45 %, right 45 %) of a photo: a reference and a photo that
    share their colours."""
    width = photo.shape[1]
    cut = int(width * SPLIT)
    return photo[:, :cut], photo[:, width - cut:]


def skimage_pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """scikit-image's photos split in two: photos that may be published."""
    from skimage import data

    return [(name, *split(getattr(data, name)()[..., :3]))
            for name in ("chelsea", "coffee", "astronaut", "rocket")]


def write_sheets(network) -> None:
    """The committed sheet of skimage_pairs(), and the first scenes pair of
    each category on a sheet under WORK (the Intel scenes' licence is
    unclear: they stay out of the repository)."""
    write_sheet(network, skimage_pairs(), SHEET)
    write_sheet(network, scene_pairs(1), WORK / "reference_scenes.png")


def write_sheet(network, pairs, out: Path) -> None:
    """reference | gray | automatic | reference | reference + prior |
    original, one row per (name, reference, target) of pairs."""
    panel = 128

    def fit(rgb):
        return imageio.to_unit_float(imageio.resize(imageio.center_crop_square(rgb), panel, panel))

    rows = []
    for _, ref, target in pairs:
        results = variants(ref, target, network)
        rows.append([fit(ref), visualize.gray_of(fit(target)), fit(results["automatic"]),
                     fit(results["reference"]), fit(results["reference + prior"]), fit(target)])
    out.parent.mkdir(parents=True, exist_ok=True)
    imageio.write_image(out, visualize.comparison_sheet(rows))
    print(f"wrote {out}: rows {', '.join(name for name, _, _ in pairs)}; columns "
          "reference | gray | automatic | reference | reference + prior | original")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--every", type=int, default=5, help="split pairs: every n-th photo of photos/val")
    p.add_argument("--scene_pairs", type=int, default=8, help="scenes pairs per category")
    p.add_argument("--sets", nargs="+", default=["split", "scenes"])
    p.add_argument("--sheet", action="store_true", help="only write the comparison sheet")
    a = p.parse_args()
    if not DATA.exists():
        sys.exit(f"needs the photo sets in {DATA}")
    network = inference.shipped_model()
    if a.sheet:
        return write_sheets(network)
    WORK.mkdir(parents=True, exist_ok=True)
    for name in a.sets:
        pairs = split_pairs(a.every) if name == "split" else scene_pairs(a.scene_pairs)
        rows = evaluate(name, pairs, network)
        (WORK / f"{name}.json").write_text(json.dumps(rows, indent=1, default=float))
        summary(name, rows)


if __name__ == "__main__":
    main()

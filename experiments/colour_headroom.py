"""Where the shipped model's missing colour is, measured two ways on a
validation folder and a model's eval.py output for it:

    python experiments/colour_headroom.py --input=../shared/data/photos/val \
        --colorized=experiments/work/s11/eval/photos_val_shipped

1. bottleneck: each photo's own ab at --size px, as the builder stores
   it for training (builder.prepare_lab), merged back with fullres.merge
   (the same upsampling and Lab -> sRGB as eval.py): what the render size
   alone costs, with a network that predicts its targets exactly;
2. chroma gain: the colorized photos' ab multiplied by k (1, 1.25, 1.5, 2)
   and scored again: what turning the saturation up (a fix of the symptom)
   does to PSNR and AuC while it closes the colourfulness gap. k = 1 is
   the colorized photos re-encoded through Lab (within 0.1 dB of eval.py's
   own scores: a second uint8 rounding).
Prints the project's metrics (colorize.metrics.score) for each row.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

GAINS = (1.0, 1.25, 1.5, 2.0)


def bottleneck(rgb, size: int):
    """The photo with its own ab as the builder stores it for training (the
    whole photo squashed to size x size), merged back as eval.py merges a
    network's ab: a network that predicts its targets exactly."""
    import tensorflow as tf

    from colorize import color, fullres
    from colorize.data import builder

    ab_small = color.normalize_ab(builder.prepare_lab(rgb, size)[..., 1:])
    return fullres.merge(tf.constant(rgb), tf.constant(ab_small)).numpy()


def with_gain(rgb, k: float):
    import numpy as np

    from colorize import color

    lab = color.rgb_to_lab_np(rgb / 255.0)
    lab[..., 1:] *= k
    return np.round(color.lab_to_rgb_np(lab) * 255.0).astype(np.uint8)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", required=True, help="the original photos")
    p.add_argument("--colorized", default=None,
                   help="eval.py's output folder for --input (same relative paths)")
    p.add_argument("--size", type=int, default=128, help="the network's render size")
    a = p.parse_args()
    from colorize import folders, imageio, metrics

    src = Path(a.input)
    names = folders.list_images(src)
    if not names:
        print(f"skipping: no photos in {src}")
        return 0
    rows: dict[str, list] = {f"bottleneck {a.size} px": []}
    if a.colorized:
        rows.update({f"gain {k}": [] for k in GAINS})
    for rel in names:
        true = imageio.to_uint8(imageio.read_image(src / rel))
        rows[f"bottleneck {a.size} px"].append(metrics.score(bottleneck(true, a.size), true))
        if a.colorized:
            pred = imageio.to_uint8(imageio.read_image(Path(a.colorized) / rel))
            for k in GAINS:
                rows[f"gain {k}"].append(metrics.score(with_gain(pred, k), true))
    print(f"{len(names)} photos of {src}")
    print(f"{'row':<18} {'PSNR':>7} {'AuC':>7} {'colourf.':>9} {'ΔCF':>7}")
    for name, scores in rows.items():
        m = metrics.summarize(scores)
        print(f"{name:<18} {m['psnr']:7.2f} {m['auc']:7.2f} {m['colourfulness']:9.2f} "
              f"{m['delta_colourfulness']:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

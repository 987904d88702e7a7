"""How far one user's stroke reaches: the change from the automatic
result that scribbles make at pixels far from every stroke, for each rule
of the correction's pull (colorize.scribbles.Correction).

    python experiments/scribble_locality.py [--shifts=2e-4:1,2e-4:3:5:1,0]

scikit-image's cat (chelsea, 451 x 300, shipped with scikit-image) and
coffee, with a) one red stroke 12 px wide across the left of the cat's
face (the web page's browser test draws the same), b) two strokes, and
c) five strokes of the photo's own colours, each 12 px wide. "Far": more
than a quarter of the photo's shorter side from every marked pixel.
Prints, per rule and case, the mean and the largest change there (8-bit
RGB levels).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def stroke_marks(photo: np.ndarray, strokes: list[tuple], colours: list | None):
    """Marks of thick lines ((x0, y0, x1, y1) in fractions of the photo)
    painted in colours (RGB) or, with None, in the photo's own colours."""
    from colorize import marks as marks_lib
    h, w = photo.shape[:2]
    gray = cv2.cvtColor(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    marked = gray.copy()
    for i, (x0, y0, x1, y1) in enumerate(strokes):
        mask = np.zeros((h, w), np.uint8)
        cv2.line(mask, (int(x0 * w), int(y0 * h)), (int(x1 * w), int(y1 * h)), 1, 12)
        paint = photo if colours is None else np.broadcast_to(np.uint8(colours[i]), photo.shape)
        marked[mask > 0] = paint[mask > 0]
    return marks_lib.from_marked_copy(marked, gray), gray


CASES = {
    "cat, one red stroke": ("chelsea", [(0.25, 0.35, 0.4, 0.55)], [(220, 30, 30)]),
    "cat, two strokes": ("chelsea", [(0.25, 0.35, 0.4, 0.55), (0.7, 0.2, 0.8, 0.3)],
                         [(220, 30, 30), (30, 160, 40)]),
    "coffee, five true-colour strokes": ("coffee", [(0.35, 0.35, 0.4, 0.4), (0.5, 0.5, 0.55, 0.5),
                                                    (0.4, 0.6, 0.45, 0.65), (0.5, 0.3, 0.55, 0.35),
                                                    (0.6, 0.55, 0.62, 0.6)], None),
}


def prepared_cases() -> dict:
    """Each case's gray photo, marks, network ab, automatic result and
    far mask, computed once (the model loaded once) for every rule."""
    import skimage.data

    from colorize import inference, scribbles
    model = inference.shipped_model(with_guided=False)  # the correction of the general model
    prepared = {}
    for name, (photo_name, strokes, colours) in CASES.items():
        marks, gray = stroke_marks(getattr(skimage.data, photo_name)(), strokes, colours)
        unmarked = np.ones(gray.shape[:2], np.uint8)
        unmarked.reshape(-1)[marks.index] = 0
        far = cv2.distanceTransform(unmarked, cv2.DIST_L2, 5) > min(gray.shape[:2]) / 4
        prepared[name] = (gray, marks, scribbles.network_ab([gray], model)[0],
                          np.asarray(inference.colorize_batch([gray], model)[0]), far)
    return prepared


def far_change(rule: str, case: tuple) -> tuple[float, int]:
    """Mean and largest change from the automatic result at the far pixels."""
    from colorize import scribbles
    gray, marks, ab_small, automatic, far = case
    out = scribbles.colorize(gray, marks, ab_small, scribbles.Correction.parse(rule))
    change = np.abs(out.astype(int) - automatic.astype(int)).max(-1)[far]
    return float(change.mean()), int(change.max())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shifts", default="2e-4:1,2e-4:3:5:1,0",
                   help="ONE[:POWER[:TRUST_K[:TRUST_POWER]]] rules (scribbles.Correction.parse)")
    a = p.parse_args()
    from colorize import quiet
    quiet.setup_process()
    cases = prepared_cases()
    print("| rule | " + " | ".join(cases) + " |")
    print("|---|" + "---:|" * len(cases))
    for rule in a.shifts.split(","):
        cells = [far_change(rule, case) for case in cases.values()]
        print(f"| {rule} | " + " | ".join(f"{m:.2f} (max {x})" for m, x in cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Zhang et al. 2017's simulated user ("Real-time user-guided image
colorization with learned deep priors", section 4): photos resized to
256 x 256, N hints each a 6 x 6 patch painted with its mean true ab
(colorize.marks.simulated_marks), mean PSNR for each N and each method.

    nice -n 10 python experiments/scribble_sweep.py --out=experiments/work/scribbles
    # with a guided model (train.py --hints; docs/guided.md): two more columns
    nice -n 10 python experiments/scribble_sweep.py --guided=exported/guided --out=...
    # choosing the correction's shift, on training photos:
    nice -n 10 python experiments/scribble_sweep.py --folders=photos/train --every=40 \
        --methods=automatic,levin --shifts=0,1e-4,2e-4:1,4e-4:2 --out=experiments/work/shift

Methods (METHODS; a new colorizer adds one function of a Case): gray, the
automatic model (eval.py without marks), Levin alone and the model
corrected by the hints (eval.py --marks), plus variants measured for
RESULTS.md: Levin in YIQ (the authors' colour space), Levin with the
least-squares normal equations, and the correction at other shifts. With
--guided (a SavedModel of a run trained with --hints): the guided network
with the hints as its input (eval.py --marks --norefine: "guided") and its
colours corrected by the same hints (eval.py --marks: "guided+scribbles"),
and on request (--methods) the correction of a base mixing the two
networks (GUIDED_EXTRA). --blends adds the mean of methods' colours
(e.g. levin|model+scribbles). Every photo's hints are drawn from a seed
of its index and N, so methods and runs see the same hints. Writes
sweep.json (per photo) and prints the table of means per folder.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

N_HINTS = (0, 1, 2, 5, 10, 20, 50, 100)
SIZE = 256
FOLDERS = ("photos/val", "scenes/val")
# rgb2ntsc's matrix (MATLAB), the authors' colour space.
RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


@dataclasses.dataclass
class Case:
    """One photo with its N hints: what every method may use."""
    rgb: np.ndarray  # uint8 [SIZE, SIZE, 3], the truth (methods read its L only)
    lab: np.ndarray  # its Lab
    n: int
    seed: tuple  # the hints' seed (photo index, N)
    marks: object  # colorize.marks.Marks, from the true ab
    automatic: np.ndarray  # eval.py's output without marks (uint8)
    gray: np.ndarray  # L alone (uint8)
    ab_small: np.ndarray  # the network's ab for the photo
    # Methods' results for this case: a blend reuses its columns' (a Levin
    # solve each) instead of solving again.
    outputs: dict = dataclasses.field(default_factory=dict, repr=False)


def _levin(case: Case, least_squares: bool = False) -> np.ndarray:
    from colorize import scribbles
    if not case.marks.count:
        return case.gray  # what eval.py --model=levin gives a photo without marks
    size = case.rgb.shape[:2]
    mask, ab = scribbles.work_marks(case.marks, size)
    out = scribbles.merge(case.rgb, scribbles.solve_ab(
        scribbles.work_lightness(case.rgb, size), mask, ab, None, least_squares=least_squares))
    scribbles.paint_marks(out, case.rgb, case.marks)
    return out


def _levin_yiq(case: Case) -> np.ndarray:
    """The authors' own route: Y for the affinities, I and Q propagated
    (hints painted with the patch's mean true IQ, same positions)."""
    from colorize import levin, marks
    if not case.n:
        return case.gray
    yiq = (case.rgb.astype(np.float64) / 255.0) @ RGB_TO_YIQ.T
    hints = marks.simulated_marks(yiq, case.n, np.random.default_rng(case.seed))
    mask = np.zeros(SIZE * SIZE, bool)
    mask[hints.index] = True
    values = np.zeros((SIZE * SIZE, 2))
    values[hints.index] = hints.ab
    iq = levin.propagate(yiq[..., 0], mask.reshape(SIZE, SIZE), values.reshape(SIZE, SIZE, 2))
    rgb = np.concatenate([yiq[..., :1], iq], axis=-1) @ np.linalg.inv(RGB_TO_YIQ).T
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def _correction(rule: str | None):
    """eval's correction (None) or the rule "ONE[:POWER[:TRUST_K[:TRUST_POWER]]]"."""
    from colorize import scribbles
    return scribbles.Correction() if rule is None else scribbles.Correction.parse(rule)


def _corrected(case: Case, rule: str | None = None) -> np.ndarray:
    """rule: None (eval's), or "ONE[:POWER[:TRUST_K[:TRUST_POWER]]]"
    (scribbles.Correction.parse)."""
    from colorize import scribbles
    if not case.marks.count:
        return case.automatic  # eval.py --marks: a photo without marks
    return scribbles.colorize(case.rgb, case.marks, case.ab_small, _correction(rule))


# The guided model of --guided, loaded once in each worker (load_guided).
_GUIDED = None


def _guided(case: Case, refine: bool, rule: str | None = None) -> np.ndarray:
    """The guided model as eval.py --marks runs it (refine) or with
    --norefine; a photo without hints gets its automatic answer. rule: the
    refining correction (None: eval's)."""
    from colorize import scribbles
    marks = case.marks if case.marks.count else None
    return scribbles.colorize_batch([case.rgb], [marks], _GUIDED, refine=refine,
                                    correction=_correction(rule))[0]


def _guided_ab(case: Case, hinted: bool = True) -> np.ndarray:
    """The guided network's ab for the photo, with its hints or none, to
    mix with the general model's (case.ab_small): both at one size."""
    from colorize import inference
    marks = [case.marks] if hinted and case.marks.count else None
    ab = np.asarray(inference.network_ab([case.rgb], _GUIDED, marks))[0]
    if ab.shape != case.ab_small.shape:
        raise ValueError(f"the guided model renders at {ab.shape[0]} px and the general model at "
                         f"{case.ab_small.shape[0]}: mixing their ab needs one size")
    return ab


def _corrected_base(case: Case, base: np.ndarray) -> np.ndarray:
    """eval's correction of another network ab than the general model's."""
    from colorize import scribbles
    if not case.marks.count:
        return case.automatic
    return scribbles.colorize(case.rgb, case.marks, base)


def _output(case: Case, name: str) -> np.ndarray:
    """METHODS[name]'s result for the case, computed once."""
    if name not in case.outputs:
        case.outputs[name] = METHODS[name](case)
    return case.outputs[name]


def _blend(case: Case, names: list[str]) -> np.ndarray:
    """The mean of the named methods' ab on the photo's own L."""
    from colorize import color, imageio
    lab = np.mean([color.rgb_to_lab_np(_output(case, n) / 255.0) for n in names], axis=0)
    lab[..., 0] = case.lab[..., 0]
    return imageio.to_uint8(color.lab_to_rgb_np(lab))


GUIDED_METHODS = ("guided", "guided+scribbles")
# Two more ways to use a guided net with the general model, measured in
# RESULTS.md ("Guided generators"): the base the marks correct is the
# general model's ab plus what the hints change in the guided net's, or the
# mean of the two networks' ab (the correction is linear in its base, so
# this is the mean of model+scribbles and guided+scribbles).
GUIDED_EXTRA = ("guided-effect+scribbles", "mean+scribbles")
METHODS = {
    "guided": lambda case: _guided(case, refine=False),
    "guided+scribbles": lambda case: _guided(case, refine=True),
    "guided-effect+scribbles": lambda case: _corrected_base(
        case, case.ab_small + _guided_ab(case) - _guided_ab(case, hinted=False)),
    "mean+scribbles": lambda case: _corrected_base(case, (case.ab_small + _guided_ab(case)) / 2),
    "gray": lambda case: case.gray,
    "automatic": lambda case: case.automatic,
    "levin": _levin,
    "model+scribbles": _corrected,
    "levin-yiq": _levin_yiq,
    "levin-least-squares": lambda case: _levin(case, least_squares=True),
}


def _methods(names: list[str], shifts: list[str], guided_rules: list[str],
             blends: list[str] = ()) -> dict:
    chosen = {name: METHODS[name] for name in names}
    for shift in shifts:
        chosen[f"model+scribbles@{shift}"] = (lambda s: lambda case: _corrected(case, s))(shift)
    for rule in guided_rules:
        chosen[f"guided+scribbles@{rule}"] = (
            lambda r: lambda case: _guided(case, refine=True, rule=r))(rule)
    for blend in blends:
        chosen[blend] = (lambda b: lambda case: _blend(case, b.split("|")))(blend)
    return chosen


def load_photos(data: Path, folders: list[str], every: int) -> list[tuple[str, np.ndarray]]:
    """(name, uint8 RGB at SIZE x SIZE) for every `every`-th photo of each
    folder, in sorted order."""
    from colorize import folders as folders_lib, imageio
    photos = []
    for folder in folders:
        names = folders_lib.list_images(data / folder)[::every]
        for rel in names:
            rgb = imageio.read_image(data / folder / rel, keep_depth=True)
            photos.append((f"{folder}/{rel}", imageio.to_uint8(imageio.resize(rgb, SIZE, SIZE))))
    return photos


def make_case(index: int, rgb, automatic, gray, ab_small, n: int) -> Case:
    """Photo number index with its n simulated hints (seeded by (index, n),
    so that every method and run sees the same hints)."""
    from colorize import color, marks
    lab = color.rgb_to_lab_np(rgb / 255.0)
    seed = (index, n)
    hints = marks.simulated_marks(lab, n, np.random.default_rng(seed))
    return Case(rgb, lab, n, seed, hints, automatic, gray, ab_small)


def network_outputs(photos: list[np.ndarray], model, gray_model):
    """(automatic, gray, the network's ab) of each photo (uint8 [SIZE,
    SIZE, 3]): the network in batches, as eval.py runs it."""
    from colorize import inference, scribbles
    for i in range(0, len(photos), 32):
        chunk = photos[i:i + 32]
        for auto, gray, ab in zip(inference.colorize_batch(chunk, model),
                                  inference.colorize_batch(chunk, gray_model),
                                  scribbles.network_ab(chunk, model)):
            yield np.array(auto), np.array(gray), ab


def _score_photo(job) -> dict:
    from colorize import metrics
    index, name, rgb, automatic, gray, ab_small, n_hints, methods = job
    chosen = _methods(*methods)
    row = {"photo": name}
    for n in n_hints:
        case = make_case(index, rgb, automatic, gray, ab_small, n)
        for method, fn in chosen.items():  # blends last, reusing the columns before them
            if method not in case.outputs:
                case.outputs[method] = fn(case)
            row[f"{method}/{n}"] = metrics.psnr(case.outputs[method], rgb)
    return row


def load_guided(path: str) -> None:
    """Load the guided SavedModel that the guided methods run."""
    from colorize import inference
    global _GUIDED
    _GUIDED = inference.saved_model(path)
    if not _GUIDED.guided:
        raise SystemExit(f"--guided={path} takes no hints (not trained with --hints)")


def _worker_init(guided: str | None = None):
    from colorize import quiet  # noqa: F401 - TF's start-up lines, once per worker
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    if guided:
        load_guided(guided)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data"),
                   help="folder holding --folders")
    p.add_argument("--folders", default=",".join(FOLDERS))
    p.add_argument("--every", type=int, default=1, help="every k-th photo of each folder")
    p.add_argument("--n_hints", default=",".join(map(str, N_HINTS)))
    p.add_argument("--methods", default="gray,automatic,levin,model+scribbles")
    p.add_argument("--shifts", default="", help="extra model+scribbles columns at these shifts: "
                   "ONE[:POWER[:TRUST_K[:TRUST_POWER]]] (scribbles.Correction; a lone number: a fixed shift)")
    p.add_argument("--saved_model", default=None, help="default: the shipped model")
    p.add_argument("--guided", default=None, help="a guided SavedModel (train.py --hints): "
                   "adds the columns " + " and ".join(GUIDED_METHODS))
    p.add_argument("--guided_shifts", default="", help="extra guided+scribbles columns with "
                   "these corrections (as --shifts)")
    p.add_argument("--blends", default="", help="extra columns, each the mean ab of methods "
                   "joined by |, e.g. levin|model+scribbles")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", required=True)
    p.add_argument("--table", action="store_true", help="print the table of --out's sweep.json")
    a = p.parse_args()
    if a.table:
        print(format_table(json.loads((Path(a.out) / "sweep.json").read_text())))
        return 0
    from tqdm import tqdm

    from colorize import inference, scribbles

    data, out = Path(a.data), Path(a.out)
    folders = a.folders.split(",")
    missing = [f for f in folders if not (data / f).is_dir()]
    if missing:
        print(f"no such folders in {data}: {missing}", file=sys.stderr)
        return 2
    n_hints = [int(n) for n in a.n_hints.split(",")]
    methods = ([m for m in a.methods.split(",") if m],
               [s for s in a.shifts.split(",") if s],
               [s for s in a.guided_shifts.split(",") if s],
               [b for b in a.blends.split(",") if b])
    if a.guided:
        methods[0].extend(m for m in GUIDED_METHODS if m not in methods[0])
    named = methods[0] + [m for b in methods[3] for m in b.split("|")]
    if not a.guided and (any(m in GUIDED_METHODS + GUIDED_EXTRA for m in named) or methods[2]):
        print(f"{', '.join(GUIDED_METHODS + GUIDED_EXTRA)} and --guided_shifts need --guided",
              file=sys.stderr)
        return 2
    unknown = [m for m in named if m not in METHODS]
    if unknown:
        print(f"unknown methods {unknown}; known: {sorted(METHODS)}", file=sys.stderr)
        return 2
    start = time.time()
    photos = load_photos(data, folders, a.every)
    model = (inference.saved_model(a.saved_model) if a.saved_model
             else inference.shipped_model(with_guided=False))  # --guided is its own column
    gray_model = inference.gray_model()
    outputs = network_outputs([rgb for _, rgb in photos], model, gray_model)
    jobs = [(i, name, rgb, auto, gray, ab, n_hints, methods)
            for i, ((name, rgb), (auto, gray, ab)) in enumerate(zip(photos, outputs))]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(a.workers, initializer=_worker_init, initargs=(a.guided,)) as pool:
        rows = list(tqdm(pool.imap(_score_photo, jobs), total=len(jobs), unit="photo",
                         file=sys.stderr))
    out.mkdir(parents=True, exist_ok=True)
    columns = [k for k in rows[0] if k != "photo"]
    table = {}
    for folder in folders + ["all"]:
        chosen = [r for r in rows if folder == "all" or r["photo"].startswith(folder + "/")]
        table[folder] = {"photos": len(chosen),
                         **{c: float(np.mean([r[c] for r in chosen])) for c in columns}}
    doc = {"folders": folders, "every": a.every, "n_hints": n_hints, "size": SIZE,
           "seconds": round(time.time() - start, 1), "model": model.name, "guided": a.guided,
           "correction": dataclasses.asdict(scribbles.Correction()), "mean": table, "per_photo": rows}
    (out / "sweep.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(format_table(doc))
    return 0


def format_table(doc: dict) -> str:
    """Markdown: one row per folder and method, one column per N."""
    n_hints = doc["n_hints"]
    lines = []
    for folder, means in doc["mean"].items():
        lines.append(f"\n{folder} ({means['photos']} photos), mean PSNR (dB):\n")
        lines.append("| method | " + " | ".join(f"N={n}" for n in n_hints) + " |")
        lines.append("|---|" + "---:|" * len(n_hints))
        methods = dict.fromkeys(c.rsplit("/", 1)[0] for c in means if "/" in c)
        for m in methods:
            lines.append(f"| {m} | " + " | ".join(f"{means[f'{m}/{n}']:.2f}" for n in n_hints)
                         + " |")
    rows = doc["per_photo"]
    for a, b in (("model+scribbles", "automatic"), ("model+scribbles", "levin")):
        if f"{a}/{n_hints[0]}" in rows[0] and f"{b}/{n_hints[0]}" in rows[0]:
            lines.append(f"\n{a} - {b}, all photos: mean dB (standard error) and photos where {a} "
                         "is at least as good:\n")
            cells = []
            for n in n_hints:
                d = np.array([r[f"{a}/{n}"] - r[f"{b}/{n}"] for r in rows])
                d = d[np.isfinite(d)]
                se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
                cells.append(f"N={n}: {d.mean():+.2f} ({se:.2f}), {(d >= 0).sum()}/{len(d)}")
            lines.append("; ".join(cells))
    lines.append(f"\n{doc['seconds']} s")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

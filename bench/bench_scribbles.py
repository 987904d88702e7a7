"""Colour from scribbles: speed and agreement with the authors' reference,
end-to-end time in eval.py, and peak memory.

    python bench/bench_scribbles.py [--photo FILE] [--strokes 36] [--skip_48mp]

1. A 1 MP photo with --strokes scribbles, Levin's method alone, three ways
   side by side: scipy's direct sparse solve of the authors' system at the
   photo's resolution (what the paper used for stills: the reference),
   pyamg's AIR multigrid (the fastest of pyamg's solvers on this system)
   at the same resolution, and colorize.scribbles (the solve at
   WORK_PIXELS, merged onto full-resolution L). Prints each one's seconds,
   the speed-up over the reference and the mean Lab distance (CIE76) of
   each output to the reference's (both as uint8 RGB); then the solve
   alone at WORK_PIXELS, the code's system against the paper's
   least-squares normal equations.
2. eval.py (evaluate.run, one process) on three 12 MP JPEG photos with
   marked copies, after a warm-up on a small photo: seconds per photo
   with the marks, and without (the automatic model), decoding and
   encoding included; then where the time goes, stage by stage.
3. eval.py's evaluate.run in a fresh process on a 48 MP photo, with a
   marked copy and without: its peak resident memory (VmHWM, Linux).
The photo is --photo (default: a BSDS photo from ../shared/data when
present, else a synthetic one), made gray, resized to each size; strokes
are random 5 px lines in random colours.
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def base_photo(path: str | None) -> np.ndarray:
    """A gray uint8 RGB photo."""
    if path is None:
        found = sorted(glob.glob(str(REPO.parent / "shared" / "data" / "bsds" / "train" / "*.jpg")))
        path = found[0] if found else None
    if path is None:
        rng = np.random.default_rng(0)
        gray = cv2.resize(rng.integers(0, 256, (12, 16), np.uint8), (640, 480),
                          interpolation=cv2.INTER_CUBIC)
    else:
        gray = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2GRAY)
    return np.repeat(gray[..., None], 3, axis=2)


def scribbled(photo: np.ndarray, h: int, w: int, strokes: int, seed: int = 0):
    """(gray photo at h x w, its marked copy with `strokes` random lines)."""
    gray = cv2.resize(photo, (w, h), interpolation=cv2.INTER_CUBIC)
    return gray, painted(gray, strokes, seed)


def painted(gray: np.ndarray, strokes: int, seed: int = 0) -> np.ndarray:
    """A copy of gray with `strokes` random lines in random colours."""
    h, w = gray.shape[:2]
    marked = gray.copy()
    rng = np.random.default_rng(seed)
    scale = max(1, round(min(h, w) / 500))
    for _ in range(strokes):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        dx, dy = rng.integers(-w // 10, w // 10 + 1, 2)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.line(marked, (x, y), (int(x + dx), int(y + dy)), colour, 5 * scale)
    return marked


def _lab(rgb_u8):
    from colorize import color
    return color.rgb_to_lab_np(rgb_u8.astype(np.float32) / 255.0)


def _full_res(gray, marks, ab) -> np.ndarray:
    """The photo's L with ab [H, W, 2] -> uint8 RGB (the reference's output)."""
    from colorize import color, imageio
    lab = _lab(gray)
    lab[..., 1:] = ab
    return imageio.to_uint8(color.lab_to_rgb_np(lab))


def levin_case(photo, strokes: int, side: int = 1000):
    """The 1 MP case: (gray, marked copy, marks, marked [H * W] bool,
    values [H * W, 2] (the marks' ab), intensities y [H, W] in [0, 1])."""
    from colorize import marks as marks_lib
    gray, marked = scribbled(photo, side, side, strokes)
    marks = marks_lib.from_marked_copy(marked, gray)
    mask = np.zeros(side * side, bool)
    mask[marks.index] = True
    values = np.zeros((side * side, 2))
    values[marks.index] = marks.ab
    return gray, marked, marks, mask, values, _lab(gray)[..., 0] / 100.0


def agreement(photo, strokes: int, amg: bool, work_pixels: list[int]) -> None:
    try:
        import pyamg  # the "bench" extra
    except ImportError:
        print("  (pyamg is not installed: pip install .[bench] for the multigrid row)")
        amg = False

    from colorize import levin, marks as marks_lib, scribbles

    gray, marked, marks, mask, values, y = levin_case(photo, strokes)
    h, w = gray.shape[:2]
    print(f"1 MP ({w}x{h}), {strokes} strokes, {marks.count} marked pixels; Levin's method alone")
    scribbles.colorize(gray[:64, :64], marks_lib.from_marked_copy(marked[:64, :64], gray[:64, :64]))

    start = time.perf_counter()
    ab_ref = levin.propagate(y, mask.reshape(h, w), values.reshape(h, w, 2))
    t_ref = time.perf_counter() - start
    ref = _full_res(gray, marks, ab_ref)
    rows = [("direct solve at 1 MP (reference)", t_ref, ref)]
    for pixels in work_pixels:
        start = time.perf_counter()
        ours = scribbles.colorize(gray, marks, work_pixels=pixels)
        side = "x".join(map(str, scribbles.work_size(h, w, pixels)[::-1]))
        rows.append((f"colorize.scribbles, solve at {side}", time.perf_counter() - start, ours))
    if amg:
        start = time.perf_counter()
        a = levin.affinity_matrix(y, mask.reshape(h, w))
        a_ff, rhs = levin._reduced(a, mask, values)
        solver = pyamg.air_solver(a_ff)
        ab = np.where(mask[:, None], values, 0.0)
        ab[~mask] = np.stack([solver.solve(rhs[:, c], tol=1e-8, accel="gmres")
                              for c in range(2)], -1)
        rows.append(("pyamg AIR multigrid at 1 MP", time.perf_counter() - start,
                     _full_res(gray, marks, ab.reshape(h, w, 2))))
    ref_lab = _lab(ref)
    print(f"  {'method':36s} {'seconds':>8s} {'speed-up':>9s} {'mean dE to ref':>15s}")
    for name, t, out in rows:
        d = np.linalg.norm(_lab(out) - ref_lab, axis=-1)
        print(f"  {name:36s} {t:8.2f} {t_ref / t:8.1f}x {d.mean():15.3f}")


def systems(photo, strokes: int) -> None:
    """The solve at WORK_PIXELS: the code's system against the paper's
    least-squares normal equations (same marks, same solver)."""
    from colorize import levin, marks as marks_lib, scribbles
    h, w = scribbles.work_size(1000, 1000)
    gray, marked = scribbled(photo, h, w, strokes)
    marks = marks_lib.from_marked_copy(marked, gray)
    mask, ab = scribbles.work_marks(marks, (h, w))
    y = _lab(gray)[..., 0] / 100.0
    print(f"  the solve alone at {w}x{h}:")
    for name, kw in (("the code's system", {}), ("least-squares normal equations",
                                                 {"least_squares": True})):
        best = min(_timed(lambda: levin.propagate(y, mask, ab, **kw)) for _ in range(3))
        print(f"    {name:32s} {best:6.2f} s")


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _write_case(folder: Path, photo, size, strokes, count, seed=0):
    from colorize import imageio
    for i in range(count):
        gray, _ = scribbled(photo, *size, 0)
        path = folder / "photos" / f"p{i}.jpg"
        imageio.write_image(path, gray)
        # Painted on the photo as decoded (a JPEG is not its pixels):
        # what a user's paint program opens.
        decoded = imageio.read_image(path, keep_depth=True)
        imageio.write_image(folder / "marked" / f"p{i}.png", painted(decoded, strokes, seed + i))


def end_to_end(photo, strokes: int) -> None:
    from colorize import evaluate
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _write_case(tmp / "warm", photo, (300, 400), strokes, 1)
        _write_case(tmp / "big", photo, (3000, 4000), strokes, 3)
        for marks in (True, False):
            cfg = dict(progress=False, marks=str(tmp / "warm" / "marked") if marks else None)
            evaluate.run(evaluate.EvalConfig(input=str(tmp / "warm" / "photos"),
                                             output=str(tmp / f"warm_out{marks}"), **cfg))
            if marks:
                cfg["marks"] = str(tmp / "big" / "marked")
            start = time.perf_counter()
            summary = evaluate.run(evaluate.EvalConfig(input=str(tmp / "big" / "photos"),
                                                       output=str(tmp / f"out{marks}"), **cfg))
            per = (time.perf_counter() - start) / summary["written"]
            what = (f"with marks ({summary['marks']['marked_pixels'] // 3} marked pixels a photo)"
                    if marks else "without marks (automatic)")
            print(f"  eval.py, 12 MP JPEG, {what}: {per:.2f} s per photo")


def stages(photo, strokes: int) -> None:
    """Where a 12 MP photo's time goes with marks (best of 3, after a
    warm-up), beside the automatic path in the same process."""
    from colorize import imageio, inference, marks as marks_lib, scribbles
    with tempfile.TemporaryDirectory() as tmp:
        _write_case(Path(tmp), photo, (3000, 4000), strokes, 1)
        image = imageio.read_image(Path(tmp) / "photos" / "p0.jpg", keep_depth=True)
        model = inference.shipped_model()
        steps = {
            "read marks (decode, compare)":
                lambda st: st.update(marks=marks_lib.read_marks(Path(tmp) / "marked" / "p0.png",
                                                                image)),
            "network": lambda st: st.update(ab_small=scribbles.network_ab([image], model)[0]),
            "solve at 256 px": lambda st: st.update(ab=scribbles.solve_ab(
                scribbles.work_lightness(image, st["size"]), *scribbles.work_marks(
                    st["marks"], st["size"]), scribbles.model_ab(st["ab_small"], st["size"]))),
            "merge onto full-res L": lambda st: st.update(rgb=scribbles.merge(image, st["ab"])),
            "paint the marked pixels": lambda st: scribbles.paint_marks(st["rgb"], image,
                                                                         st["marks"]),
            "automatic path (network + merge)": lambda st: inference.colorize_batch([image], model),
        }
        best = dict.fromkeys(steps, float("inf"))
        for _ in range(4):  # the first is the warm-up
            state = {"size": scribbles.work_size(*image.shape[:2])}
            for name, step in steps.items():
                start = time.perf_counter()
                step(state)
                best[name] = min(best[name], time.perf_counter() - start)
        print("  12 MP with marks, by stage (best of 3):")
        for name, t in best.items():
            print(f"    {name:36s} {t:6.2f} s")


def peak_48mp(photo, strokes: int) -> None:
    """evaluate.run in a fresh process, with and without the marks; the
    child reports its own peak (worker.peak_resident_bytes)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _write_case(tmp, photo, (6000, 8000), strokes, 1)
        for marks in (str(tmp / "marked"), None):
            code = (f"import sys; sys.path.insert(0, {str(REPO)!r}); "
                    "from colorize import evaluate; "
                    f"evaluate.run(evaluate.EvalConfig(input={str(tmp / 'photos')!r}, "
                    f"output={str(tmp / ('out' + str(bool(marks))))!r}, marks={marks!r}, "
                    "progress=False)); "
                    f"sys.path.insert(0, {str(REPO / 'bench')!r}); "
                    "from worker import peak_resident_bytes; print(peak_resident_bytes())")
            done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                  text=True)
            gib = int(done.stdout.strip().splitlines()[-1]) / 2 ** 30
            print(f"  eval.py {'with' if marks else 'without'} marks, one 48 MP photo, fresh "
                  f"process: peak resident memory {gib:.2f} GiB")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photo", default=None)
    p.add_argument("--strokes", type=int, default=36)
    p.add_argument("--skip_amg", action="store_true", help="skip the multigrid row (slow)")
    p.add_argument("--skip_48mp", action="store_true")
    p.add_argument("--work_pixels", type=int, nargs="+", default=[1 << 16, 1 << 18],
                   help="the solve's resolutions to compare (scribbles.WORK_PIXELS: 65536)")
    p.add_argument("--agreement_only", action="store_true", help="part 1 only")
    p.add_argument("--memory_only", action="store_true", help="part 3 only")
    p.add_argument("--stages_only", action="store_true", help="part 2's stages only")
    a = p.parse_args()
    photo = base_photo(a.photo)
    if a.memory_only:
        peak_48mp(photo, a.strokes)
        return 0
    if a.stages_only:
        stages(photo, a.strokes)
        return 0
    agreement(photo, a.strokes, not a.skip_amg, a.work_pixels)
    if a.agreement_only:
        return 0
    systems(photo, a.strokes)
    end_to_end(photo, a.strokes)
    stages(photo, a.strokes)
    if not a.skip_48mp:
        peak_48mp(photo, a.strokes)
    return 0


if __name__ == "__main__":
    sys.exit(main())

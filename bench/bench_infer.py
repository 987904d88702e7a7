"""Inference throughput (megapixels/s) and peak memory for 0.25, 1, 12 and
48 MP photos.

    python bench/bench_infer.py [--model_dir RUN | --saved_model DIR] [--sizes 0.25 1 12 48]

Three ways to colorize a photo, each timed in a fresh process per photo size
so that its peak resident memory (VmHWM: TF, the model, the photo and
the runs) is its own:
  colorize:        in memory, inference.colorize_batch on the decoded uint8
                   photo (its network input via imageio.network_rgb, the generator at its
                   render size, ab upsampled and merged at full resolution, uint8 out);
  end to end:      the same plus decoding the JPEG file and encoding the
                   output JPEG, as eval.py does per photo;
  serving_default: the SavedModel's signature on the uint8 photo.
Times are the best of --repeats runs after a warm-up (the machine is shared:
other jobs only ever slow a run down); the warm-up's extra time is the
tracing and XLA compiling, paid once per process.

Without a model it exports an untrained full-width U-Net at --render_size
(the weights do not change the cost) and runs all three from that
SavedModel. With --model_dir, colorize and end to end restore the checkpoint
(as eval.py does); with --saved_model they use its predict_ab (as eval.py
does). serving_default is always timed on a fresh export by this version's
code (re-exported from --saved_model), not on whatever code wrote it.
"""
import argparse
import json
import os
import sys
import tempfile
import time

from worker import peak_resident_bytes, run_json  # bench/worker.py, beside this script

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

SIZES_MP = {0.25: (433, 577), 1.0: (866, 1155), 12.0: (3000, 4000), 48.0: (6000, 8000)}
MODES = ("colorize", "end to end", "serving_default")


def synthetic_photo(h, w, seed=0):
    """Smooth colour fields plus noise, built in uint8 so that a 48 MP photo
    costs no float copies: compresses like a photo."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    noise = np.empty_like(img)
    cv2.randn(noise, 128, 8)
    return cv2.addWeighted(img, 1.0, noise, 1.0, -128.0)


def export_untrained(path, render_size):
    """An untrained full-width U-Net as colorize.export would write it."""
    import tensorflow as tf

    from colorize import export, models

    module = export.ColorizerModule(models.unet_generator(render_size), render_size)
    tf.saved_model.save(module, path, signatures={"serving_default": module.colorize})


def timed(fn, repeats):
    start = time.perf_counter()
    fn()  # warm-up: tracing and XLA compiling
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return first, min(times)


def worker(a):
    """One mode on one photo; prints a JSON line."""
    import tensorflow as tf

    from colorize import imageio, inference

    src = a.photo
    dst = os.path.join(os.path.dirname(src), f"out_{os.getpid()}.jpg")
    photo = imageio.read_image(src, keep_depth=True)
    if a.mode == "serving_default":
        serve = tf.saved_model.load(a.serving_model).signatures["serving_default"]
        image = tf.constant(photo)
        fn = lambda: np.asarray(serve(image=image)["rgb"])  # noqa: E731
    else:
        model = (inference.checkpoint_model(a.model_dir) if a.model_dir
                 else inference.saved_model(a.saved_model))
        if a.mode == "colorize":
            fn = lambda: inference.colorize_batch([photo], model)  # noqa: E731
        else:
            del photo  # read inside each run instead

            def fn():
                image = imageio.read_image(src, keep_depth=True)
                imageio.write_image(dst, inference.colorize_batch([image], model)[0])
    first, best = timed(fn, a.repeats)
    peak = peak_resident_bytes()
    print(json.dumps({"first": first, "best": best, "peak": peak}))


def run_worker(a, mode, photo, serving_model):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--mode", mode,
           "--photo", photo, "--serving_model", serving_model, "--repeats", str(a.repeats)]
    cmd += ["--model_dir", a.model_dir] if a.model_dir else ["--saved_model", a.saved_model]
    return run_json(cmd, f"{mode} on {photo}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model_dir")
    p.add_argument("--saved_model")
    p.add_argument("--render_size", type=int, default=128,
                   help="the untrained U-Net's size (the shipped model's is 128)")
    p.add_argument("--sizes", type=float, nargs="+", default=list(SIZES_MP))
    p.add_argument("--repeats", type=int, default=3)
    # internal: one measurement in a fresh process
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    p.add_argument("--photo", help=argparse.SUPPRESS)
    p.add_argument("--serving_model", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(a)
    if a.model_dir and a.saved_model:
        p.error("pass --model_dir or --saved_model, not both")
    with tempfile.TemporaryDirectory() as tmp:
        from colorize import export

        serving_model = os.path.join(tmp, "exported")
        if a.saved_model:
            export.reexport(a.saved_model, serving_model)
            name = f"{a.saved_model} (serving_default: re-exported)"
        elif a.model_dir:
            export.export(a.model_dir, serving_model)
            name = f"run {a.model_dir} (serving_default: a fresh export)"
        else:
            export_untrained(serving_model, a.render_size)
            a.saved_model = serving_model
            name = f"untrained full-width U-Net at {a.render_size} px"
        print(f"{os.cpu_count()} cores; model: {name}")
        print(f"best of {a.repeats} runs after a warm-up; peak = max resident memory of a "
              "fresh process per photo size and mode")
        print(f"{'photo':>16} | " + " | ".join(f"{m:^27}" for m in MODES))
        print(f"{'':>16} | " + " | ".join(f"{'MP/s':>7} {'s':>7} {'peak GiB':>9}"
                                           for _ in MODES))
        first_calls = []
        for mp in a.sizes:
            h, w = SIZES_MP[mp]
            photo = os.path.join(tmp, f"photo_{mp:g}mp.jpg")
            cv2.imwrite(photo, synthetic_photo(h, w), [cv2.IMWRITE_JPEG_QUALITY, 90])
            cells = []
            for mode in MODES:
                r = run_worker(a, mode, photo, serving_model)
                cells.append(f"{h * w / 1e6 / r['best']:7.2f} {r['best']:7.3f} "
                             f"{r['peak'] / 2**30:9.2f}")
                first_calls.append(r["first"] - r["best"])
            print(f"{f'{mp:g} MP {w}x{h}':>16} | " + " | ".join(cells), flush=True)
        print(f"warm-up (tracing, XLA compiling) added {min(first_calls):.1f}-"
              f"{max(first_calls):.1f} s to a process's first photo")


if __name__ == "__main__":
    main()

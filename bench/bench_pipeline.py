"""Benchmark: the tf.data pipeline over built shards vs decoding JPEGs with
OpenCV in a plain Python loop, side by side, at each stored size.

    python bench/bench_pipeline.py [--data ../shared/data/celeba/train]

Builds shards (all files, one worker per core) into a temporary folder at
each size, then measures
  (a) make_dataset(training=True, batch 64, image_size = size): images/s after a
      warm-up (which includes filling the shuffle buffer);
  (a') the same with a simulated user's hints drawn per example
      (make_dataset(hints=...), train.py --hints: Zhang et al.'s sampling);
  (b) cv2.imread + resize (whole photo, squashed) + colorize.color.rgb_to_lab_np over
      the same JPEG files in a Python loop: images/s.
Not a test: it reads 8000 files twice per size and takes a minute or two.
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

DEFAULT_DATA = "../shared/data/celeba/train"  # relative to the repo root


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=DEFAULT_DATA,
                   help="folder of photos; a relative path is taken from the repo root")
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--pipeline_images", type=int, default=3000, help="images timed through tf.data")
    p.add_argument("--warmup_batches", type=int, default=5)
    p.add_argument("--opencv_images", type=int, default=1000, help="files timed in the OpenCV loop")
    p.add_argument("--shards", type=int, default=8)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    return p.parse_args()


def bench_pipeline(shard_dir: str, size: int, batch: int, n_images: int, warmup: int,
                   hints: bool = False) -> float:
    from colorize import hints as hints_lib
    from colorize.data import make_dataset
    ds = make_dataset(shard_dir, batch, training=True, image_size=size, seed=0,
                      hints=hints_lib.Sampling() if hints else None)
    it = iter(ds)
    for _ in range(warmup):
        next(it)
    n_batches = -(-n_images // batch)
    start = time.perf_counter()
    for _ in range(n_batches):
        l, ab, *_ = next(it)
    _ = float(l[0, 0, 0, 0]) + float(ab[0, 0, 0, 0])  # make sure the last batch is materialised
    rate = n_batches * batch / (time.perf_counter() - start)
    # Stop tf.data's background threads before anything else is timed: on
    # 2 cores they would otherwise slow the OpenCV loop down.
    del it, ds, l, ab
    gc.collect()
    return rate


def bench_opencv(files: list[Path], size: int) -> float:
    from colorize import color

    def convert(path):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        rgb = bgr[..., ::-1]
        rgb = cv2.resize(np.ascontiguousarray(rgb), (size, size), interpolation=cv2.INTER_AREA)
        return color.rgb_to_lab_np(rgb.astype(np.float32) / 255.0)

    for path in files[:20]:  # warm-up
        convert(path)
    start = time.perf_counter()
    for path in files:
        lab = convert(path)
        assert lab.shape == (size, size, 3)
    return len(files) / (time.perf_counter() - start)


def main() -> int:
    args = parse_args()
    data = Path(args.data)
    if not data.is_absolute():
        data = (REPO_ROOT / data).resolve()
    if not data.is_dir():
        print(f"skipping the benchmark: photo folder {data} not found (pass --data=DIR)")
        return 0

    from colorize import folders
    from colorize.data import builder

    files = [data / rel for rel in folders.list_images(data)]
    jpegs = [f for f in files if f.suffix.lower() in (".jpg", ".jpeg")][: args.opencv_images]
    print(f"data: {data} ({len(files)} files), {os.cpu_count()} cores, build workers {args.workers}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-shards-") as tmp:
        for size in args.sizes:
            out = os.path.join(tmp, f"s{size}")
            cfg = builder.BuildConfig(input=str(data), output=out, size=size, shards=args.shards,
                                      workers=args.workers, progress=False)
            t0 = time.perf_counter()
            manifest = builder.build(cfg)
            build_s = time.perf_counter() - t0
            c = manifest["counts"]
            print(f"  built {size} px: {c['train']} train, {c['val']} val, {c['gray']} gray, "
                  f"{c['skipped']} skipped in {build_s:.1f} s ({c['found'] / build_s:.0f} img/s)")
            opencv = bench_opencv(jpegs, size)
            tfdata = bench_pipeline(out, size, args.batch, args.pipeline_images, args.warmup_batches)
            guided = bench_pipeline(out, size, args.batch, args.pipeline_images,
                                    args.warmup_batches, hints=True)
            rows.append((size, c["found"] / build_s, tfdata, guided, opencv))

    print()
    print(f"{'size':>6} | {'build img/s':>11} | {'tf.data img/s':>13} | {'+ hints img/s':>13} | "
          f"{'OpenCV loop img/s':>17} | {'tf.data / OpenCV':>16}")
    print(f"{'-' * 6}-+-{'-' * 11}-+-{'-' * 13}-+-{'-' * 13}-+-{'-' * 17}-+-{'-' * 16}")
    for size, build_rate, tfdata, guided, opencv in rows:
        print(f"{size:>6} | {build_rate:>11.0f} | {tfdata:>13.0f} | {guided:>13.0f} | "
              f"{opencv:>17.0f} | {tfdata / opencv:>15.1f}x")
    print(f"(tf.data: make_dataset(training=True, batch {args.batch}, image_size = size), "
          f"{-(-args.pipeline_images // args.batch) * args.batch} images after {args.warmup_batches} "
          f"warm-up batches; OpenCV: imread + resize + rgb_to_lab_np, "
          f"{len(jpegs)} files, one Python loop)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

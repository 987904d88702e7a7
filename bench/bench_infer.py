"""Inference throughput in megapixels/s for 0.25, 1 and 12 MP photos.

    python bench/bench_infer.py [--model_dir RUN | --saved_model DIR]

Without a model it builds an untrained full-width U-Net at 64 px: the
weights do not change the cost. Two figures per size, side by side:
  colorize: in memory, photo RGB -> Lab at full resolution, the generator
            at its render size, ab upsampled and merged, uint8 out;
  end to end: the same plus decoding the JPEG file and encoding the output
            JPEG (what eval.py does per photo).
"""
import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from colorize import imageio, inference, models  # noqa: E402

SIZES_MP = {0.25: (433, 577), 1.0: (866, 1155), 12.0: (3000, 4000)}


def synthetic_photo(h, w, seed=0):
    """Smooth colour fields plus texture: compresses like a photo."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 1, (8, 8, 3)).astype(np.float32)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img += rng.normal(0, 0.03, (h, w, 3)).astype(np.float32)
    return np.clip(img, 0, 1)


def load(a) -> inference.Model:
    if a.saved_model:
        return inference.saved_model(a.saved_model)
    if a.model_dir:
        return inference.checkpoint_model(a.model_dir)
    g = models.unet_generator(64)

    @tf.function(input_signature=[tf.TensorSpec([None, 64, 64, 1], tf.float32)])
    def predict(l):
        return g(l, training=False)

    return inference.Model(predict, 64, "untrained unet width 1 @ 64 px")


def timed(fn, repeats):
    fn()  # warm-up (tracing)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model_dir")
    p.add_argument("--saved_model")
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    model = load(a)
    print(f"{os.cpu_count()} cores, model: {model.name}, render size {model.render_size}")
    print(f"{'photo':>14} | {'colorize MP/s':>13} | {'end to end MP/s':>15}")
    with tempfile.TemporaryDirectory() as tmp:
        for mp, (h, w) in SIZES_MP.items():
            rgb = synthetic_photo(h, w)
            src, dst = os.path.join(tmp, "in.jpg"), os.path.join(tmp, "out.jpg")
            imageio.write_image(src, rgb)
            t_col = timed(lambda: inference.colorize_batch([rgb], model), a.repeats)
            t_e2e = timed(lambda: imageio.write_image(
                dst, inference.colorize_batch([imageio.read_image(src)], model)[0]), a.repeats)
            megapixels = h * w / 1e6
            print(f"{f'{mp:g} MP {w}x{h}':>14} | {megapixels / t_col:13.2f} | "
                  f"{megapixels / t_e2e:15.2f}", flush=True)


if __name__ == "__main__":
    main()

"""Start-up cost: how long a user waits before the first training step and
before the first colorized photo, and what the wait is made of.

    python bench/bench_startup.py [--repeats 3]

Runs, each in a fresh process (the median of --repeats):
  import     python -c "import colorize.trainer" (TensorFlow, Keras and the package);
  train      train.py on the built-in sample, one step (--max_steps=1): from
             process start to the end of the first step, which includes
             building the models and tracing the compiled step;
  eval       eval.py with the shipped model on one 0.25 MP photo.
The built-in sample is built first if missing (not timed).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    from colorize.data import sample

    data = sample.ensure_sample()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        photo_dir = os.path.join(tmp, "in")
        os.makedirs(photo_dir)
        from colorize import imageio
        from skimage import data as skdata

        imageio.write_image(os.path.join(photo_dir, "coffee.png"), skdata.coffee())  # 0.24 MP
        commands = {  # run i -> command (fresh output folders per run)
            "import": lambda i: [py, "-c", "import colorize.trainer"],
            "train (1 step)": lambda i: [py, "train.py", f"--data={data}", "--max_steps=1",
                                         f"--model_dir={tmp}/run{i}", "--width=0.25",
                                         "--batch_size=8"],
            "eval (1 photo)": lambda i: [py, "eval.py", f"--input={photo_dir}",
                                         f"--output={tmp}/out{i}"],
        }
        print(f"{os.cpu_count()} cores; median of {a.repeats} fresh processes")
        for name, cmd in commands.items():
            times = [timed(cmd(i)) for i in range(a.repeats)]
            print(f"{name:>16}: {statistics.median(times):5.1f} s", flush=True)


if __name__ == "__main__":
    main()

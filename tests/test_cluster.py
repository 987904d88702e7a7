"""train.py --strategy=multi_worker: two worker processes on 127.0.0.1 (free
ports chosen at run time), against one process with the same global batch;
resume across the cluster; a dead worker stops the other."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from colorize import inference
from colorize.data import sample

REPO = Path(__file__).resolve().parents[1]
# float32 and synchronized BatchNorm: 2 workers x 2 examples must compute
# what 1 process x 4 does, up to float summation order.
FLAGS = ["--gan=lsgan", "--loss=l1", "--image_size=32", "--width=0.0625", "--batch_size=4",
         "--sync_bn", "--precision=float32", "--checkpoint_every=1", "--log_every=1",
         "--summary_every=1", "--image_every=1", "--shuffle_buffer=16", "--seed=1"]


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return sample.ensure_sample(str(tmp_path_factory.mktemp("sample")))


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def env_for(tmp_dir, **extra):
    tmp_dir.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2",
            "TMPDIR": str(tmp_dir), **extra}


def start_workers(shards, model_dir, steps, tmp_path, extra=()):
    """Both workers of a 2-worker cluster, each with its own TMPDIR."""
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(
            [sys.executable, str(REPO / "train.py"), "--strategy=multi_worker", f"--data={shards}",
             f"--model_dir={model_dir}", f"--max_steps={steps}", *FLAGS, *extra],
            env=env_for(tmp_path / f"tmp{index}", TF_CONFIG=config),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def finish(procs, timeout=300):
    results = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        results.append((p.returncode, err))
    return results


def fail_with(results, expected, chars=2000):
    """Fail, showing each worker's exit status and the end of its stderr,
    where the cause is (an assertion's message of the whole stderr would be
    cut in its middle)."""
    pytest.fail("\n".join(f"--- worker {i} exited {code} (expected: {expected}):\n"
                           f"...{err[-chars:]}" for i, (code, err) in enumerate(results)),
                pytrace=False)


def expect_codes(results, code):
    if any(c != code for c, _ in results):
        fail_with(results, code)


def expect_running(procs):
    """Both workers must still be training (the one left is killed to read its stderr)."""
    if any(p.poll() is not None for p in procs):
        for p in procs:
            p.kill()
        fail_with(finish(procs), "still running")


def generator_weights(model_dir):
    generator, _, _ = inference.load_generator(str(model_dir))
    return [np.array(w) for w in generator.weights]


def test_two_workers_equal_one_process_and_resume(shards, tmp_path):
    single = tmp_path / "single"
    proc = subprocess.run(
        [sys.executable, str(REPO / "train.py"), f"--data={shards}", f"--model_dir={single}",
         "--max_steps=4", *FLAGS], env=env_for(tmp_path / "tmp_single"),
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    multi = tmp_path / "multi"
    for steps in (2, 4):  # 2 steps, then the whole cluster resumes to 4
        results = finish(start_workers(shards, multi, steps, tmp_path))
        expect_codes(results, 0)
        # TensorFlow's INFO line per traced all-reduce is dropped, not the rest
        assert all("Collective all_reduce tensors" not in err and "MultiWorkerMirroredStrategy"
                   in err for _, err in results)
    for a, b in zip(generator_weights(single), generator_weights(multi)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)

    # Only the chief wrote: checkpoints, config.json, summaries and samples
    # in model_dir; worker 1's checkpoint folder (in its TMPDIR) is gone.
    assert (multi / "ckpt-4.index").exists() and (multi / "config.json").exists()
    assert list((multi / "samples").glob("*.png")) and list((multi / "train").iterdir())
    assert list((tmp_path / "tmp1").iterdir()) == []
    assert list((tmp_path / "tmp0").iterdir()) == []


def latest_step(model_dir):
    return max((int(p.name.split("-")[1].split(".")[0]) for p in model_dir.glob("ckpt-*.index")),
               default=0)


def threads(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("Threads:")[1].split()[0])


def test_a_dead_worker_stops_the_other_with_a_clear_message(shards, tmp_path):
    model_dir = tmp_path / "run"
    procs = start_workers(shards, model_dir, 100_000, tmp_path)
    try:
        deadline = time.monotonic() + 240
        # Both are training, at step 20 or later (checkpoints are written
        # every step and only the last 3 kept: ckpt-20 itself may be gone).
        while latest_step(model_dir) < 20:
            assert time.monotonic() < deadline, "no checkpoint from the cluster"
            expect_running(procs)
            time.sleep(0.5)
        # A worker's threads stay bounded: with a timeout on the strategy's
        # collectives TensorFlow kept a sleeping thread per collective for
        # all of it (4,495 threads by step 20, and the PID limit before 100).
        assert max(threads(p.pid) for p in procs) < 1000
        procs[1].send_signal(signal.SIGKILL)
        start = time.monotonic()
        _, err = procs[0].communicate(timeout=180)
        waited = time.monotonic() - start
    finally:
        for p in procs:
            p.kill()
    assert procs[0].returncode == 3, err[-3000:]
    assert "the cluster lost a worker" in err and "start every worker again" in err
    assert waited < 120  # found by missed heartbeats, well before --worker_timeout


def test_sigterm_to_one_worker_stops_the_cluster_at_one_checkpoint(shards, tmp_path):
    """A preemption notice reaches one worker: the workers agree to stop
    after the same step, the chief checkpoints it, both exit 143."""
    model_dir = tmp_path / "run"
    procs = start_workers(shards, model_dir, 100_000, tmp_path,
                          extra=["--checkpoint_every=1000", "--image_every=1000"])
    try:
        deadline = time.monotonic() + 240
        while not list(model_dir.glob("train/events*")):  # the first summary: training
            assert time.monotonic() < deadline, "no summary from the cluster"
            expect_running(procs)
            time.sleep(0.5)
        time.sleep(3)  # a few steps in
        procs[1].send_signal(signal.SIGTERM)
        results = finish(procs, timeout=180)
    finally:
        for p in procs:
            p.kill()
    expect_codes(results, 143)
    saved = sorted(model_dir.glob("ckpt-*.index"))
    assert len(saved) == 1 and "interrupted: SIGTERM at step" in results[1][1]
    step = int(saved[0].name.split("-")[1].split(".")[0])
    assert f"at step {step}:" in results[0][1] and f"at step {step}:" in results[1][1]


def test_the_watchdog_ends_a_call_that_waits_past_worker_timeout_with_one_thread():
    """--worker_timeout on the host: a call that returns in time is let be;
    one that does not is reported (train.py's watchdog exits with status 3
    and the lost-worker message); a training call is allowed twice its
    slowest predecessor on top; watching many calls adds no thread."""
    from colorize import cluster
    import threading

    expired = []
    before = threading.active_count()
    dog = cluster.Watchdog(0.5, "unused", expire=lambda what, allowed: expired.append(
        (what, round(allowed, 1))))
    for step in range(200):  # calls that return in time
        with dog.watch(f"call {step}"):
            pass
    assert threading.active_count() == before + 1 and expired == []
    with dog.watch("the first training call", computes=True):  # allowed 0.5 + 2 x 0.5
        time.sleep(0.5)
    with dog.watch("a training call", computes=True):  # allowed 0.5 + 2 x 0.5
        time.sleep(1.0)
    assert expired == []
    with dog.watch("the stuck agreement"):
        time.sleep(1.0)
    assert expired == [("the stuck agreement", 0.5)]
    with dog.watch("a stuck training call", computes=True):  # allowed 0.5 + 2 x 1.0
        time.sleep(3.0)
    assert expired[1] == ("a stuck training call", 2.5)


def test_the_watchdogs_message_names_the_timeout_and_the_checkpoint(tmp_path):
    """What a stuck cluster prints before exiting 3 (run in a child: the
    watchdog ends the process)."""
    code = ("import time; from colorize import cluster; "
            f"dog = cluster.Watchdog(0.5, {str(tmp_path)!r})\n"
            "with dog.watch('the agreement between training calls'):\n    time.sleep(30)")
    proc = subprocess.run([sys.executable, "-c", code], env=env_for(tmp_path / "tmp"),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3
    assert ("the cluster lost a worker (the agreement between training calls did not finish "
            "within 0.5 s (--worker_timeout=0.5 s of waiting): a worker is stuck" in proc.stderr)
    assert "The last checkpoint is none: start every worker again" in proc.stderr

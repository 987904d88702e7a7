"""The entry points' exit: the status is kept and what was printed is not
lost, though TensorFlow's teardown is skipped."""
import os
import subprocess
import sys

from colorize import shutdown

CODE = ("import sys, logging; from colorize import shutdown; "
        "print('written', end=''); logging.getLogger('x').warning('logged'); "
        "sys.stderr.write('err'); r = shutdown.exit_now(5); print(' returned', r)")


def run(env_extra: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env.update(env_extra)
    # stdout to a pipe: block-buffered, so an exit that skipped the flush would lose it.
    return subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                          env=env, timeout=120)


def test_exit_now_keeps_the_status_and_flushes_the_output():
    proc = run({})
    assert proc.returncode == 5
    assert proc.stdout == "written"  # nothing ran after exit_now
    assert "logged" in proc.stderr and "err" in proc.stderr


def test_under_a_cluster_the_process_exits_normally():
    proc = run({"TF_CONFIG": '{"cluster": {}}'})
    assert proc.returncode == 0
    assert proc.stdout == "written returned 5\n"


def test_uses_s3_recognises_s3_uris_only():
    assert shutdown.uses_s3("/local", "s3://bucket/run")
    assert not shutdown.uses_s3("/local", None, "gs://b/x")

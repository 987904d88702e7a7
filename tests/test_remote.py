"""Remote storage end to end: shards built into s3://, training that reads
them and checkpoints to s3://, a resume, and an export from there, against
a local S3-compatible server (moto) on 127.0.0.1."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import COLORS, colour_image, write_rgb

REPO = Path(__file__).resolve().parents[1]
BUCKET = "colorize-test"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """The environment for processes that use s3:// (the variables a user
    sets for any S3-compatible endpoint), with the test bucket created."""
    try:
        import boto3
        import moto  # noqa: F401
    except ImportError as e:
        pytest.skip(f"the S3 test needs moto[server] (pip install -e '.[test]'): {e}")
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "server.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                               "-p", str(port)], stdout=log, stderr=log)
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2",
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_REGION": "us-east-1", "S3_ENDPOINT": endpoint, "S3_USE_HTTPS": "0",
           "S3_VERIFY_SSL": "0"}
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    deadline = time.monotonic() + 30
    while True:
        try:
            client.create_bucket(Bucket=BUCKET)
            break
        except Exception as e:  # noqa: BLE001 - not up yet
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.skip(f"the local S3 server (moto) did not start: {e}")
            time.sleep(0.2)
    yield env, client
    server.terminate()
    server.wait(timeout=30)
    log.close()


def run(cmd, env, timeout=300):
    proc = subprocess.run([sys.executable, *cmd], env=env, capture_output=True, text=True,
                          timeout=timeout)
    return proc


def objects(client, prefix):
    listing = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"][len(prefix):] for o in listing.get("Contents", []))


def test_build_train_resume_and_export_on_s3(s3, tmp_path):
    env, client = s3
    photos = tmp_path / "photos"
    for i, rgb in enumerate(list(COLORS.values()) * 2):
        write_rgb(photos / f"p{i}.png", colour_image(40, 48, rgb, seed=i))

    built = run(["-m", "colorize.data", f"--input={photos}", f"--output=s3://{BUCKET}/shards",
                 "--size=32", "--shards=2", "--val_fraction=0.2", "--workers=1"], env)
    assert built.returncode == 0, built.stderr[-3000:]  # 0, not tensorflow-io's exit abort
    shards = objects(client, "shards/")
    assert "manifest.json" in shards and any(n.startswith("train-") for n in shards)
    assert not any(n.startswith(".tmp-") for n in shards)

    train = ["train.py", f"--data=s3://{BUCKET}/shards", f"--model_dir=s3://{BUCKET}/run",
             "--gan=lsgan", "--image_size=32", "--width=0.0625", "--batch_size=2",
             "--checkpoint_every=2", "--image_every=2", "--log_every=1", "--shuffle_buffer=8"]
    first = run([*train, "--max_steps=2"], env)
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = run([*train, "--max_steps=4"], env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed from s3://{BUCKET}/run/ckpt-2 at step 2" in resumed.stderr
    run_files = objects(client, "run/")
    for name in ("config.json", "checkpoint", "ckpt-4.index", "samples/step_0000004.png"):
        assert name in run_files, run_files
    assert any(n.startswith("train/events.out.tfevents") for n in run_files)

    exported = run(["-m", "colorize.export", f"--model_dir=s3://{BUCKET}/run",
                    f"--output={tmp_path / 'exported'}"], env)
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert (tmp_path / "exported" / "saved_model.pb").exists()
    assert f"exported s3://{BUCKET}/run/ckpt-4" in exported.stdout

    # An export to remote storage, served from there, and re-exported from
    # there to there (in place).
    remote = f"s3://{BUCKET}/exported"
    exported = run(["-m", "colorize.export", f"--model_dir=s3://{BUCKET}/run",
                    f"--output={remote}"], env)
    assert exported.returncode == 0, exported.stderr[-3000:]
    first = objects(client, "exported/")
    assert "saved_model.pb" in first and any(n.startswith("variables/") for n in first)
    evaluated = run(["eval.py", f"--saved_model={remote}", f"--input={photos}",
                     f"--output={tmp_path / 'colorized'}"], env)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert len(list((tmp_path / "colorized").glob("*.png"))) == len(list(photos.glob("*.png")))
    again = run(["-m", "colorize.export", f"--saved_model={remote}", f"--output={remote}",
                 "--flip_average"], env)
    assert again.returncode != 0 and "--overwrite" in again.stderr
    again = run(["-m", "colorize.export", f"--saved_model={remote}", f"--output={remote}",
                 "--flip_average", "--overwrite"], env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert objects(client, "exported/") == first
    # os._exit: tensorflow-io 0.37 aborts at exit after S3 use (colorize.shutdown)
    loaded = run(["-c", f"import os, tensorflow as tf, tensorflow_io; print(bool(tf.saved_model."
                        f"load('{remote}').flip_average.numpy()), flush=True); os._exit(0)"], env)
    assert loaded.stdout.strip() == "True", loaded.stderr[-3000:]


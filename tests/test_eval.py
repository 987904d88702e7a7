"""eval.py and the SavedModel export on a tiny trained run."""
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow as tf

from colorize import color, config as config_lib, evaluate, export, imageio, inference, signals, trainer
from colorize.data import sample
from tests.conftest import colour_image, write_rgb

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    """A generator trained for 3 steps on the built-in sample (32 px)."""
    data = sample.ensure_sample(str(tmp_path_factory.mktemp("sample")))
    model_dir = tmp_path_factory.mktemp("run")
    cfg = config_lib.TrainConfig(data=data, model_dir=str(model_dir), gan="none", loss="l1",
                                 image_size=32, width=1 / 16, batch_size=2, max_steps=3,
                                 checkpoint_every=1)
    trainer.train(cfg, strategy=tf.distribute.MirroredStrategy(["/cpu:0"]))
    return str(model_dir)


@pytest.fixture(scope="session")
def exported(run_dir, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("export") / "model")
    export.export(run_dir, out)
    return out


@pytest.fixture
def photos(tmp_path):
    """Colour photos of awkward sizes (PNG: lossless), one gray, one nested,
    plus three bad files."""
    root = tmp_path / "in"
    sizes = {"wide.png": (30, 75), "tall.png": (81, 20), "tiny.png": (5, 7),
             "sub/dir/square.png": (64, 64), "big.png": (300, 410)}
    for i, (rel, (h, w)) in enumerate(sizes.items()):
        write_rgb(root / rel, colour_image(h, w, (150 - 20 * i, 90 + 15 * i, 60 + 30 * i), seed=i))
    cv2.imwrite(str(root / "gray.png"), np.full((20, 30), 128, np.uint8))
    (root / "empty.jpg").write_bytes(b"")
    (root / "junk.png").write_text("not an image")
    (root / "notes.txt").write_text("ignored: not an image extension")
    return root, sizes


def cfg_for(run_dir, root, out, **kw):
    return evaluate.EvalConfig(input=str(root), output=str(out), model_dir=run_dir,
                               progress=False, **kw)


def test_outputs_keep_size_paths_and_lightness(run_dir, photos, tmp_path):
    root, sizes = photos
    out = tmp_path / "out"
    summary = evaluate.run(cfg_for(run_dir, root, out, batch_size=3))
    assert summary["written"] == 6 and summary["found"] == 8
    assert sorted(u["path"] for u in summary["skipped"]) == ["empty.jpg", "junk.png"]
    assert summary["ignored"] == 1  # notes.txt
    assert evaluate.exit_status(summary) == 1
    for rel, (h, w) in sizes.items():
        src = imageio.read_image(root / rel)
        res = imageio.read_image(out / rel)
        assert res.shape == (h, w, 3)
        l_in = color.rgb_to_lab_np(src)[..., 0]
        l_out = color.rgb_to_lab_np(res)[..., 0]
        # 8-bit rounding of each RGB channel moves L by well under 1 unit.
        assert np.abs(l_out - l_in).max() < 1.0, rel
    assert imageio.read_image(out / "gray.png").shape == (20, 30, 3)
    assert not any(p.name.endswith(".tmp") for p in out.rglob("*"))
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == sorted(
        ["wide.png", "tall.png", "tiny.png", "square.png", "big.png", "gray.png", "empty.jpg",
         "junk.png", "notes.txt"])  # nothing written inside --input


def test_existing_outputs_are_kept_unless_overwrite(run_dir, photos, tmp_path):
    root, _ = photos
    out = tmp_path / "out"
    write_rgb(out / "wide.png", np.zeros((2, 2, 3), np.uint8))
    summary = evaluate.run(cfg_for(run_dir, root, out))
    assert summary["skipped_existing"] == 1
    assert imageio.read_image(out / "wide.png").shape == (2, 2, 3)
    summary = evaluate.run(cfg_for(run_dir, root, out, overwrite=True))
    assert summary["skipped_existing"] == 0
    assert imageio.read_image(out / "wide.png").shape == (30, 75, 3)


def test_refuses_output_inside_input_and_missing_model(run_dir, photos):
    root, _ = photos
    with pytest.raises(evaluate.EvalError, match="must not be inside --input"):
        evaluate.run(cfg_for(run_dir, root, root / "colorized"))
    with pytest.raises(evaluate.EvalError, match="--step needs --model_dir"):
        evaluate.run(evaluate.EvalConfig(input=str(root), output=str(root.parent / "o"), step=3))
    with pytest.raises(FileNotFoundError, match="no checkpoint for step 99"):
        evaluate.run(cfg_for(run_dir, root, root.parent / "o", step=99))


def test_refuses_a_named_pipe_as_input(run_dir, tmp_path):
    os.mkfifo(tmp_path / "pipe.jpg")
    with pytest.raises(evaluate.EvalError, match="--input is a named pipe"):
        evaluate.run(cfg_for(run_dir, tmp_path / "pipe.jpg", tmp_path / "out"))


def test_refuses_an_output_that_would_land_inside_the_input(run_dir, tmp_path):
    """--input inside --output: out/p/a.png (for the input's p/a.png) would
    overwrite the input's own a.png."""
    root = tmp_path / "out" / "p"
    write_rgb(root / "a.png", colour_image(8, 8, (200, 30, 30)))
    write_rgb(root / "p" / "a.png", colour_image(8, 8, (30, 30, 200)))
    with pytest.raises(evaluate.EvalError, match="p/a.png would land inside --input"):
        evaluate.run(cfg_for(run_dir, root, tmp_path / "out"))
    evaluate.run(cfg_for(run_dir, root / "p", tmp_path / "out"))  # no output lands in p/p


def test_batches_stop_at_batch_size_or_batch_pixels(photos, tmp_path, monkeypatch):
    """--batch_size photos per generator call, fewer once a batch holds
    BATCH_PIXELS pixels (so memory does not grow with --batch_size)."""
    root, _ = photos
    calls = []

    def predict(l):
        calls.append(int(l.shape[0]))
        return tf.zeros(tf.concat([tf.shape(l)[:3], [2]], axis=0))

    monkeypatch.setattr(evaluate, "load_model", lambda cfg: inference.Model(predict, 16, "count"))
    cfg = evaluate.EvalConfig(input=str(root), output=str(tmp_path / "a"), batch_size=8,
                              progress=False)
    evaluate.run(cfg)
    assert calls == [6]  # the six readable photos
    calls.clear()
    monkeypatch.setattr(evaluate, "BATCH_PIXELS", 3000)
    evaluate.run(dataclasses.replace(cfg, output=str(tmp_path / "b")))
    # sorted: big (123000 px) | gray (600), sub/dir/square (4096) | tall (1620),
    # tiny (35), wide (2250)
    assert calls == [1, 2, 3]


def test_metrics_files_and_gray_baseline(run_dir, photos, tmp_path):
    root, sizes = photos
    out = tmp_path / "gray"
    summary = evaluate.run(evaluate.EvalConfig(input=str(root), output=str(out), model="gray",
                                               metrics=True, grid=True, progress=False))
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["model"] == "gray" and doc["mean"]["count"] == len(sizes)
    assert doc["gray_inputs_not_scored"] == ["gray.png"]
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("path,width,height,psnr,ssim,auc") and len(rows) == 1 + len(sizes)
    # The gray baseline's output has no chroma and no colourfulness.
    res = imageio.read_image(out / "wide.png")
    assert np.abs(color.rgb_to_lab_np(res)[..., 1:]).max() < 1.0
    assert all(abs(r["colourfulness"]) < 1.0 for r in doc["per_image"])
    assert summary["metrics"]["delta_colourfulness"] < -5  # the originals are colourful
    assert len(summary["grid_sheets"]) == 1 and Path(summary["grid_sheets"][0]).exists()


def test_checkpoint_and_saved_model_give_the_same_pixels(run_dir, exported, photos, tmp_path):
    root, sizes = photos
    a, b = tmp_path / "ckpt", tmp_path / "sm"
    evaluate.run(cfg_for(run_dir, root, a))
    evaluate.run(evaluate.EvalConfig(input=str(root), output=str(b), saved_model=exported,
                                     progress=False))
    for rel in sizes:
        np.testing.assert_array_equal(cv2.imread(str(a / rel)), cv2.imread(str(b / rel)))


CLEAN_PROCESS = """
import sys, numpy as np, cv2, tensorflow as tf
m = tf.saved_model.load(sys.argv[1])
serve = m.signatures["serving_default"]
for path in sys.argv[2:]:
    bgr = cv2.imread(path)
    rgb = serve(image=tf.constant(bgr[..., ::-1].copy()))["rgb"].numpy()
    np.save(path + ".npy", rgb)
gray = serve(image=tf.zeros([9, 13, 1], tf.uint8))["rgb"]
assert gray.shape == (9, 13, 3), gray.shape
ab = m.signatures["predict_ab"](l=tf.zeros([2, 32, 32, 1]))["ab"]
assert ab.shape == (2, 32, 32, 2), ab.shape
assert not [k for k in sys.modules if k.startswith(("colorize", "tensorflow_io"))]
print("clean ok")
"""


def test_saved_model_serves_without_colorize(run_dir, exported, photos, tmp_path):
    root, sizes = photos
    out = tmp_path / "ckpt"
    evaluate.run(cfg_for(run_dir, root, out, batch_size=1))
    files = [str(root / rel) for rel in sizes]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ""}
    proc = subprocess.run([sys.executable, "-c", CLEAN_PROCESS, exported, *files],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "clean ok" in proc.stdout, proc.stderr[-3000:]
    for rel in sizes:
        served = np.load(str(root / rel) + ".npy")
        ours = imageio.to_uint8(imageio.read_image(out / rel))
        assert served.shape == ours.shape
        assert np.abs(served.astype(int) - ours.astype(int)).max() <= 1, rel


def test_saved_model_cli_lists_both_signatures(exported):
    proc = subprocess.run([str(BIN / "saved_model_cli"), "show", "--all", "--dir", exported],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "signature_def['serving_default']" in proc.stdout
    assert "signature_def['predict_ab']" in proc.stdout
    assert "DT_UINT8" in proc.stdout and "shape: (-1, -1, -1)" in proc.stdout


def test_export_refuses_to_overwrite(run_dir, exported):
    with pytest.raises(FileExistsError, match="--overwrite"):
        export.export(run_dir, exported)


def test_export_of_averaged_checkpoints_is_the_mean_generator(run_dir, tmp_path):
    """--average: the export's predict_ab is that of a generator whose
    weights are the mean of the checkpoints' (averaged here in NumPy), and
    differs from each checkpoint's own."""
    out = tmp_path / "mean"
    assert "the mean of" in export.export(run_dir, str(out), average=[1, 3])
    at = {step: inference.load_generator(run_dir, step)[0] for step in (1, 3)}
    mean = inference.load_generator(run_dir, 2)[0]
    mean.set_weights([(np.array(a) + np.array(b)) / 2
                      for a, b in zip(at[1].weights, at[3].weights)])
    l = tf.random.stateless_uniform([2, 32, 32, 1], [3, 4], -1.0, 1.0)
    got = tf.saved_model.load(str(out)).signatures["predict_ab"](l=l)["ab"].numpy()
    np.testing.assert_allclose(got, mean(l, training=False).numpy(), atol=1e-5)
    for step in (1, 3):
        assert np.abs(got - at[step](l, training=False).numpy()).max() > 1e-4
    with pytest.raises(ValueError, match="two or more"):
        export.export(run_dir, str(tmp_path / "one"), average=[3, 3])


def test_export_cli_says_where_and_nothing_else(run_dir, tmp_path):
    """The export's own lines, without TensorFlow's INFO records of the
    save (a line per renamed input, per function, per file)."""
    proc = subprocess.run([sys.executable, "-m", "colorize.export", f"--model_dir={run_dir}",
                           f"--output={tmp_path / 'x'}"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("exported ") and (tmp_path / "x" / "saved_model.pb").exists()
    # The command's own two lines on stdout (TensorFlow's INFO records of the
    # save are off: colorize.quiet.tensorflow_info_off, tested in test_quiet).
    assert proc.stdout.splitlines()[1].startswith("inspect: saved_model_cli")
    assert len(proc.stdout.splitlines()) == 2, proc.stdout


def test_export_cli_checks_average(run_dir, tmp_path):
    def cli(*flags):
        return subprocess.run([sys.executable, "-m", "colorize.export", f"--model_dir={run_dir}",
                               f"--output={tmp_path / 'x'}", *flags], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
    for flags, message in [(["--average=2,3", "--step=3"], "one of them"),
                           (["--average=2,x"], "--average must be int values"),
                           (["--average=2,9"], "9")]:
        proc = cli(*flags)
        assert proc.returncode == 2 and message in proc.stderr, (flags, proc.stderr)
    assert not (tmp_path / "x").exists()


def test_flip_averaged_export_is_the_mean_of_the_photo_and_its_mirror(run_dir, exported,
                                                                      photos, tmp_path):
    """--flip_average: predict_ab is the mean of the generator's ab for l and
    for l mirrored (mirrored back), computed here by two separate calls; so
    a mirrored photo gets mirrored colours, in predict_ab and at full
    resolution in serving_default. Re-exporting keeps it and does not
    average twice; re-exporting a plain export with it adds it."""
    out = tmp_path / "flip"
    export.export(run_dir, str(out), flip_average=True)
    generator = inference.load_generator(run_dir)[0]
    l = tf.random.stateless_uniform([2, 32, 32, 1], [5, 6], -1.0, 1.0)
    mirror = lambda x: tf.reverse(x, [2])  # noqa: E731
    want = 0.5 * (generator(l, training=False) + mirror(generator(mirror(l), training=False)))
    loaded = tf.saved_model.load(str(out))
    assert bool(loaded.flip_average.numpy())
    predict = lambda m, x: m.signatures["predict_ab"](l=x)["ab"]  # noqa: E731
    got = predict(loaded, l)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-6)
    np.testing.assert_allclose(predict(loaded, mirror(l)).numpy(), mirror(got).numpy(), atol=1e-6)
    plain = tf.saved_model.load(exported)
    assert not bool(plain.flip_average.numpy())
    assert np.abs(got.numpy() - predict(plain, l).numpy()).max() > 1e-4

    image = tf.constant(imageio.read_image(photos[0] / "wide.png", keep_depth=True))
    serve = lambda m, x: m.signatures["serving_default"](image=x)["rgb"].numpy()  # noqa: E731
    rgb = serve(loaded, image)
    assert np.abs(serve(loaded, image[:, ::-1]).astype(int) - rgb[:, ::-1]).max() <= 1

    again, added = tmp_path / "again", tmp_path / "added"
    export.reexport(str(out), str(again), flip_average=True)
    export.reexport(exported, str(added), flip_average=True)
    for other, mirrors_here in ((again, 0), (added, 2)):
        other = tf.saved_model.load(str(other))
        assert bool(other.flip_average.numpy())
        np.testing.assert_allclose(predict(other, l).numpy(), got.numpy(), atol=1e-6)
        # The re-export's own graph mirrors only if the old model did not:
        # averaging twice gives the same colours at twice the cost.
        graph = other.predict_ab.concrete_functions[0].graph
        assert [op.type for op in graph.get_operations()].count("ReverseV2") == mirrors_here


def test_reexport_keeps_the_generator_and_serves_the_same(exported, photos, tmp_path):
    """A SavedModel written again (as the shipped model can be after the
    serving code changes): same predict_ab, same serving_default pixels;
    in place with --overwrite."""
    copy = tmp_path / "copy"
    export.reexport(exported, str(copy))
    with pytest.raises(FileExistsError, match="--overwrite"):
        export.reexport(str(copy), str(copy))
    export.reexport(str(copy), str(copy), overwrite=True)
    a, b = tf.saved_model.load(exported), tf.saved_model.load(str(copy))
    assert int(b.render_size.numpy()) == int(a.render_size.numpy()) == 32
    l = tf.random.stateless_uniform([2, 32, 32, 1], [1, 2], -1.0, 1.0)
    np.testing.assert_array_equal(b.signatures["predict_ab"](l=l)["ab"].numpy(),
                                  a.signatures["predict_ab"](l=l)["ab"].numpy())
    image = tf.constant(imageio.read_image(photos[0] / "wide.png", keep_depth=True))
    np.testing.assert_array_equal(b.signatures["serving_default"](image=image)["rgb"].numpy(),
                                  a.signatures["serving_default"](image=image)["rgb"].numpy())


def test_eval_cli(run_dir, photos, tmp_path):
    root, _ = photos
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [sys.executable, str(REPO / "eval.py"), f"--model_dir={run_dir}", f"--input={root}"]
    proc = subprocess.run(cmd + [f"--output={tmp_path / 'o'}", "--metrics"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]  # finished, with skipped files
    assert "wrote 6" in proc.stdout and "2 skipped" in proc.stdout and "PSNR" in proc.stdout
    assert "skipped empty.jpg: empty file" in proc.stdout
    (root / "empty.jpg").unlink()
    (root / "junk.png").unlink()
    proc = subprocess.run(cmd + [f"--output={tmp_path / 'o'}", "--metrics"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]  # every photo there
    assert "6 already there" in proc.stdout and "mean over 5 images" in proc.stdout
    proc = subprocess.run(cmd + [f"--output={root / 'o'}"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2 and "error: --output must not be inside --input" in proc.stderr


def test_shipped_model_colorizes_with_no_model_flag(tmp_path):
    """The SavedModel in the package is eval.py's default (tiny photo here)."""
    assert os.path.exists(os.path.join(inference.SHIPPED_MODEL, "saved_model.pb")), \
        "the package ships colorize/pretrained/general"
    src = tmp_path / "in"
    write_rgb(src / "face.png", colour_image(24, 20, (190, 140, 120)))
    summary = evaluate.run(evaluate.EvalConfig(input=str(src), output=str(tmp_path / "out"),
                                               metrics=True, progress=False))
    assert summary["model"].startswith("shipped model") and summary["written"] == 1
    res = imageio.read_image(tmp_path / "out" / "face.png")
    assert res.shape == (24, 20, 3)
    l_in = color.rgb_to_lab_np(imageio.read_image(src / "face.png"))[..., 0]
    assert np.abs(color.rgb_to_lab_np(res)[..., 0] - l_in).max() < 1.0


def test_comparison_sheet_tiles_rows_with_white_gaps():
    from colorize import visualize

    red, blue = np.zeros((4, 5, 3), np.float32), np.zeros((4, 5, 3), np.float32)
    red[..., 0], blue[..., 2] = 1.0, 1.0
    sheet = visualize.comparison_sheet([[red, blue], [blue]], gap=2)
    assert sheet.shape == (2 + 4 + 2 + 4 + 2, 2 + 5 + 2 + 5 + 2, 3)
    np.testing.assert_array_equal(sheet[2:6, 2:7], red)
    np.testing.assert_array_equal(sheet[2:6, 9:14], blue)
    np.testing.assert_array_equal(sheet[8:12, 2:7], blue)
    assert (sheet[8:12, 9:14] == 1).all() and (sheet[:2] == 1).all()  # padding, gaps: white
    with pytest.raises(ValueError, match="panel 1,0"):
        visualize.comparison_sheet([[red], [np.zeros((3, 5, 3), np.float32)]])


# --- awkward folders, resumed runs, strict restore -------------------------------

def test_awkward_files_are_skipped_with_reasons_and_the_rest_colorized(run_dir, tmp_path):
    """Pipes, sockets and broken links are not opened; a 400 MP JPEG is
    over the default limit and skipped with the reason (not decoded); GIF,
    gray-only PGM and a name that is not UTF-8 are colorized, each to its
    own output name."""
    from tests.test_folders import NON_UTF8, awkward_folder
    from tests.test_imageio import big_blank_jpeg

    root = tmp_path / "in"
    root.mkdir()
    server = awkward_folder(root)
    try:
        (root / "huge.jpg").write_bytes(big_blank_jpeg(20_000, 20_000))
        cv2.imwrite(str(root / "x.pgm"), colour_image(9, 11, (90, 90, 90))[..., 0])
        write_rgb(root / "x.png", colour_image(9, 11, (200, 90, 30)))
        from PIL import Image
        Image.fromarray(colour_image(12, 10, (40, 60, 210)), "RGB").save(root / "g.gif")
        out = tmp_path / "out"
        summary = evaluate.run(cfg_for(run_dir, root, out, metrics=True, batch_size=4))
    finally:
        server.close()
    reasons = {s["path"]: s["reason"] for s in summary["skipped"]}
    assert set(reasons) == {"pipe.jpg", "sock.png", "dangling.jpg", "huge.jpg"}
    assert "20000x20000 px would decode to 400.0 MP, over the limit of 64 MP" in reasons["huge.jpg"]
    written = sorted(os.path.relpath(p, out) for p in out.rglob("*")
                     if p.is_file() and p.name not in ("metrics.csv", "metrics.json"))
    assert written == sorted(["a.png", "sub/b.jpg", NON_UTF8, "link.png", "folder.jpg/c.png",
                              "x.pgm.png", "x.png", "g.gif.png"])
    assert imageio.read_image(out / "x.pgm.png").shape == (9, 11, 3)
    assert imageio.read_image(out / "g.gif.png").shape == (12, 10, 3)
    rows = (out / "metrics.csv").read_text(encoding="utf-8")
    assert "caf\\xe9.jpg," in rows  # the name, its odd byte escaped
    assert evaluate.exit_status(summary) == 1
    assert "skipped huge.jpg: 20000x20000" in evaluate.format_summary(summary)


def test_a_resumed_eval_scores_the_whole_folder(run_dir, photos, tmp_path):
    """A second run keeps the first run's outputs and their scores (from
    metrics.json, or computed from the outputs when it is gone), so the
    figures always cover the whole folder."""
    root, sizes = photos
    out = tmp_path / "out"
    full = evaluate.run(cfg_for(run_dir, root, tmp_path / "once", metrics=True))
    first = tmp_path / "first"
    first.mkdir()
    for rel in ("wide.png", "tall.png"):
        os.replace(root / rel, first / rel)
    evaluate.run(cfg_for(run_dir, root, out, metrics=True))  # all but two
    for rel in ("wide.png", "tall.png"):
        os.replace(first / rel, root / rel)
    again = evaluate.run(cfg_for(run_dir, root, out, metrics=True))
    assert again["skipped_existing"] == len(sizes) - 2 + 1  # and gray.png
    expect = json.loads((tmp_path / "once" / "metrics.json").read_text())
    got = json.loads((out / "metrics.json").read_text())
    assert got["per_image"] == expect["per_image"] and got["mean"] == expect["mean"]
    assert got["gray_inputs_not_scored"] == ["gray.png"]
    (out / "metrics.json").unlink()  # scores recomputed from the kept outputs
    third = evaluate.run(cfg_for(run_dir, root, out, metrics=True))
    assert third["written"] == 0
    for key, value in full["metrics"].items():
        assert third["metrics"][key] == pytest.approx(value, rel=1e-6), key


def test_a_stopped_eval_keeps_the_scores_so_far(run_dir, photos, tmp_path, monkeypatch):
    root, sizes = photos
    out = tmp_path / "out"
    real, calls = inference.colorize_batch, []

    def stopping(images, model):
        calls.append(1)
        if len(calls) == 3:
            raise signals.Stopped(15)
        return real(images, model)

    monkeypatch.setattr(inference, "colorize_batch", stopping)
    with pytest.raises(signals.Stopped):
        evaluate.run(cfg_for(run_dir, root, out, metrics=True, batch_size=1))
    done = json.loads((out / "metrics.json").read_text())
    assert len(done["per_image"]) + len(done["gray_inputs_not_scored"]) == 2
    monkeypatch.setattr(inference, "colorize_batch", real)
    rest = evaluate.run(cfg_for(run_dir, root, out, metrics=True))
    assert rest["skipped_existing"] == 2 and rest["metrics"]["count"] == len(sizes)


def test_a_checkpoint_without_the_generator_is_refused(run_dir, photos, tmp_path):
    """eval and export restore strictly: no silently random generator."""
    from colorize import models

    cfg = config_lib.load(run_dir)
    broken = tmp_path / "run"
    broken.mkdir()
    (broken / "config.json").write_text((Path(run_dir) / "config.json").read_text())
    disc = models.build_discriminator("patchgan", cfg.image_size, cfg.width)
    tf.train.Checkpoint(discriminator=disc).save(str(broken / "ckpt"))
    with pytest.raises(ValueError, match="does not hold the weights of this unet generator"):
        evaluate.run(cfg_for(str(broken), photos[0], tmp_path / "o"))
    with pytest.raises(ValueError, match="does not hold the weights"):
        export.export(str(broken), str(tmp_path / "exp"))
    assert not (tmp_path / "exp").exists()
    proc = subprocess.run([sys.executable, "-m", "colorize.export", f"--model_dir={broken}",
                           f"--output={tmp_path / 'exp'}"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert proc.returncode == 2 and "does not hold the weights" in proc.stderr


def test_a_failed_export_keeps_the_old_one(run_dir, exported, tmp_path, monkeypatch):
    target = tmp_path / "model"
    export.reexport(exported, str(target))
    before = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}

    def failing(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", failing)
    with pytest.raises(OSError, match="disk full"):
        export.export(run_dir, str(target), overwrite=True)
    after = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    assert after == before


def test_a_classification_run_decodes_to_ab_in_eval_and_export(tmp_path_factory, photos,
                                                                tmp_path):
    """--loss=classification: the run stores its bins and prior; eval and
    the SavedModel decode the class logits with the run's annealed mean,
    and give the same pixels."""
    from colorize import ab_bins

    data = sample.ensure_sample(str(tmp_path_factory.mktemp("sample")))
    model_dir = tmp_path / "run"
    cfg = config_lib.TrainConfig(data=data, model_dir=str(model_dir), gan="none",
                                 loss="classification", image_size=32, width=1 / 16,
                                 batch_size=2, max_steps=2, checkpoint_every=1)
    trainer.train(cfg, strategy=tf.distribute.MirroredStrategy(["/cpu:0"]))
    bins, prior = ab_bins.load_prior(str(model_dir))
    assert bins.shape == (261, 2) and prior.sum() == pytest.approx(1.0)
    generator, run_cfg, _ = inference.load_generator(str(model_dir))
    assert run_cfg.temperature == 0.38 and generator.output.shape[-1] == 2
    l = tf.random.stateless_uniform([1, 32, 32, 1], [3, 4], -1.0, 1.0)
    ab = generator(l).numpy()
    # = the annealed mean (T = 0.38) of the restored class head's logits (at
    # half the size, the U-Net's last decoder level), upsampled bilinearly.
    import keras
    head = keras.Model(generator.input, generator.get_layer("annealed_mean").input)
    logits = head(l)
    assert logits.shape == (1, 16, 16, 261)
    z = tf.nn.softmax(logits / 0.38).numpy()
    expected = tf.image.resize((z @ bins) / color.AB_SCALE, [32, 32], method="bilinear")
    np.testing.assert_allclose(ab, expected, atol=1e-5)
    root, _ = photos
    evaluate.run(cfg_for(str(model_dir), root, tmp_path / "ckpt"))
    out = str(tmp_path / "export")
    export.export(str(model_dir), out)
    evaluate.run(evaluate.EvalConfig(input=str(root), output=str(tmp_path / "sm"),
                                     saved_model=out, progress=False))
    for rel in ("wide.png", "sub/dir/square.png"):
        a = imageio.read_image(tmp_path / "ckpt" / rel, keep_depth=True).astype(int)
        b = imageio.read_image(tmp_path / "sm" / rel, keep_depth=True).astype(int)
        assert np.abs(a - b).max() <= 1, rel

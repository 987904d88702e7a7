"""experiments/scribble_sweep.py's ways of mixing a guided net with the
general model, on stand-in networks whose outputs are known."""
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "experiments"))
import scribble_sweep  # noqa: E402
from colorize import color, inference  # noqa: E402

SIZE = 32


def constant_model(ab):
    """A stand-in automatic network: the same ab (network range) everywhere."""
    def predict(l):
        return tf.zeros_like(l[..., :1]) + tf.constant(ab, tf.float32)
    return inference.Model(predict, SIZE, "constant")


def stand_in_guided(follow: float):
    """A stand-in guided network: a constant ab, moved by `follow` times
    each hint where hinted (0: the hints change nothing)."""
    def predict_hints(l, hints):
        base = tf.zeros_like(l[..., :1]) + tf.constant([-0.1, 0.15], tf.float32)
        return base + follow * hints[..., :2] * hints[..., 2:]
    return inference.Model(inference.without_hints(predict_hints, SIZE), SIZE, "guided",
                           predict_hints=predict_hints)


@pytest.fixture
def case():
    rng = np.random.default_rng(3)
    rgb = np.zeros((SIZE, SIZE, 3), np.uint8)
    rgb[:, :SIZE // 2] = (180, 70, 60)
    rgb[:, SIZE // 2:] = (60, 90, 170)
    rgb = np.clip(rgb + rng.integers(-8, 9, rgb.shape), 0, 255).astype(np.uint8)
    general = constant_model([0.05, 0.1])
    ab_small = np.asarray(inference.network_ab([rgb], general))[0]
    automatic = inference.colorize_batch([rgb], general)[0]
    return scribble_sweep.make_case(0, rgb, np.array(automatic), rgb, ab_small, 5)


def ab_of(rgb):
    return color.rgb_to_lab_np(rgb / 255.0)[..., 1:]


def test_hints_that_change_nothing_leave_the_general_models_correction(case, monkeypatch):
    monkeypatch.setattr(scribble_sweep, "_GUIDED", stand_in_guided(follow=0.0))
    effect = scribble_sweep.METHODS["guided-effect+scribbles"](case)
    np.testing.assert_array_equal(effect, scribble_sweep.METHODS["model+scribbles"](case))


def test_the_mean_base_is_the_mean_of_the_two_corrections(case, monkeypatch):
    """The correction is linear in the network's ab, so correcting the
    mean of the two networks' ab gives the mean of the two corrected
    results (up to 8-bit rounding)."""
    monkeypatch.setattr(scribble_sweep, "_GUIDED", stand_in_guided(follow=1.0))
    mean = ab_of(scribble_sweep.METHODS["mean+scribbles"](case))
    general = ab_of(scribble_sweep.METHODS["model+scribbles"](case))
    guided = ab_of(scribble_sweep.METHODS["guided+scribbles"](case))
    assert np.abs(general - guided).mean() > 5  # two different answers
    assert np.abs(mean - (general + guided) / 2).max() < 1.5


def test_a_blend_averages_ab_on_the_photos_own_lightness(case, monkeypatch):
    monkeypatch.setattr(scribble_sweep, "_GUIDED", stand_in_guided(follow=1.0))
    blend = scribble_sweep._blend(case, ["levin", "model+scribbles"])
    levin = ab_of(scribble_sweep.METHODS["levin"](case))
    general = ab_of(scribble_sweep.METHODS["model+scribbles"](case))
    assert np.abs(ab_of(blend) - (levin + general) / 2).max() < 1.5
    lightness = color.rgb_to_lab_np(blend / 255.0)[..., 0]
    assert np.abs(lightness - case.lab[..., 0]).max() < 0.6


def test_a_guided_model_of_another_size_is_refused_for_mixing(case, monkeypatch):
    small = stand_in_guided(follow=1.0)
    small.render_size = SIZE // 2
    monkeypatch.setattr(scribble_sweep, "_GUIDED", small)
    with pytest.raises(ValueError, match="renders at 16 px and the general model at 32"):
        scribble_sweep.METHODS["mean+scribbles"](case)


def test_guided_mixtures_and_their_blends_need_a_guided_model(tmp_path, monkeypatch, capsys):
    for argv in (["--methods=mean+scribbles"], ["--blends=levin|guided-effect+scribbles"]):
        monkeypatch.setattr(sys, "argv", ["scribble_sweep.py", f"--data={tmp_path}",
                                          "--folders=.", f"--out={tmp_path}/out", *argv])
        assert scribble_sweep.main() == 2
        assert "need --guided" in capsys.readouterr().err


def test_a_blend_reuses_the_columns_already_computed(case, monkeypatch):
    calls = []

    def counted(c):
        calls.append(1)
        return c.automatic

    monkeypatch.setitem(scribble_sweep.METHODS, "counted", counted)
    monkeypatch.setattr(scribble_sweep, "make_case", lambda *args: case)
    chosen = (["counted", "automatic"], [], [], ["counted|automatic"])
    row = scribble_sweep._score_photo((0, "p", case.rgb, case.automatic, case.gray,
                                       case.ab_small, [5], chosen))
    assert len(calls) == 1
    assert row["counted|automatic/5"] == row["counted/5"]

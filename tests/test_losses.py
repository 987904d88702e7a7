"""Loss functions against values worked out by hand, and the registry."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from colorize import losses, variants

# Raw discriminator outputs for 2 examples as 1x2 patch maps.
REAL = np.array([[[[2.0], [0.0]]], [[[-1.0], [1.0]]]], np.float32)  # [2, 1, 2, 1]
FAKE = np.array([[[[-2.0], [0.0]]], [[[3.0], [1.0]]]], np.float32)


def sp(x):  # softplus, by hand
    return math.log1p(math.exp(x))


# (variant, expected D loss per example, expected G loss per example), each
# the mean over the 2 patches of the formula in docs/variants.md's table.
HAND = {
    "dcgan": (
        [(sp(-2) + sp(0)) / 2 + (sp(-2) + sp(0)) / 2, (sp(1) + sp(-1)) / 2 + (sp(3) + sp(1)) / 2],
        [(sp(2) + sp(0)) / 2, (sp(-3) + sp(-1)) / 2],
    ),
    "lsgan": (
        [(0.5 * 1 + 0.5 * 1) / 2 + (0.5 * 4 + 0) / 2, (0.5 * 4 + 0) / 2 + (0.5 * 9 + 0.5) / 2],
        [(0.5 * 9 + 0.5 * 1) / 2, (0.5 * 4 + 0) / 2],
    ),
    "wgan": ([-1.0 - 1.0, 2.0 - 0.0], [1.0, -2.0]),
    "wgan-gp": ([-1.0 - 1.0, 2.0 - 0.0], [1.0, -2.0]),
}


@pytest.mark.parametrize("name", sorted(HAND))
def test_patch_losses_match_hand_values(name):
    v = variants.get(name)
    want_d, want_g = HAND[name]
    np.testing.assert_allclose(v.discriminator_loss(REAL, FAKE).numpy(), want_d, rtol=1e-5)
    np.testing.assert_allclose(v.generator_loss(FAKE).numpy(), want_g, rtol=1e-5)


def test_ebgan_losses_and_hinge():
    real = np.array([3.0, 10.0], np.float32)  # energies, one per example
    fake = np.array([5.0, 50.0], np.float32)
    d = losses.ebgan_discriminator_loss(real, fake, margin=40.0).numpy()
    np.testing.assert_allclose(d, [3.0 + 35.0, 10.0 + 0.0])  # second fake past the margin
    np.testing.assert_allclose(losses.ebgan_generator_loss(fake).numpy(), [5.0, 50.0])
    # Past the margin the fake term gives no gradient at all.
    fake_t = tf.Variable([45.0, 60.0])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(losses.ebgan_discriminator_loss(real, fake_t, margin=40.0))
    np.testing.assert_array_equal(tape.gradient(loss, fake_t).numpy(), [0.0, 0.0])


def test_regression_losses_are_per_example_means():
    real = np.zeros([2, 2, 2, 2], np.float32)
    fake = np.zeros([2, 2, 2, 2], np.float32)
    fake[0, 0, 0, 0] = 0.8  # one pixel wrong in example 0, of 8 values
    fake[1] = -0.5  # every value wrong in example 1
    np.testing.assert_allclose(losses.l1_loss(real, fake).numpy(), [0.1, 0.5])
    np.testing.assert_allclose(losses.l2_loss(real, fake).numpy(), [0.08, 0.25])


@pytest.mark.parametrize("name", [n for n, v in variants.VARIANTS.items() if v.discriminator])
def test_losses_reduce_per_example(name):
    """Each example's loss depends on its own outputs only, for any map shape."""
    v = variants.get(name)
    params = {p: 1.0 for p in v.discriminator_loss_params}
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(2, 3, 4, 5, 1)).astype(np.float32)
    both = v.discriminator_loss(real, fake, **params).numpy()
    alone = v.discriminator_loss(real[:1], fake[:1], **params).numpy()
    assert both.shape == (3,)
    np.testing.assert_allclose(both[:1], alone, rtol=1e-6)
    assert v.generator_loss(fake).shape == (3,)


def test_gradient_penalty_matches_closed_form():
    """A linear critic D(L, ab) = mean(w * ab) + mean(u * L) has gradient
    w / N with respect to ab, whatever x_hat is: the penalty is
    (||w|| / N - 1)^2 per example."""
    size, n = 4, 4 * 4 * 2
    rng = np.random.default_rng(1)
    w = rng.normal(size=(1, size, size, 2)).astype(np.float32) * 8
    u = rng.normal(size=(1, size, size, 1)).astype(np.float32)

    def critic(inputs, training=False):
        l, ab = inputs
        return tf.reduce_mean(w * ab, axis=[1, 2, 3]) + tf.reduce_mean(u * l, axis=[1, 2, 3])

    l = rng.normal(size=(3, size, size, 1)).astype(np.float32)
    real, fake = rng.normal(size=(2, 3, size, size, 2)).astype(np.float32)
    alpha = np.array([0.0, 0.3, 1.0], np.float32)
    got = losses.gradient_penalty(critic, l, real, fake, alpha).numpy()
    want = (np.linalg.norm(w) / n - 1.0) ** 2
    np.testing.assert_allclose(got, [want] * 3, rtol=1e-4)


def test_gradient_penalty_on_tiny_keras_critic_matches_numeric_gradient():
    """Independent route: the gradient norm by central finite differences."""
    keras.utils.set_random_seed(3)
    l_in = keras.Input((4, 4, 1))
    ab_in = keras.Input((4, 4, 2))
    x = keras.layers.Concatenate()([l_in, ab_in])
    x = keras.layers.Conv2D(3, 3, padding="same", activation="tanh")(x)
    critic = keras.Model([l_in, ab_in], keras.layers.Conv2D(1, 2)(x))
    rng = np.random.default_rng(2)
    l = rng.normal(size=(2, 4, 4, 1)).astype(np.float64)
    real, fake = rng.normal(size=(2, 2, 4, 4, 2)).astype(np.float64)
    alpha = np.array([0.25, 0.75])
    got = losses.gradient_penalty(critic, l.astype(np.float32), real.astype(np.float32),
                                  fake.astype(np.float32), alpha.astype(np.float32)).numpy()
    for i in range(2):
        x_hat = alpha[i] * real[i] + (1 - alpha[i]) * fake[i]
        grad = np.zeros_like(x_hat)
        eps = 1e-2
        for idx in np.ndindex(x_hat.shape):
            plus, minus = x_hat.copy(), x_hat.copy()
            plus[idx] += eps
            minus[idx] -= eps
            batch = np.stack([plus, minus]).astype(np.float32)
            out = critic([np.repeat(l[i:i + 1], 2, 0).astype(np.float32), batch]).numpy()
            scores = out.reshape(2, -1).mean(axis=1)
            grad[idx] = (scores[0] - scores[1]) / (2 * eps)
        want = (np.linalg.norm(grad) - 1.0) ** 2
        np.testing.assert_allclose(got[i], want, rtol=2e-3, atol=1e-5)

"""Loss functions: pure, per-example ([B] out), on raw discriminator outputs
of any shape (patch maps are averaged per example).

Naming follows TF-GAN: `<variant>_generator_loss(fake)` and
`<variant>_discriminator_loss(real, fake, ...)`. The training loop reduces
the per-example values over the global batch with compute_average_loss.
"""
from __future__ import annotations

import tensorflow as tf

from colorize import ab_bins, color


def per_example_mean(x: tf.Tensor) -> tf.Tensor:
    """Mean over every axis but the first: [B, ...] -> [B]."""
    x = tf.convert_to_tensor(x)
    if x.shape.rank == 1:
        return x
    return tf.reduce_mean(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)


# --- regression -----------------------------------------------------------------

def l1_loss(real_ab: tf.Tensor, fake_ab: tf.Tensor) -> tf.Tensor:
    return per_example_mean(tf.abs(fake_ab - real_ab))


def l2_loss(real_ab: tf.Tensor, fake_ab: tf.Tensor) -> tf.Tensor:
    """Per-example mean squared error (the original summed over the batch)."""
    return per_example_mean(tf.square(fake_ab - real_ab))


# --- classification (Zhang et al.) --------------------------------------------------

def classification_loss(real_ab: tf.Tensor, logits: tf.Tensor, bins,
                        class_weights: tf.Tensor) -> tf.Tensor:
    """Zhang et al.'s rebalanced multinomial cross-entropy, per example:
    the mean over pixels of -w_q* sum_q Z_q log softmax(logits)_q, with Z
    the soft-encoded true colour (ab_bins.soft_encode_sparse) and w_q* the
    rebalancing weight of its most likely bin. real_ab in the network's
    range (ab / 110), area-averaged to the logits' size when they are
    smaller (Zhang computes the loss at his net's output size, a quarter
    of the input's)."""
    size = logits.shape[1:3]
    if real_ab.shape[1:3] != size:
        real_ab = tf.image.resize(real_ab, size, method="area")
    index, target = ab_bins.soft_encode_sparse(color.denormalize_ab(real_ab), bins)
    weight = tf.gather(class_weights, index[..., 0])  # the most likely (nearest) bin's
    return per_example_mean(weight * _cross_entropy(tf.cast(logits, tf.float32), index, target))


@tf.function(jit_compile=True)
def _cross_entropy(logits, index, target):
    """-sum_k target_k log softmax(logits)[index_k] per pixel. Compiled with
    XLA, forward and backward, so that the ops over 261 classes fuse."""
    log_p = tf.nn.log_softmax(logits)
    picked = tf.gather(log_p, index, batch_dims=len(index.shape) - 1)
    return -tf.reduce_sum(target * picked, axis=-1)


# --- DCGAN: sigmoid cross-entropy on logits --------------------------------------

def dcgan_discriminator_loss(real: tf.Tensor, fake: tf.Tensor) -> tf.Tensor:
    # -log sigmoid(r) = softplus(-r);  -log(1 - sigmoid(f)) = softplus(f)
    return per_example_mean(tf.nn.softplus(-real)) + per_example_mean(tf.nn.softplus(fake))


def dcgan_generator_loss(fake: tf.Tensor) -> tf.Tensor:
    """Non-saturating: -log D(G)."""
    return per_example_mean(tf.nn.softplus(-fake))


# --- LSGAN (a=0, b=1, c=1) on raw outputs (no sigmoid before the squares) -------

def lsgan_discriminator_loss(real: tf.Tensor, fake: tf.Tensor) -> tf.Tensor:
    return per_example_mean(0.5 * tf.square(real - 1.0)) + per_example_mean(0.5 * tf.square(fake))


def lsgan_generator_loss(fake: tf.Tensor) -> tf.Tensor:
    return per_example_mean(0.5 * tf.square(fake - 1.0))


# --- EBGAN: D outputs an energy (reconstruction error) ---------------------------

def ebgan_discriminator_loss(real: tf.Tensor, fake: tf.Tensor, margin: float) -> tf.Tensor:
    """D(real) + max(0, m - D(fake)): the hinge stops pushing a fake's energy
    once it is past the margin."""
    return per_example_mean(real) + tf.nn.relu(margin - per_example_mean(fake))


def ebgan_generator_loss(fake: tf.Tensor) -> tf.Tensor:
    return per_example_mean(fake)


# --- WGAN -------------------------------------------------------------------------

def wasserstein_discriminator_loss(real: tf.Tensor, fake: tf.Tensor) -> tf.Tensor:
    return per_example_mean(fake) - per_example_mean(real)


def wasserstein_generator_loss(fake: tf.Tensor) -> tf.Tensor:
    return -per_example_mean(fake)


def gradient_penalty(critic, l: tf.Tensor, real_ab: tf.Tensor, fake_ab: tf.Tensor,
                     alpha: tf.Tensor) -> tf.Tensor:
    """WGAN-GP's (||grad_ab D(L, x_hat)|| - 1)^2 per example, with
    x_hat = alpha * real + (1 - alpha) * fake and alpha [B] in [0, 1].

    Only ab is interpolated: L is the condition and the same for both. The
    critic's score of an example is the mean of its patch map."""
    l = tf.convert_to_tensor(l)
    alpha = tf.reshape(alpha, [-1, 1, 1, 1])
    x_hat = alpha * real_ab + (1.0 - alpha) * fake_ab
    with tf.GradientTape() as tape:
        tape.watch(x_hat)
        score = per_example_mean(critic([l, x_hat], training=True))
    grad = tape.gradient(score, x_hat)
    norm = tf.sqrt(tf.reduce_sum(tf.square(grad), axis=[1, 2, 3]) + 1e-12)
    return tf.square(norm - 1.0)

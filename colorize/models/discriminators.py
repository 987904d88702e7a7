"""Conditional discriminators: (L, ab) -> a score map or an energy. Every
one sees L and ab together."""
from __future__ import annotations

import keras
from keras import layers

from colorize.color import AB_SCALE
from colorize.models.layers import OUTPUT_DTYPE, LeakyReLU, _bn, _ch

DISCRIMINATORS = ("patchgan", "wgan_critic", "gp_critic", "ebgan")
# The discriminators with BatchNorm layers (tested against the built models):
# a gradient penalty per example does not fit them.
BATCHNORM_CRITICS = ("patchgan", "wgan_critic", "ebgan")


def _conditional_inputs(image_size: int) -> tuple[keras.Input, keras.Input, keras.KerasTensor]:
    l = keras.Input((image_size, image_size, 1), name="l")
    ab = keras.Input((image_size, image_size, 2), name="ab")
    return l, ab, layers.Concatenate()([l, ab])


def _patch_layers(x, width: float, norm: bool, sync_bn: bool, scale: bool = True):
    """pix2pix's n_layers=3 PatchGAN body: 70x70 receptive field.
    PyTorch's padding=1 is reproduced with explicit zero padding.
    norm: BatchNorm after convs 2-4 (False: no normalisation); scale:
    whether those BatchNorms have a scale (gamma)."""
    ndf = _ch(64, width)
    plan = [(ndf, 2), (ndf * 2, 2), (ndf * 4, 2), (ndf * 8, 1)]
    for i, (filters, stride) in enumerate(plan):
        with_norm = norm and i > 0
        x = layers.ZeroPadding2D(1)(x)
        x = layers.Conv2D(filters, 4, strides=stride, use_bias=not with_norm)(x)
        if with_norm:
            x = _bn(sync_bn, scale=scale)(x)
        x = LeakyReLU(0.2)(x)
    x = layers.ZeroPadding2D(1)(x)
    return layers.Conv2D(1, 4, strides=1, name="score", dtype=OUTPUT_DTYPE)(x)


def patchgan_discriminator(image_size: int, width: float = 1.0, sync_bn: bool = False) -> keras.Model:
    """PatchGAN: a map of raw logits, one per 70x70 patch of (L, ab)."""
    l, ab, x = _conditional_inputs(image_size)
    return keras.Model([l, ab], _patch_layers(x, width, True, sync_bn), name="patchgan")


def wgan_critic(image_size: int, width: float = 1.0, sync_bn: bool = False) -> keras.Model:
    """The weight-clipping WGAN critic, normalised as the authors' code
    normalised it (cganarch.py, netD for 'wasserstein', like the WGAN
    paper's DCGAN critic): BatchNorm after convs 2-4, raw linear score map.

    Why normalisation: with every weight clipped to +-c (c = 0.005), each
    conv shrinks its input by about c * sqrt(fan_in) (~0.3 here), so without
    it the score and its gradient vanish (experiments/wgan_ablation.py and
    RESULTS.md measure a critic without it).

    Why no scale (gamma): a scale is a weight too and would be clipped to
    0.005, shrinking every layer again; slim's batch_norm, which the original
    used, has none by default. The offsets (beta) stay and are clipped like
    every other critic variable: they only shift, they cannot shrink.

    Departure: the original also batch-normalised the output conv. That
    makes the score of any batch scored alone average to the offset, so
    D(fake) - D(real) is identically 0 when real and fake are scored
    separately; scored as one joint batch, the score becomes invariant to
    the distance between real and fake, and the generator's share fell to
    ~0.001 in a trial run. The output conv here is linear, with a bias."""
    l, ab, x = _conditional_inputs(image_size)
    return keras.Model([l, ab], _patch_layers(x, width, True, sync_bn, scale=False),
                       name="wgan_critic")


def gp_critic(image_size: int, width: float = 1.0, sync_bn: bool = False) -> keras.Model:
    """WGAN-GP critic: the PatchGAN shape without normalisation (BatchNorm
    would couple the examples of a batch and break the per-example gradient
    penalty, Gulrajani et al. sec. 4), raw linear output."""
    l, ab, x = _conditional_inputs(image_size)
    return keras.Model([l, ab], _patch_layers(x, width, False, sync_bn), name="gp_critic")


class ReconstructionEnergy(layers.Layer):
    """Per-example RMS error of the reconstructed ab, in Lab units.

    Lab units (ab * 110) keep the energy on a scale where the EBGAN margin
    (40, the paper's report) means something: a gray guess of a colourful
    face is roughly 15-25 away; the small epsilon keeps sqrt differentiable
    at a perfect reconstruction."""

    def __init__(self, ab_scale: float, **kwargs):
        super().__init__(**kwargs)
        self.ab_scale = ab_scale

    def call(self, inputs):
        ab, recon = inputs
        err = (recon - ab) * self.ab_scale
        return keras.ops.sqrt(keras.ops.mean(keras.ops.square(err), axis=(1, 2, 3)) + 1e-6)

    def get_config(self):
        return {**super().get_config(), "ab_scale": self.ab_scale}


def ebgan_discriminator(image_size: int, width: float = 1.0, sync_bn: bool = False) -> keras.Model:
    """EBGAN: an autoencoder on (L, ab) that reconstructs ab; its output is
    the per-example reconstruction energy. Conditional: L goes in too (the
    original's EBGAN ignored L)."""
    if image_size % 8:
        raise ValueError(f"ebgan needs an image size divisible by 8, got {image_size}")
    l, ab, x = _conditional_inputs(image_size)
    ndf = _ch(64, width)
    for i, filters in enumerate((ndf, ndf * 2, ndf * 4)):
        x = layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=i == 0)(x)
        if i > 0:
            x = _bn(sync_bn)(x)
        x = LeakyReLU(0.2)(x)
    for filters in (ndf * 2, ndf):
        x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False)(x)
        x = _bn(sync_bn)(x)
        x = layers.ReLU()(x)
    recon = layers.Conv2DTranspose(2, 4, strides=2, padding="same", activation="tanh",
                                   name="recon", dtype=OUTPUT_DTYPE)(x)
    energy = ReconstructionEnergy(AB_SCALE, name="energy", dtype=OUTPUT_DTYPE)([ab, recon])
    return keras.Model([l, ab], energy, name="ebgan")


def build_discriminator(name: str, image_size: int, width: float = 1.0,
                        sync_bn: bool = False) -> keras.Model:
    builders = {"patchgan": patchgan_discriminator, "wgan_critic": wgan_critic,
                "gp_critic": gp_critic, "ebgan": ebgan_discriminator}
    if name not in builders:
        raise ValueError(f"unknown discriminator {name!r}; choose from {DISCRIMINATORS}")
    return builders[name](image_size, width=width, sync_bn=sync_bn)

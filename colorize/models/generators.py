"""Generators: normalised L [B, S, S, 1] -> ab [B, S, S, 2] (or, with a
class head, logits over the ab bins). Keras functional models whose layer
plans follow the published nets, so that at width 1 their parameter counts
equal the papers' (tests/test_models.py works the counts out by hand)."""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from colorize import ab_bins, color
from colorize.hints import CHANNELS as HINT_CHANNELS
from colorize.models.layers import (OUTPUT_DTYPE, BilinearUpsampling, Dropout, LeakyReLU, _bn,
                                    _ch)

GENERATORS = ("colcol", "unet")
# How generators double their resolution. "resize": bilinear x2 then a 3x3
# conv (Odena et al. 2016, "Deconvolution and checkerboard artifacts"): every
# output pixel gets the same number of kernel taps, so no checkerboard can
# be learned. "transpose": the published 4x4 stride-2 transposed conv
# (pix2pix, Zhang et al.), kept to reproduce them; its uneven overlap lets
# a net learn checkerboards.
UPSAMPLERS = ("resize", "transpose")
UNET_MAX_DEPTH = 8


def _upsample(x, filters: int, upsample: str, name: str, **kwargs):
    """x2 resolution with `filters` channels (see UPSAMPLERS)."""
    if upsample == "transpose":
        return layers.Conv2DTranspose(filters, 4, strides=2, padding="same", name=name,
                                      **kwargs)(x)
    if upsample != "resize":
        raise ValueError(f"unknown upsample {upsample!r}; choose from {UPSAMPLERS}")
    x = BilinearUpsampling(2)(x)
    return layers.Conv2D(filters, 3, padding="same", name=name, **kwargs)(x)


def colcol_generator(image_size: int, width: float = 1.0, sync_bn: bool = False,
                     upsample: str = "resize", classes: int = 0,
                     in_channels: int = 1) -> keras.Model:
    """Zhang et al. (ECCV 2016) colorful colorization.

    Blocks 1-7: 2-3 3x3 conv + ReLU ending in BatchNorm; blocks 1-3 end with
    a stride-2 conv (input/8); blocks 5-6 dilation 2. Block 8: x2 upsampling
    (Zhang's 4x4 transposed conv with upsample="transpose") + two 3x3 convs.
    Head: with classes, Zhang's 1x1 conv to the class logits at 1/4 of the
    input size (then their net at upsample="transpose"; the decoded ab is
    upsampled, see decoded()); else, as a regression net, a 1x1 conv to 2
    channels with tanh and bilinear x4 to the input size.
    in_channels: 1 (L), or 4 for a guided net (L + colorize.hints' ab and
    mask, concatenated at the input as Zhang et al. 2017 do).
    """
    if image_size % 8:
        raise ValueError(f"colcol needs an image size divisible by 8, got {image_size}")
    plan = [  # (filters, convs, stride of last conv, dilation)
        (64, 2, 2, 1), (128, 2, 2, 1), (256, 3, 2, 1), (512, 3, 1, 1),
        (512, 3, 1, 2), (512, 3, 1, 2), (512, 3, 1, 1),
    ]
    inp = keras.Input((image_size, image_size, in_channels), name="l")
    x = inp
    for block, (filters, convs, stride, dilation) in enumerate(plan, start=1):
        for i in range(convs):
            s = stride if i == convs - 1 else 1
            x = layers.Conv2D(_ch(filters, width), 3, strides=s, padding="same",
                              dilation_rate=dilation, activation="relu",
                              name=f"conv{block}_{i + 1}")(x)
        x = _bn(sync_bn)(x)
    x = _upsample(x, _ch(256, width), upsample, "conv8_1", activation="relu")
    for i in (2, 3):
        x = layers.Conv2D(_ch(256, width), 3, padding="same", activation="relu",
                          name=f"conv8_{i}")(x)
    if classes:
        out = layers.Conv2D(classes, 1, name="logits", dtype=OUTPUT_DTYPE)(x)
    else:
        x = layers.Conv2D(2, 1, activation="tanh", name="ab_head", dtype=OUTPUT_DTYPE)(x)
        out = BilinearUpsampling(4, name="ab", dtype=OUTPUT_DTYPE)(x)
    return keras.Model(inp, out, name="colcol")


def unet_depth(image_size: int) -> int:
    """Stride-2 levels: as many as halve the image evenly, at most 8 (1x1
    bottleneck at 256 px, as pix2pix's unet_256)."""
    depth = 0
    while depth < UNET_MAX_DEPTH and image_size % (2 ** (depth + 1)) == 0:
        depth += 1
    return depth


def unet_generator(image_size: int, width: float = 1.0, sync_bn: bool = False,
                   in_channels: int = 1, out_channels: int = 2,
                   upsample: str = "resize", classes: int = 0,
                   input_at_output: bool = False) -> keras.Model:
    """The pix2pix U-Net (Isola et al.): 4x4 stride-2 convs, encoder
    LeakyReLU 0.2 + BatchNorm (none on the outermost and innermost levels),
    decoder ReLU + x2 upsampling (pix2pix's 4x4 transposed conv with
    upsample="transpose") + BatchNorm, dropout 0.5 in the innermost
    (8*ngf, 8*ngf) decoder blocks (at most 3), skips by concatenation.
    Convs followed by BatchNorm carry no bias, as in pix2pix.
    input_at_output: the input (L and a guided net's hints) is concatenated
    again before the last layer, at full resolution (bilinear x2 + 3x3
    conv, whatever `upsample`): the first layer sees it only through a
    stride-2 conv, at half resolution."""
    depth = unet_depth(image_size)
    if depth < 3:
        raise ValueError(f"unet needs an image size divisible by 8, got {image_size}")
    ngf = _ch(64, width)
    filters = [ngf * min(2 ** i, 8) for i in range(depth)]
    inp = keras.Input((image_size, image_size, in_channels), name="l")
    x, skips = inp, []
    for i in range(depth):
        if i > 0:
            x = LeakyReLU(0.2)(x)
        x = layers.Conv2D(filters[i], 4, strides=2, padding="same", use_bias=False,
                          name=f"down{i}")(x)
        if 0 < i < depth - 1:
            x = _bn(sync_bn)(x)
        skips.append(x)
    for i in range(depth - 1, 0, -1):
        x = layers.ReLU()(x)
        x = _upsample(x, filters[i - 1], upsample, f"up{i}", use_bias=False)
        x = _bn(sync_bn)(x)
        if 4 <= i <= depth - 2:
            x = Dropout(0.5)(x)
        x = layers.Concatenate()([skips[i - 1], x])
    x = layers.ReLU()(x)
    if classes:
        # Zhang's classification head, on the last decoder level (half the
        # input size, as Zhang's net predicts at a quarter): a 1x1 conv to
        # the logits (a 3x3 conv to 261 channels at full size would cost more
        # than the rest of a small net's step).
        out = layers.Conv2D(classes, 1, name="logits", dtype=OUTPUT_DTYPE)(x)
    elif input_at_output:
        x = layers.Concatenate()([BilinearUpsampling(2)(x), inp])
        out = layers.Conv2D(out_channels, 3, padding="same", activation="tanh", name="ab",
                            dtype=OUTPUT_DTYPE)(x)
    else:
        out = _upsample(x, out_channels, upsample, "ab", activation="tanh", dtype=OUTPUT_DTYPE)
    return keras.Model(inp, out, name="unet")


def build_generator(name: str, image_size: int, width: float = 1.0,
                    sync_bn: bool = False, upsample: str = "resize",
                    classes: int = 0, hints: bool = False,
                    hints_at_output: bool = False) -> keras.Model:
    """The generator: normalised L -> ab (tanh, /110), or with classes > 0
    -> logits over that many ab bins (decode them with AnnealedMean).
    hints: a guided generator, whose input is L and colorize.hints'
    channels (hint ab, mask) concatenated; hints_at_output (unet): they
    enter its last layer too, at full resolution."""
    builders = {"colcol": colcol_generator, "unet": unet_generator}
    if name not in builders:
        raise ValueError(f"unknown generator {name!r}; choose from {GENERATORS}")
    extra = {"input_at_output": True} if hints_at_output else {}
    return builders[name](image_size, width=width, sync_bn=sync_bn, upsample=upsample,
                          classes=classes, in_channels=1 + HINT_CHANNELS * hints, **extra)


def decode_logits(logits: tf.Tensor, bins, temperature: float, size: int) -> tf.Tensor:
    """Class logits [B, h, w, Q] -> ab [B, size, size, 2] in the network's
    range (ab / 110): Zhang et al.'s annealed mean over the bin centres
    (colorize.ab_bins), at the logits' resolution, then upsampled
    bilinearly to the image size, as Zhang does."""
    ab = color.normalize_ab(ab_bins.annealed_mean(logits, bins, temperature))
    if ab.shape[1] == size:
        return ab
    return tf.image.resize(ab, [size, size], method="bilinear")


class AnnealedMean(layers.Layer):
    """decode_logits as a layer."""

    def __init__(self, bins, temperature: float, size: int, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.bins = np.asarray(bins, np.float32)
        self.temperature = temperature
        self.size = size

    def call(self, logits):
        return decode_logits(logits, self.bins, self.temperature, self.size)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, 2)


def decoded(generator: keras.Model, bins, temperature: float) -> keras.Model:
    """A classification generator with the annealed mean on its output: a
    model from L to ab at the input size, like a regression generator,
    sharing its weights."""
    size = generator.input.shape[1]
    head = AnnealedMean(bins, temperature, size, name="annealed_mean")
    return keras.Model(generator.input, head(generator.output),
                       name=f"{generator.name}_decoded")

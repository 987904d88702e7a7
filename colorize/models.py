"""Generators (normalised L -> ab) and conditional discriminators (L, ab -> score).

All Keras functional models. Every discriminator sees L and ab together.
Layer plans follow the published nets so that, at width 1, parameter
counts equal theirs (tests/test_models.py works the counts out by hand).
"""
from __future__ import annotations

import contextlib

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from colorize import ab_bins, color
from colorize.color import AB_SCALE

GENERATORS = ("colcol", "unet")
# How generators double their resolution. "resize": bilinear x2 then a 3x3
# conv (Odena et al. 2016, "Deconvolution and checkerboard artifacts"): every
# output pixel gets the same number of kernel taps, so no checkerboard can
# be learned. "transpose": the published 4x4 stride-2 transposed conv
# (pix2pix, Zhang et al.), kept to reproduce them; its uneven overlap is
# what drew the checkerboards on the earlier GAN runs.
UPSAMPLERS = ("resize", "transpose")
DISCRIMINATORS = ("patchgan", "wgan_critic", "gp_critic", "ebgan")
# The discriminators with BatchNorm layers (tested against the built models):
# a gradient penalty per example does not fit them.
BATCHNORM_CRITICS = ("patchgan", "wgan_critic", "ebgan")
UNET_MAX_DEPTH = 8
# Keras dtype policies the nets can be built in: variables are float32 in
# both; mixed_bfloat16 computes convolutions in bfloat16. Output layers
# (ab heads, scores, energies) compute in float32 either way, so losses,
# gradient penalties and optimizer state stay float32.
PRECISIONS = ("float32", "mixed_bfloat16")
OUTPUT_DTYPE = "float32"


def cpu_has_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU computes bfloat16 natively (AVX512_BF16 or AMX): oneDNN
    then runs bfloat16 convolutions faster than float32; without them it
    emulates bfloat16, slower than float32."""
    try:
        with open(cpuinfo) as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def fastest_precision() -> str:
    """The default compute precision on this machine (bench/bench_train.py
    measures both)."""
    return "mixed_bfloat16" if cpu_has_bfloat16() else "float32"


@contextlib.contextmanager
def precision(policy: str):
    """Build models inside this to compute in `policy` (see PRECISIONS):
    Keras layers take the global dtype policy when they are created."""
    if policy not in PRECISIONS:
        raise ValueError(f"unknown precision {policy!r}; choose from {PRECISIONS}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _ch(n: int, width: float) -> int:
    return max(1, int(round(n * width)))


class BatchNorm(layers.BatchNormalization):
    """Keras BatchNormalization whose training-mode pass runs TF's fused
    kernel (FusedBatchNormV3, oneDNN on CPU): Keras 3 builds it from
    separate moments and multiply-add ops, and their gradients, about ten
    passes over the activations where the fused kernel and its gradient make
    one each. Same variables and the same moving-average update (biased
    batch variance), so checkpoints are interchangeable with the Keras
    layer (tests/test_models.py compares the two). Cross-replica
    (synchronized) statistics and inference keep Keras's own path."""

    def call(self, inputs, training=None, mask=None):
        if not training or self.synchronized or len(inputs.shape) != 4 or self.axis not in (-1, 3):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        scale = self.gamma if self.scale else tf.ones([channels], tf.float32)
        offset = self.beta if self.center else tf.zeros([channels], tf.float32)
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, tf.convert_to_tensor(scale, tf.float32),
            tf.convert_to_tensor(offset, tf.float32), epsilon=self.epsilon, is_training=True)
        # The kernel hands back the unbiased (n - 1) batch variance for the
        # moving average; Keras averages the biased one.
        n = tf.cast(tf.size(inputs) // channels, tf.float32)
        variance = variance * (n - 1.0) / n
        m = self.momentum
        self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
        self.moving_variance.assign(self.moving_variance * m + variance * (1.0 - m))
        return outputs


def leaky_relu(x: tf.Tensor, alpha: float) -> tf.Tensor:
    """tf.nn.leaky_relu whose gradient reads its output instead of its
    input: for alpha > 0 the two have the same sign, so the gradient is the
    same. Reading the input kept it alive for LeakyReluGrad, and when the
    input was a conv's BiasAdd, grappler's remapper fused conv, bias and
    activation and then failed on the orphaned gradient ("remapper failed:
    ... fanout LeakyReluGrad exist for missing node BiasAdd"), which logged
    an error and skipped every fusion of that graph. The output is read
    through stop_gradient: WGAN-GP differentiates this gradient again, and
    a (zero) second-order path into y went on into the forward LeakyRelu
    op's own gradient, which reads the input, and the remapper failed the
    same way. LeakyRelu's second derivative is 0, so nothing is lost."""

    @tf.custom_gradient
    def forward(x):
        y = tf.nn.leaky_relu(x, alpha)

        def backward(dy):
            return tf.raw_ops.LeakyReluGrad(gradients=dy, features=tf.stop_gradient(y),
                                            alpha=alpha)

        return y, backward

    return forward(x)


class LeakyReLU(layers.LeakyReLU):
    """LeakyReLU through leaky_relu above, in float32 when its input is
    bfloat16: on CPU, TF's bfloat16 LeakyRelu and LeakyReluGrad kernels are
    not vectorised (forward + backward measured 7.2 ms against 1.1 ms in
    float32 on a 16x64x64x32 tensor), while the two casts cost about 0.4 ms."""

    def call(self, inputs):
        if inputs.dtype == "bfloat16":
            return tf.cast(leaky_relu(tf.cast(inputs, tf.float32), self.negative_slope),
                           inputs.dtype)
        return leaky_relu(inputs, self.negative_slope)


class BilinearUpsampling(layers.Layer):
    """x`factor` bilinear upsampling by tf.image.resize (half-pixel centres,
    as Keras's UpSampling2D(interpolation="bilinear"), which calls it).
    ResizeBilinear returns float32; under mixed_bfloat16 Keras casts that
    back with a saturating cast (a clip to bfloat16's range), whose gradient
    cost more than the resize itself in a profile. Interpolating finite
    values cannot leave that range, so a plain cast does the same."""

    def __init__(self, factor: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        size = [inputs.shape[1] * self.factor, inputs.shape[2] * self.factor]
        return tf.cast(tf.image.resize(inputs, size, method="bilinear"), inputs.dtype)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, h * self.factor, w * self.factor, c)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def replica_seed(seed_generator: keras.random.SeedGenerator) -> tf.Tensor:
    """The next seed of seed_generator for a stateless draw, with the
    replica's index folded in: every replica of a strategy (every worker's
    too: the index counts over the cluster) holds the same copy of the
    generator, and would otherwise draw the same numbers."""
    seed = tf.cast(seed_generator.next(), tf.int32)
    context = tf.distribute.get_replica_context()
    if context is not None:
        seed = tf.random.experimental.stateless_fold_in(seed, context.replica_id_in_sync_group)
    return seed


class Dropout(layers.Dropout):
    """Keras's Dropout, with its own mask on each replica (replica_seed):
    Keras alone dropped the same units on every replica (tested), so N
    replicas did not sample what one device does. (noise_shape is not
    supported: the U-Net does not use it.)"""

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        keep = tf.random.stateless_uniform(tf.shape(inputs),
                                           replica_seed(self.seed_generator)) >= self.rate
        return tf.where(keep, inputs / tf.cast(1 - self.rate, inputs.dtype),
                        tf.zeros_like(inputs))


def _bn(sync: bool, scale: bool = True) -> layers.Layer:
    # synchronized=True: batch statistics over the global batch, so that N
    # replicas x B/N compute what 1 replica x B does.
    return BatchNorm(momentum=0.9, epsilon=1e-5, synchronized=sync, scale=scale)


# --- generators ---------------------------------------------------------------

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
                     upsample: str = "resize", classes: int = 0) -> keras.Model:
    """Zhang et al. (ECCV 2016) colorful colorization.

    Blocks 1-7: 2-3 3x3 conv + ReLU ending in BatchNorm; blocks 1-3 end with
    a stride-2 conv (input/8); blocks 5-6 dilation 2. Block 8: x2 upsampling
    (Zhang's 4x4 transposed conv with upsample="transpose") + two 3x3 convs.
    Head: with classes, Zhang's 1x1 conv to the class logits at 1/4 of the
    input size (then their net at upsample="transpose"; the decoded ab is
    upsampled, see decoded()); else, as a regression net, a 1x1 conv to 2
    channels with tanh and bilinear x4 to the input size.
    """
    if image_size % 8:
        raise ValueError(f"colcol needs an image size divisible by 8, got {image_size}")
    plan = [  # (filters, convs, stride of last conv, dilation)
        (64, 2, 2, 1), (128, 2, 2, 1), (256, 3, 2, 1), (512, 3, 1, 1),
        (512, 3, 1, 2), (512, 3, 1, 2), (512, 3, 1, 1),
    ]
    inp = keras.Input((image_size, image_size, 1), name="l")
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
                   upsample: str = "resize", classes: int = 0) -> keras.Model:
    """The pix2pix U-Net (Isola et al.): 4x4 stride-2 convs, encoder
    LeakyReLU 0.2 + BatchNorm (none on the outermost and innermost levels),
    decoder ReLU + x2 upsampling (pix2pix's 4x4 transposed conv with
    upsample="transpose") + BatchNorm, dropout 0.5 in the innermost
    (8*ngf, 8*ngf) decoder blocks (at most 3), skips by concatenation.
    Convs followed by BatchNorm carry no bias, as in pix2pix."""
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
        # the logits. A 3x3 conv to 261 channels at full size was 90 % of
        # a training step at width 0.25.
        out = layers.Conv2D(classes, 1, name="logits", dtype=OUTPUT_DTYPE)(x)
    else:
        out = _upsample(x, out_channels, upsample, "ab", activation="tanh", dtype=OUTPUT_DTYPE)
    return keras.Model(inp, out, name="unet")


def build_generator(name: str, image_size: int, width: float = 1.0,
                    sync_bn: bool = False, upsample: str = "resize",
                    classes: int = 0) -> keras.Model:
    """The generator: normalised L -> ab (tanh, /110), or with classes > 0
    -> logits over that many ab bins (decode them with AnnealedMean)."""
    builders = {"colcol": colcol_generator, "unet": unet_generator}
    if name not in builders:
        raise ValueError(f"unknown generator {name!r}; choose from {GENERATORS}")
    return builders[name](image_size, width=width, sync_bn=sync_bn, upsample=upsample,
                          classes=classes)


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


# --- discriminators -----------------------------------------------------------

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
    it the score and its gradient vanish (this project's earlier critic had
    none: scores of ~5e-6 and an adversarial share of ~5e-8, see
    experiments/wgan_ablation.py).

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

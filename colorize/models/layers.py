"""The compute precision, and the layers the networks share, several of
them Keras's own patched for speed or for correctness under a strategy:
BatchNorm on TF's fused kernel, LeakyReLU computed in float32 with its
gradient from its output, bilinear upsampling without Keras's saturating
cast, Dropout with a mask per replica."""
from __future__ import annotations

import contextlib

import keras
import tensorflow as tf
from keras import layers

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
    not vectorised, while the two casts are cheap (bench/bench_train.py)."""

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

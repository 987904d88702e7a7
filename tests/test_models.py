"""Model shapes, the PatchGAN's receptive field, and parameter counts equal
to the published nets', worked out by hand below."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from colorize import models
from colorize.models import generators


def n_params(model) -> int:
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


def conv(k, cin, cout, bias=True):
    return k * k * cin * cout + (cout if bias else 0)


BN = 2  # trainable parameters per BatchNorm channel (gamma, beta)


def pix2pix_unet_256(cin, cout, ngf=64, up_kernel=4):
    """pix2pix's unet_256 (8 levels), convs before BatchNorm without bias.
    up_kernel 3: the decoder's bilinear + 3x3 conv instead of 4x4 transposed."""
    f = [ngf, ngf * 2, ngf * 4] + [ngf * 8] * 5
    k = up_kernel
    down = conv(4, cin, f[0], False) + sum(conv(4, f[i - 1], f[i], False) for i in range(1, 8))
    down_bn = BN * sum(f[1:7])
    up = conv(k, f[7], f[6], False)  # innermost: no skip yet
    up += sum(conv(k, 2 * f[i], f[i - 1], False) for i in range(1, 7))
    up += conv(k, 2 * f[0], cout, True)
    up_bn = BN * sum(f[0:7])
    return down + down_bn + up + up_bn


def patchgan(cin, ndf=64):
    return (conv(4, cin, ndf) + conv(4, ndf, 2 * ndf, False) + BN * 2 * ndf
            + conv(4, 2 * ndf, 4 * ndf, False) + BN * 4 * ndf
            + conv(4, 4 * ndf, 8 * ndf, False) + BN * 8 * ndf + conv(4, 8 * ndf, 1))


def eccv16_regression():
    """Zhang et al.'s ECCV16 net with the 313-bin head (conv 256->313 and
    the 313->2 decoding conv) replaced by one 1x1 conv 256->2."""
    blocks = [(1, 64, 2), (64, 128, 2), (128, 256, 3), (256, 512, 3), (512, 512, 3),
              (512, 512, 3), (512, 512, 3)]
    total = 0
    for cin, cout, n in blocks:
        total += conv(3, cin, cout) + (n - 1) * conv(3, cout, cout) + BN * cout
    total += conv(4, 512, 256) + 2 * conv(3, 256, 256)  # block 8
    return total + conv(1, 256, 2)


def test_unet_matches_pix2pix_published_count():
    # pix2pix prints "Total number of parameters: 54.414 M" for unet_256.
    assert pix2pix_unet_256(3, 3) == 54_413_955
    assert n_params(models.unet_generator(256, in_channels=3, out_channels=3, upsample="transpose")) == 54_413_955
    assert n_params(models.unet_generator(256, upsample="transpose")) == pix2pix_unet_256(1, 2) == 54_409_858


def test_resize_upsampling_unet_count():
    assert n_params(models.unet_generator(256)) == pix2pix_unet_256(1, 2, up_kernel=3)


@pytest.mark.parametrize("upsample,checkerboard", [("transpose", True), ("resize", False)])
def test_only_transposed_upsampling_draws_a_checkerboard(upsample, checkerboard):
    """A constant input must upsample to a constant output (away from the
    border); a 4x4 stride-2 transposed conv gives even and odd pixels
    different kernel taps, hence a period-2 pattern (Odena et al. 2016)."""
    keras.utils.set_random_seed(0)
    x = keras.Input((8, 8, 4))
    layer = keras.Model(x, generators._upsample(x, 3, upsample, "up"))
    out = layer(np.ones([1, 8, 8, 4], np.float32)).numpy()[0, 2:-2, 2:-2]
    spread = float(out.std(axis=(0, 1)).max())
    assert (spread > 1e-3) == checkerboard, spread


def test_patchgan_matches_pix2pix_published_count():
    # pix2pix's basic D on 6 channels: "2.769 M"; ours sees L + ab, 3 channels.
    assert patchgan(6) == 2_768_705
    assert n_params(models.patchgan_discriminator(256)) == patchgan(3) == 2_765_633


def test_colcol_matches_eccv16_count():
    assert eccv16_regression() == 32_155_458
    assert n_params(models.colcol_generator(256)) == 32_155_458 - conv(4, 512, 256) + conv(3, 512, 256)
    assert n_params(models.colcol_generator(256, upsample="transpose")) == 32_155_458


def test_gp_critic_has_no_batchnorm_and_linear_output():
    critic = models.gp_critic(64, width=0.25)
    kinds = {type(layer).__name__ for layer in critic.layers}
    assert "BatchNormalization" not in kinds
    assert critic.get_layer("score").activation.__name__ == "linear"


def test_wgan_critic_normalises_like_the_original():
    """BatchNorm after convs 2-4 (the authors' netD for 'wasserstein'), with
    offsets but no scales (a scale clipped to 0.005 would shrink every
    layer), and a linear output conv."""
    critic = models.wgan_critic(64, width=0.25)
    bns = [layer for layer in critic.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(bns) == 3 and all(bn.center and not bn.scale for bn in bns)
    convs = [layer for layer in critic.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.use_bias for c in convs] == [True, False, False, False, True]
    assert critic.get_layer("score").activation.__name__ == "linear"


@pytest.mark.parametrize("name", models.GENERATORS)
@pytest.mark.parametrize("size", [32, 64, 96, 128, 256])
def test_generator_shapes(name, size):
    g = models.build_generator(name, size, width=1 / 16)
    out = g(np.zeros([2, size, size, 1], np.float32), training=False)
    assert out.shape == (2, size, size, 2)
    assert float(tf.reduce_max(tf.abs(out))) <= 1.0  # tanh head


def test_unet_depth_follows_input_size():
    assert [models.unet_depth(s) for s in (32, 64, 96, 128, 256, 512)] == [5, 6, 5, 7, 8, 8]


@pytest.mark.parametrize("name", models.DISCRIMINATORS)
def test_discriminator_shapes(name):
    d = models.build_discriminator(name, 64, width=1 / 16)
    out = d([np.zeros([3, 64, 64, 1], np.float32), np.zeros([3, 64, 64, 2], np.float32)])
    want = (3,) if name == "ebgan" else (3, 6, 6, 1)  # PyTorch padding: 64->32->16->8->7->6
    assert tuple(out.shape) == want
    # The declaration the gradient-penalty check reads is the models' own.
    has_bn = any(isinstance(layer, keras.layers.BatchNormalization) for layer in d.layers)
    assert has_bn == (name in models.BATCHNORM_CRITICS)


def test_patchgan_receptive_field_is_70():
    """The input pixels that reach one output patch, found by gradient."""
    d = models.patchgan_discriminator(128, width=1 / 16)
    ab = tf.Variable(np.random.default_rng(0).normal(size=[1, 128, 128, 2]).astype(np.float32))
    l = tf.zeros([1, 128, 128, 1])
    with tf.GradientTape() as tape:
        out = d([l, ab], training=False)
        centre = out[0, out.shape[1] // 2, out.shape[2] // 2, 0]
    grad = np.abs(tape.gradient(centre, ab).numpy()[0]).sum(axis=-1)
    rows, cols = np.nonzero(grad)
    assert rows.max() - rows.min() + 1 == 70
    assert cols.max() - cols.min() + 1 == 70


def test_ebgan_is_conditional_on_l():
    d = models.ebgan_discriminator(32, width=1 / 8)
    ab = np.zeros([1, 32, 32, 2], np.float32)
    e0 = d([np.zeros([1, 32, 32, 1], np.float32), ab], training=False)
    e1 = d([np.ones([1, 32, 32, 1], np.float32), ab], training=False)
    assert float(e0[0]) != float(e1[0])


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="divisible by 8"):
        models.colcol_generator(36)
    with pytest.raises(ValueError, match="unknown generator"):
        models.build_generator("resnet", 64)


# --- the fast layers match Keras's own --------------------------------------------

def test_fused_batchnorm_matches_keras_batchnorm():
    """Same outputs, gradients and moving statistics as Keras's layer in
    training mode (biased batch variance), and the same variables."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(2.0, 3.0, [4, 5, 6, 3]).astype(np.float32))
    ours = models.BatchNorm(momentum=0.9, epsilon=1e-5)
    keras_bn = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
    ours.build(x.shape)
    keras_bn.build(x.shape)
    gamma, beta = rng.normal(size=3).astype(np.float32), rng.normal(size=3).astype(np.float32)
    for layer in (ours, keras_bn):
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
    upstream = tf.constant(rng.normal(size=x.shape).astype(np.float32))
    results = []
    for layer in (ours, keras_bn):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
        grads = tape.gradient(y, [x, layer.gamma, layer.beta], output_gradients=upstream)
        results.append([y, *grads, layer.moving_mean, layer.moving_variance])
    for a, b in zip(*results):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-4, atol=1e-4)
    # moving stats by hand: 0.9 * (0, 1) + 0.1 * (mean, biased variance)
    flat = x.numpy().reshape(-1, 3)
    np.testing.assert_allclose(ours.moving_mean.numpy(), 0.1 * flat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(ours.moving_variance.numpy(), 0.9 + 0.1 * flat.var(0), rtol=1e-5)
    assert [v.path for v in ours.weights] == [v.path.replace(keras_bn.name, ours.name)
                                              for v in keras_bn.weights]
    graph = tf.function(lambda v: ours(v, training=True)).get_concrete_function(
        tf.TensorSpec(x.shape)).graph
    assert "FusedBatchNormV3" in {op.type for op in graph.get_operations()}  # the fast path ran


def test_bilinear_upsampling_matches_keras_upsampling():
    x = tf.random.normal([2, 5, 7, 3])
    for factor in (2, 4):
        want = keras.layers.UpSampling2D(factor, interpolation="bilinear")(x)
        np.testing.assert_allclose(models.BilinearUpsampling(factor)(x), want, atol=1e-6)


def test_leaky_relu_in_bfloat16_matches_float32():
    x = tf.random.normal([2, 4, 4, 3])
    want = tf.nn.leaky_relu(x, 0.2)
    got = models.LeakyReLU(0.2, dtype="mixed_bfloat16")(tf.cast(x, tf.bfloat16))
    assert got.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(got, tf.float32), want, rtol=1e-2, atol=1e-2)


def test_leaky_relu_gradient_from_its_output_equals_tensorflows():
    x = tf.constant([-2.0, -0.5, 0.0, 0.5, 3.0])
    upstream = tf.constant([1.0, 2.0, 3.0, 4.0, 5.0])
    grads = []
    for fn in (lambda v: models.leaky_relu(v, 0.2), lambda v: tf.nn.leaky_relu(v, 0.2)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        grads.append(tape.gradient(y, x, output_gradients=upstream))
    np.testing.assert_allclose(grads[0], grads[1])
    np.testing.assert_allclose(grads[0], [0.2, 0.4, 0.6, 4.0, 5.0])  # by hand


def test_leaky_relu_second_order_gradient_equals_tensorflows():
    """A gradient penalty's gradient (WGAN-GP differentiates the critic's
    input gradient again) through conv, leaky_relu, conv: the same as
    through tf.nn.leaky_relu, in a compiled function as in training."""
    w1 = tf.random.stateless_normal([3, 3, 3, 8], [1, 2])
    w2 = tf.random.stateless_normal([3, 3, 8, 1], [3, 4])
    x = tf.random.stateless_normal([2, 8, 8, 3], [5, 6])

    @tf.function
    def penalty_gradient(activation):
        with tf.GradientTape() as outer:
            outer.watch([w1, w2])
            with tf.GradientTape() as inner:
                inner.watch(x)
                score = tf.reduce_sum(tf.nn.conv2d(
                    activation(tf.nn.conv2d(x, w1, 1, "SAME")), w2, 1, "SAME"))
            penalty = tf.square(tf.norm(inner.gradient(score, x)) - 1.0)
        return outer.gradient(penalty, [w1, w2])

    ours = penalty_gradient(lambda v: models.leaky_relu(v, 0.2))
    theirs = penalty_gradient(lambda v: tf.nn.leaky_relu(v, 0.2))
    for a, b in zip(ours, theirs):
        assert float(tf.reduce_max(tf.abs(b))) > 0
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_mixed_precision_computes_in_bfloat16_with_float32_outputs_and_weights():
    with models.precision("mixed_bfloat16"):
        g = models.build_generator("unet", 32, 1 / 16)
        d = models.build_discriminator("patchgan", 32, 1 / 16)
    assert keras.config.dtype_policy().name == "float32"  # restored after the block
    l, ab = tf.zeros([1, 32, 32, 1]), tf.zeros([1, 32, 32, 2])
    assert g(l).dtype == tf.float32 and d([l, ab]).dtype == tf.float32
    assert {v.dtype for v in g.weights + d.weights} == {"float32"}
    assert g.get_layer("down1").compute_dtype == "bfloat16"
    with pytest.raises(ValueError, match="precision"):
        with models.precision("float16"):
            pass


@pytest.mark.parametrize("flags, want", [("fpu avx512f avx512_bf16", True),
                                         ("fpu amx_bf16 amx_tile", True),
                                         ("fpu avx2 avx512f", False)])
def test_bfloat16_detection_reads_cpu_flags(tmp_path, flags, want):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert models.cpu_has_bfloat16(str(cpuinfo)) is want
    assert models.cpu_has_bfloat16(str(tmp_path / "missing")) is False


@pytest.mark.parametrize("name,logit_size", [("unet", 16), ("colcol", 8)])
def test_class_heads_and_their_decoding(name, logit_size):
    """Zhang's head: logits over the bins at a reduced size (the U-Net's last
    decoder level, half the input; colcol at a quarter, as Zhang's net);
    decoded() maps L to ab at the input size, within the bins' range."""
    from colorize import ab_bins, color

    bins = ab_bins.gamut_bins()
    g = models.build_generator(name, 32, width=1 / 16, classes=len(bins))
    assert g.output.shape[1:] == (logit_size, logit_size, len(bins))
    d = models.decoded(g, bins, 0.38)
    ab = d(tf.random.stateless_uniform([2, 32, 32, 1], [1, 2], -1.0, 1.0)).numpy()
    assert ab.shape == (2, 32, 32, 2)
    assert np.abs(ab).max() <= np.abs(bins).max() / color.AB_SCALE
    assert d.count_params() == g.count_params()  # the decoder adds no weights

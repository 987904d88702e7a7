"""colorize: GAN image colorization in TensorFlow 2."""
# tensorflow-io registers its file systems with TF (training reads shards
# through tf.io.gfile); importing it here also fails loudly if the pinned
# TF/tensorflow-io pair is mismatched.
import tensorflow_io  # noqa: F401

from colorize import color  # noqa: F401

__version__ = "0.1.0"

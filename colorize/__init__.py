"""colorize: GAN image colorization in TensorFlow 2."""
from colorize import color  # noqa: F401  (imports tensorflow-io: fails loudly if the pair is mismatched)

__version__ = "0.1.0"

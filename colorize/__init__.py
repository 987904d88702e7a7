"""colorize: GAN image colorization in TensorFlow 2.

Importing the package (or any module of it) changes nothing outside it:
the process-wide settings (TensorFlow's log level and log filters) belong
to the entry points (colorize.quiet.setup_process), and tensorflow-io is
imported only where its file systems are used (colorize.files)."""

__version__ = "0.1.0"

"""Install colorize and its pinned stack (TF 2.16 + tensorflow-io 0.37, a matched pair)."""
from setuptools import find_packages, setup

setup(
    name="colorize",
    version="0.1.0",
    description="GAN image colorization in TensorFlow 2 (Fabbri & Islam reproduction)",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    # Every CPython that TF 2.16 and tensorflow-io 0.37 publish wheels for
    # and that is still maintained; .ci/run proves each one.
    python_requires=">=3.10,<3.13",
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Operating System :: POSIX :: Linux",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
    packages=find_packages(include=["colorize", "colorize.*"]),
    py_modules=["train", "eval"],
    # The shipped SavedModel (colorize/pretrained/general), used by eval.py
    # when no model is named.
    package_data={"colorize": ["pretrained/*/*.pb", "pretrained/*/variables/*",
                               "pretrained/*/*.json"]},
    install_requires=[
        # tensorflow-io 0.37 ships native libraries built against TF 2.16:
        # with any other TF minor they fail to load, so the pair is pinned.
        # The CPU build: the full wheel registers its CUDA plugins twice and
        # prints "Unable to register cuDNN/cuFFT/cuBLAS factory" errors on
        # every start, GPU or not. For a GPU, see the README's Install.
        "tensorflow-cpu>=2.16.1,<2.17",
        # The Keras 3 minors the tests and smoke tests run on (3.7.0 broke
        # Dropout under MirroredStrategy: Keras minors do change behaviour):
        # 3.15 on Python 3.11+, 3.12 on 3.10 (Keras 3.13 dropped it).
        "keras>=3.12,<3.16",
        "tensorflow-io>=0.37.0,<0.38",
        "numpy>=1.23,<2",  # TF 2.16 is built against numpy 1.x
        "opencv-python-headless>=4.8,<5",
        "absl-py>=1.0",
        "tqdm>=4.60",
        # Image headers read without decoding (the pixel limit is checked
        # before any memory is spent) and GIF, which OpenCV does not read.
        "pillow>=9",
        # Ships the real colour photographs used as the offline built-in sample.
        "scikit-image>=0.21",
        # Colour from reference photos (colorize.reference): k-means colour
        # classes, PCA of the descriptors, the bandwidth's nearest neighbours.
        "scikit-learn>=1.3",
        # Its graph cuts: the max-flow of every alpha-expansion move
        # (wheels for CPython 3.10-3.12).
        "PyMaxflow>=1.3,<2",
        # Sparse matrices and their LU solve: Levin et al.'s colorization by
        # scribbles (colorize.levin).
        "scipy>=1.9",
    ],
    # moto: a local S3-compatible server for the remote-storage test.
    extras_require={"test": ["pytest>=7", "moto[server]>=5,<6"],
                    # bench/bench_scribbles.py's multigrid row (the solver it measures
                    # against the one colorize.levin uses).
                    "bench": ["pyamg>=5"]},
    entry_points={
        "console_scripts": [
            # Each the same program as its module or script, same flags.
            "colorize-data=colorize.cli:data",
            "colorize-train=colorize.cli:train",
            "colorize-eval=colorize.cli:eval",
            "colorize-export=colorize.cli:export",
        ]
    },
)

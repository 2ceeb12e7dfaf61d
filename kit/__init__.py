"""kit: a Kaggle competition starter kit and submission toolchain."""

__version__ = "0.1.0"

"""birdtui: a terminal experiment monitor for PyTorch image-classification training."""

__version__ = "0.1.0"

"""genai: train GANs and VAEs on MNIST and watch them learn."""

__version__ = "0.1.0"

"""pointgan: the PointGAN study ("the simplest GAN possible") as reproducible science."""

__version__ = "0.1.0"

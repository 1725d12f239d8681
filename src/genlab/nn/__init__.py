"""Reusable network blocks: embeddings, U-Net."""

from genlab.nn.embeddings import sinusoidal_embedding
from genlab.nn.unet import UNet

__all__ = ["UNet", "sinusoidal_embedding"]

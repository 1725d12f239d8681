"""Reusable network blocks: embeddings, U-Net, minibatch layers, differentiable augmentation."""

from genlab.nn.diffaug import diff_augment
from genlab.nn.embeddings import sinusoidal_embedding
from genlab.nn.minibatch import MinibatchDiscrimination, MinibatchStdDev
from genlab.nn.unet import UNet

__all__ = ["MinibatchDiscrimination", "MinibatchStdDev", "UNet", "diff_augment", "sinusoidal_embedding"]

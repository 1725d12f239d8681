"""genlab: train, sample, evaluate and publish deep generative models on a laptop CPU."""

__version__ = "0.1.0"

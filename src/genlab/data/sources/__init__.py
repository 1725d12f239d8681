"""Readers for data a user brings: folders and archives of images, IDX files, CIFAR binary, NumPy arrays."""

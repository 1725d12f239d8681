"""Detectors of generated images: a spectral baseline (log power spectrum + DCT statistics,
logistic regression) and a small CNN, with AUC/AP bootstrap intervals and robustness edits.

    from genlab.detect import train_detector, evaluate_detector, save_detector, load_detector
"""

from genlab.detect.cnn import CNNConfig, CNNDetector, DetectorCNN, fit_cnn
from genlab.detect.data import apply_attack, load_images, load_many, parse_attack
from genlab.detect.detector import Evaluation, config_for, evaluate_detector, train_detector
from genlab.detect.features import (
    azimuthal_average,
    dct_band_statistics,
    log_radial_spectrum,
    power_spectrum,
    spectral_features,
)
from genlab.detect.io import Detector, load_detector, save_detector
from genlab.detect.spectral import SpectralConfig, SpectralDetector, fit_spectral
from genlab.detect.stats import Interval, bootstrap_interval, threshold_at_fpr

__all__ = [
    "CNNConfig",
    "CNNDetector",
    "Detector",
    "DetectorCNN",
    "Evaluation",
    "Interval",
    "SpectralConfig",
    "SpectralDetector",
    "apply_attack",
    "azimuthal_average",
    "bootstrap_interval",
    "config_for",
    "dct_band_statistics",
    "evaluate_detector",
    "fit_cnn",
    "fit_spectral",
    "load_detector",
    "load_images",
    "load_many",
    "log_radial_spectrum",
    "parse_attack",
    "power_spectrum",
    "save_detector",
    "spectral_features",
    "threshold_at_fpr",
    "train_detector",
]

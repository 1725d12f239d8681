"""Evaluation: feature extractors, FID/KID/IS/precision-recall-density-coverage, the evaluator.

Metrics are pure functions of arrays (``genlab.eval.metrics``); extractors turn uint8
images into features (``genlab.eval.extractors``); :class:`Evaluator` puts them together
against a reference set, the same way for every model.
"""

from genlab.eval.evaluate import METRICS, Evaluator, Reference, load_reference
from genlab.eval.extractors import EXTRACTORS, get_extractor

__all__ = ["EXTRACTORS", "METRICS", "Evaluator", "Reference", "get_extractor", "load_reference"]

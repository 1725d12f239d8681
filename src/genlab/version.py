"""The package version (read by provenance, run configs and the web app; re-exported as ``genlab.__version__``)."""

__version__ = "0.1.0"

"""``genlab serve``: a local web app over the runs folder (gallery, sampler, latent explorer,
human-rating survey). FastAPI + uvicorn + Jinja2 templates; no build step, nothing loaded
from the internet. Bound to 127.0.0.1 unless told otherwise.
"""

from genlab.web.app import create_app

__all__ = ["create_app"]

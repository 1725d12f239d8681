"""Publishing primitives: marks and provenance that know images and bytes, nothing else.

- :mod:`~genlab.marks.visible` — the "AI GENERATED" band and tiled mark every PNG gets by default.
- :mod:`~genlab.marks.invisible` (+ :mod:`~genlab.marks.layout`, :mod:`~genlab.marks.ecc`) —
  the keyed spread-spectrum mark, ``genlab watermark embed|detect``.
- :mod:`~genlab.marks.provenance`, :mod:`~genlab.marks.signing`, :mod:`~genlab.marks.keys` —
  PNG text chunks, Ed25519 signatures, ``genlab keys new`` and ``genlab verify``.
- :mod:`~genlab.marks.png` — the one path every PNG takes (``genlab.data.save_png``).
- :mod:`~genlab.marks.attacks`, :mod:`~genlab.marks.iwm` — the benchmark's edits and the
  optional invisible-watermark (dwtDctSvd) comparison.

This package sits low (beside data and nn): it imports only ``genlab.errors`` and
``genlab.atomic``. Orchestration that reads runs (model cards) lives in :mod:`genlab.publish`.
"""

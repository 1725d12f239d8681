"""Responsible publishing: visible and invisible watermarks, signed provenance, model cards.

- :mod:`~genlab.publish.visible` — the "AI GENERATED" band and tiled mark every PNG gets by default.
- :mod:`~genlab.publish.invisible` (+ :mod:`~genlab.publish.layout`, :mod:`~genlab.publish.ecc`) —
  the keyed spread-spectrum mark, ``genlab watermark embed|detect``.
- :mod:`~genlab.publish.provenance`, :mod:`~genlab.publish.signing`, :mod:`~genlab.publish.keys` —
  PNG text chunks, Ed25519 signatures, ``genlab keys new`` and ``genlab verify``.
- :mod:`~genlab.publish.png` — the one path every PNG takes (``genlab.data.save_png``).
- :mod:`~genlab.publish.card` — ``card.md`` for a run directory, ``genlab card``.
- :mod:`~genlab.publish.attacks`, :mod:`~genlab.publish.iwm` — the benchmark's edits and the
  optional invisible-watermark (dwtDctSvd) comparison.

Nothing is imported here: ``genlab.data`` imports the visible mark from this package, so
the package itself must not pull in the layers above it.
"""

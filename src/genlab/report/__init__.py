"""Compare runs side by side and write a static HTML report (``genlab compare``, ``genlab report``).

- :mod:`genlab.report.measures` — pure functions: interpolation smoothness, linear probe, sharpness, spread.
- :mod:`genlab.report.measure` — one run on every axis (evaluation suite, NLL, latent codec, compute).
- :mod:`genlab.report.sampling` — sampling speed and peak memory, timed in a fresh process.
- :mod:`genlab.report.train` — families trained under one equal wall-clock budget.
- :mod:`genlab.report.table` — groups over seeds, the five-axis table, the textbook verdicts.
- :mod:`genlab.report.figures`, :mod:`genlab.report.templates`, :mod:`genlab.report.markdown`,
  :mod:`genlab.report.build` — the report folder (HTML, Markdown, figures).
"""

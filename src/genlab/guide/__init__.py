"""The guide's figures and tables (docs/guide/), all made by ``genlab docs build``.

- :mod:`~genlab.guide.theory` — closed forms: the optimal discriminator, generator
  gradients, W1 against JSD, the ᾱ_t schedules, the worked KL examples (seconds).
- :mod:`~genlab.guide.measured` — on data: a 1-D GAN against a KDE, the forward process
  on MNIST digits, FID's bias at small sample sizes (about a minute on one thread).
- :mod:`~genlab.guide.build` — runs them, writes ``figures/build.json`` and refreshes the
  pages' include blocks so every number on a page is the one the build measured.
"""

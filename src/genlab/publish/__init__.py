"""Publishing a run: its model card (``card.md``, ``genlab card``), built on the marks in
:mod:`genlab.marks` and the run files in :mod:`genlab.runs`."""

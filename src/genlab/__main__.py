"""``python -m genlab`` is the same as the ``genlab`` command."""

from genlab.cli import console_main

console_main()

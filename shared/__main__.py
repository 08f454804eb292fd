"""``python -m lookout``: the ``lookout`` command, run by this very interpreter."""

from lookout._tools.cli import main

main()

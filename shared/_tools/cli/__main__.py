"""``python -m lookout._tools.cli``: the ``lookout`` command without the installed script."""

from lookout._tools.cli import main

main()

"""``python -m shared._cli``: the ``lookout`` command without the installed script."""

from shared._cli import main

main()

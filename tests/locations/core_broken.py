"""A code location that fails while loading, on a known line."""

import lookout as dg

VALUE = 1 / 0

defs = dg.Definitions()

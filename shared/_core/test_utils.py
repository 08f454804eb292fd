"""``lookout._core.test_utils``: where Dagster's tests import ``instance_for_test`` from.

Dagster's examples write ``from dagster._core.test_utils import
instance_for_test``; with only the import changed that path must work here
too.  This module only re-exports the author API's test helpers, so it sits
on the public face's layer (tests/test_import_layers.py), not the core's.
"""

from lookout._author.testing import instance_for_test

__all__ = ["instance_for_test"]

"""The workers: the Celery app, tick evaluation and commit, the launcher, runs.

A process layer beside ``lookout.scheduler``: it may import
``lookout._process``, the core, the author API and the base, never the tools.
"""

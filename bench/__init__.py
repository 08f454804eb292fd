"""Benchmarks of lookout against the raw Celery/Redis engine (see bench/RESULTS.md)."""

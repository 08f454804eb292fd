"""Selectors a run-status sensor's ``monitored_jobs`` may hold, as Dagster names them.

lookout runs one code location per deployment, so a ``JobSelector`` names a
job by its name and a ``CodeLocationSelector`` stands for every job there.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobSelector:
    """One job, in a code location (and repository) or in this one."""

    job_name: str
    location_name: str | None = None
    repository_name: str | None = None

    @property
    def name(self) -> str:
        return self.job_name


@dataclass(frozen=True)
class CodeLocationSelector:
    """Every job of a code location."""

    location_name: str
    repository_name: str | None = None


@dataclass(frozen=True)
class RepositorySelector:
    """Every job of a repository of a code location."""

    location_name: str
    repository_name: str

"""Run retries, as Dagster's run retries (``dagster/max_retries``) define them.

A run that FAILS is retried when its ``dagster/max_retries`` tag (or, without
it, ``Settings.run_max_retries``) allows another attempt: attempt n of a
chain is the run tagged ``dagster/retry_number=n``, so a run with
``max_retries=2`` that always fails gives three runs.  As in Dagster:

- whoever moves the run to FAILURE decides, with the move, whether it will be
  retried, and the FAILURE event carries ``dagster/will_retry`` in its tags;
  run-failure sensors fire for every failed run of the chain, including the
  ones that will be retried (Dagster's do: they look at no retry tag);
- the retry is a new run of the same job, run config, tags and asset
  selection, tagged ``dagster/parent_run_id``, ``dagster/root_run_id`` and
  ``dagster/retry_number``; the failed run records it as its retry
  (``dagster/auto_retry_run_id`` in Dagster);
- a failure of one of the job's steps is not retried when the run's
  ``dagster/retry_on_asset_or_op_failure`` tag is ``false``; a run whose
  worker died is;
- an unknown ``dagster/retry_strategy`` falls back to FROM_FAILURE.

The strategies: with ALL_STEPS Dagster runs every step of the job again; with
FROM_FAILURE (the default) only the steps that failed or did not run, loading
the outputs of the others from the parent run's IO manager.  lookout keeps a
step's output only in the memory of the process that ran it, so there is
nothing to load: a FROM_FAILURE retry runs the steps that failed or did not
run and, again, every step whose output they take.  Only the steps that
succeeded and that nothing left to run needs are left out, and only when
the steps to run are all assets (the retry's selection is an asset
selection); otherwise, and when the worker died (which steps succeeded is
not known), it runs the failed run's whole selection.  The retry is tagged
``dagster/is_resume_retry=true`` as Dagster tags it.

The failed run joins a retry list in the same atomic step as its failure; a
launcher takes it from there (``Retrier``) and creates the retry with one
script keyed by the failed run and the attempt, so a launcher killed at any
point, or two launchers at once, still give one retry per attempt.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from lookout._author.definitions import Definitions
from lookout._author.ops import JobDefinition
from lookout._author.run_events import RunFacts, status_event
from lookout._author.selection import select_steps
from lookout._base.errors import CodecError, DefinitionError
from lookout._base.wire import RunRecord
from lookout._core.settings import Settings
from lookout._core.storage import RunStore

log = logging.getLogger(__name__)

MAX_RETRIES_TAG = "dagster/max_retries"
RETRY_STRATEGY_TAG = "dagster/retry_strategy"
RETRY_ON_STEP_FAILURE_TAG = "dagster/retry_on_asset_or_op_failure"
RETRY_NUMBER_TAG = "dagster/retry_number"
PARENT_RUN_ID_TAG = "dagster/parent_run_id"
ROOT_RUN_ID_TAG = "dagster/root_run_id"
WILL_RETRY_TAG = "dagster/will_retry"
RESUME_RETRY_TAG = "dagster/is_resume_retry"
STRATEGIES = ("FROM_FAILURE", "ALL_STEPS")
DEFAULT_STRATEGY = "FROM_FAILURE"
# A retry does not inherit these tags of the run it retries (Dagster's
# TAGS_TO_MAYBE_OMIT_ON_RETRY, less the backfill tags lookout does not set).
_NOT_INHERITED = frozenset(
    {
        "dagster/failure_reason",
        RETRY_NUMBER_TAG,
        RESUME_RETRY_TAG,
        WILL_RETRY_TAG,
        "dagster/auto_retry_run_id",
    }
)
# Retry run ids derive from the failed run's id and the attempt.
_RETRY_NAMESPACE = uuid.UUID("6c6f6f6b-6f75-7452-6574-727952756e73")


def attempt_of(record: RunRecord) -> int:
    """Which attempt of its chain a run is: 0 for the first run, n for retry n."""
    try:
        return max(0, int(record.tags.get(RETRY_NUMBER_TAG, "0")))
    except ValueError:
        return 0


def max_retries(tags: Mapping[str, str], settings: Settings) -> int:
    """The retries a run's chain may have: its tag, else the deployment's default."""
    raw = tags.get(MAX_RETRIES_TAG)
    if raw is None:
        return settings.run_max_retries
    try:
        return int(raw)
    except ValueError:
        # Dagster warns and does not retry.
        log.warning("tag %s=%r is not an integer: the run is not retried", MAX_RETRIES_TAG, raw)
        return 0


def will_retry(record: RunRecord, settings: Settings, *, step_failed: bool) -> bool:
    """Whether ``record``, failing now, gets a retry (``step_failed``: one of its steps raised).

    The record's tags are the run's: give it its job's too (``with_job_tags``).
    """
    on_step_failure = record.tags.get(RETRY_ON_STEP_FAILURE_TAG, "true").lower() != "false"
    if step_failed and not on_step_failure:
        return False
    return attempt_of(record) < max_retries(record.tags, settings)


def with_job_tags(definitions: Definitions, record: RunRecord) -> RunRecord:
    """``record`` with its job's tags under its own, as the run executes with them.

    A job's tags are the run's in Dagster, so ``@job(tags={"dagster/max_retries":
    "3"})`` retries every run of the job.
    """
    if not definitions.has_job(record.job_name):
        return record
    job_tags = {k: str(v) for k, v in definitions.get_job(record.job_name).tags.items()}
    return replace(record, tags={**job_tags, **record.tags})


def with_will_retry(record: RunRecord, retry: bool) -> RunRecord:
    """``record`` with Dagster's ``dagster/will_retry`` tag, as its FAILURE event shows it."""
    return replace(record, tags={**record.tags, WILL_RETRY_TAG: "true" if retry else "false"})


def retry_run_id(failed_run_id: str, attempt: int) -> str:
    """The id of attempt ``attempt`` retrying ``failed_run_id``: the same every time."""
    return str(uuid.uuid5(_RETRY_NAMESPACE, f"{failed_run_id}:{attempt}"))


def strategy_of(tags: Mapping[str, str]) -> str:
    """The run's ``dagster/retry_strategy``; an unknown one is FROM_FAILURE, as in Dagster."""
    raw = tags.get(RETRY_STRATEGY_TAG)
    if raw is None:
        return DEFAULT_STRATEGY
    if raw not in STRATEGIES:
        log.warning("unknown %s=%r: retrying %s", RETRY_STRATEGY_TAG, raw, DEFAULT_STRATEGY)
        return DEFAULT_STRATEGY
    return raw


def resume_selection(job: JobDefinition, failed: RunRecord) -> list[str] | None:
    """The asset selection of a FROM_FAILURE retry of ``failed``, a run of ``job``.

    The steps that failed or did not run, and the ones they take an output
    from (outputs are not kept, so those run again): every other step that
    succeeded is left out.  The failed run's own selection when that cannot
    be said as asset keys (an op must run, or which steps succeeded is not
    known) or leaves nothing out.
    """
    if failed.succeeded_steps is None:
        return failed.asset_selection
    try:
        steps = select_steps(job, failed.asset_selection)
    except DefinitionError:  # the job changed since: the retry's run will say how
        return failed.asset_selection
    done = set(failed.succeeded_steps)
    needed = {s.name for s in steps if s.name not in done}
    for step in reversed(steps):  # plan order: a step's inputs come before it
        if step.name in needed:
            needed.update(step.inputs.values())
    keys = [s.asset_key.to_user_string() for s in steps if s.name in needed and s.asset_key]
    if not needed or len(needed) == len(steps) or len(keys) < len(needed):
        return failed.asset_selection
    return keys


def retry_record(failed: RunRecord, now: float, job: JobDefinition | None = None) -> RunRecord:
    """The QUEUED retry of ``failed``: same job, config, selection and request, linked to it.

    Given the ``job``, a FROM_FAILURE retry leaves out the steps it need not
    run again (``resume_selection``).
    """
    attempt = attempt_of(failed) + 1
    tags = {k: v for k, v in failed.tags.items() if k not in _NOT_INHERITED}
    tags[PARENT_RUN_ID_TAG] = failed.run_id
    tags[ROOT_RUN_ID_TAG] = failed.tags.get(ROOT_RUN_ID_TAG, failed.run_id)
    tags[RETRY_NUMBER_TAG] = str(attempt)
    selection = failed.asset_selection
    job_tags = {} if job is None else {k: str(v) for k, v in job.tags.items()}
    if strategy_of({**job_tags, **failed.tags}) == "FROM_FAILURE":
        tags[RESUME_RETRY_TAG] = "true"
        if job is not None:
            selection = resume_selection(job, failed)
    return RunRecord(
        run_id=retry_run_id(failed.run_id, attempt),
        job_name=failed.job_name,
        status="QUEUED",
        created_at=now,
        request_id=failed.request_id,
        sensor=failed.sensor,
        tick_id=failed.tick_id,
        run_key=failed.run_key,
        partition_key=failed.partition_key,
        tags=tags,
        run_config=dict(failed.run_config),
        asset_selection=None if selection is None else list(selection),
    )


class Retrier:
    """The launcher's part: create and enqueue the retries of the runs on the retry list.

    Each step may be repeated: creating is idempotent per (failed run,
    attempt), a retry is enqueued unless its record says it was, and the
    failed run leaves the list only after that.  A launcher killed anywhere
    in between leaves the failed run on the list for the next round.
    """

    def __init__(
        self,
        definitions: Definitions,
        runs: RunStore,
        submit: Callable[[Sequence[str]], None],
        batch: int,
    ) -> None:
        self.definitions = definitions
        self.runs = runs
        self.submit = submit
        self.batch = batch
        self.retried = 0

    def _records(self, run_ids: Sequence[str]) -> list[RunRecord]:
        """The records of ``run_ids`` that exist; one that cannot be read is left out, logged.

        Left out, it leaves the retry list unretried, rather than stop every
        retry behind it (invariant 9).
        """
        try:
            return self.runs.get_many(run_ids)
        except CodecError:
            found = []
            for run_id in run_ids:
                try:
                    record = self.runs.get(run_id)
                except CodecError as exc:
                    log.error("run %s is not retried: its record cannot be read (%s)", run_id, exc)
                    continue
                if record is not None:
                    found.append(record)
            return found

    def round(self, now: float) -> int:
        """Handle up to one batch of the retry list; how many failed runs it took off."""
        failed_ids = self.runs.to_retry(self.batch)
        if not failed_ids:
            return 0
        found = {r.run_id: r for r in self._records(failed_ids)}
        gone = [i for i in failed_ids if i not in found]
        wanted: list[RunRecord] = []
        for failed in found.values():
            if self.definitions.has_job(failed.job_name):
                wanted.append(failed)
            else:
                # As Dagster's daemon: a job no longer defined is not retried.
                log.warning(
                    "run %s is not retried: job '%s' is not defined in this code location",
                    failed.run_id,
                    failed.job_name,
                )
                gone.append(failed.run_id)
        retries = [retry_record(f, now, self.definitions.get_job(f.job_name)) for f in wanted]
        created = self.runs.retry(
            [
                (f.run_id, r, status_event(RunFacts.of_record(r), r.status, now))
                for f, r in zip(wanted, retries, strict=True)
            ]
        )
        for failed, made in zip(wanted, created, strict=True):
            if made is not None and made.created:
                log.info("run %s failed: launched %s as its retry", failed.run_id, made.run_id)
        self.retried += sum(bool(c and c.created) for c in created)
        to_submit = [c.run_id for c in created if c and c.status == "QUEUED" and not c.enqueued]
        if to_submit:
            self.submit(to_submit)
            self.runs.mark_enqueued(to_submit, now)
        self.runs.retried([*gone, *(f.run_id for f in wanted)])
        return len(failed_ids)

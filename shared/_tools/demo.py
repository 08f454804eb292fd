"""The README's first command: tick the example sensors once against an embedded Redis."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from lookout._base.wire import TickRecord
from lookout._core.redis_url import masked_url
from lookout._core.settings import Settings
from lookout._core.storage import Repositories
from lookout._process.tick import tick_runner
from lookout._tools.location import load_definitions
from lookout._tools.operator import sync_definitions
from lookout._tools.redis_server import EmbeddedRedis

DEMO_MODULES = (
    "examples.guide_basic",
    "examples.file_sensor",
    "examples.structured_cursor",
    "examples.skip_sensor",
)


@contextlib.contextmanager
def redis_for(settings: Settings, *, embedded: bool) -> Iterator[Settings]:
    """An embedded redis-server's settings when ``embedded``, else ``settings`` as they are."""
    if not embedded:
        yield settings
        return
    with EmbeddedRedis() as server:
        yield Settings(**{**settings.__dict__, "redis_url": server.url})


def run_demo(
    modules: Sequence[str],
    settings: Settings,
    echo: Callable[[str], None],
    render: Callable[[TickRecord], str],
    *,
    embedded: bool,
    rounds: int = 2,
) -> None:
    """Load each module, then tick each of its sensors ``rounds`` times and print the ticks.

    The example modules read their folder from ``LOOKOUT_EXAMPLE_DIR`` when
    they are imported, so the demo sets it (unless the user did) before it
    loads them.
    """
    with tempfile.TemporaryDirectory(prefix="lookout-demo-") as watched:
        for i in range(3):
            (Path(watched) / f"file{i}.csv").write_text(f"row {i}\n")
        (Path(watched) / "orders.log").write_text("order 1\norder 2\n")
        os.environ.setdefault("LOOKOUT_EXAMPLE_DIR", watched)
        with redis_for(settings, embedded=embedded) as live:
            echo(f"redis: {masked_url(live.redis_url)}")
            storage = Repositories.from_settings(live)
            storage.server.ping()
            runners = []
            for module in modules:
                defs = load_definitions(module=module)
                sync_definitions(defs, storage.sensors)
                runners.append((module, tick_runner(defs, storage, live)))
            for round_no in range(1, rounds + 1):
                echo(f"\n== round {round_no}")
                for module, runner in runners:
                    for sensor in runner.definitions.sensors:
                        record = runner.tick(sensor.name)
                        if record is not None:
                            echo(f"[{module}] " + render(record))
                _something_happens(Path(watched))
            launched = storage.launches.requests()
            echo(f"\n{len(launched)} run request(s) on the launch stream:")
            for _, req in launched:
                echo(
                    f"  {req.request_id}  job={req.job_name}  run_key={req.run_key!r}  "
                    f"tags={req.tags}"
                )


def _something_happens(watched: Path) -> None:
    """Between two rounds: a file changes and a stream grows, so the second round sees it."""
    time.sleep(0.01)  # a later mtime than any file of the first round
    (watched / "late.csv").write_text("late\n")
    with (watched / "orders.log").open("a") as handle:
        handle.write("order 3\n")

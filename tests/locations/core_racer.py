"""A process that ticks one sensor in a loop: two of these race on the same sensor."""

import sys
import time

from lookout import Settings
from lookout.testing import (
    TickInFlightError,
    load_definitions,
    open_repositories,
    tick_runner,
)


def main() -> None:
    sensor, wanted = sys.argv[1], int(sys.argv[2])
    settings = Settings.from_env()
    runner = tick_runner(
        load_definitions(module="tests.locations.core_sensors"),
        open_repositories(settings),
        settings,
    )
    done, deadline = 0, time.monotonic() + 60
    while done < wanted and time.monotonic() < deadline:
        try:
            if runner.tick(sensor) is not None:
                done += 1
        except TickInFlightError:
            time.sleep(0.0005)
    print(f"committed {done}")


if __name__ == "__main__":
    main()

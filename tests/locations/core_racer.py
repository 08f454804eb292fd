"""A process that ticks one sensor in a loop: two of these race on the same sensor."""

import sys
import time

from lookout import Settings
from lookout._core.storage import Storage
from lookout._process.tick import TickInFlightError, TickRunner
from lookout._tools.location import load_definitions


def main() -> None:
    sensor, wanted = sys.argv[1], int(sys.argv[2])
    settings = Settings.from_env()
    runner = TickRunner(
        load_definitions(module="tests.locations.core_sensors"),
        Storage.from_settings(settings),
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

"""Driver overhead per iteration: see `tfdrive.benchmarks.driver_overhead`."""

from tfdrive.benchmarks.driver_overhead import main

if __name__ == "__main__":
    main()

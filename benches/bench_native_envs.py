"""Native env stepping alone: see `tfdrive.benchmarks.env_stepping`."""

from tfdrive.benchmarks.env_stepping import main

if __name__ == "__main__":
    main()

"""`python -m tfdrive ...`: the `tfdrive` command (see `tfdrive.cli`)."""

import sys

from tfdrive.cli import main

if __name__ == "__main__":
    sys.exit(main())

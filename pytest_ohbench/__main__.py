"""`python -m pytest_ohbench`: summary, compare, list and report on run folders (see tools/cli.py)."""

import sys

from pytest_ohbench.tools.cli import main

sys.exit(main())

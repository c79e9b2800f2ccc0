"""``python -m planner.cli``: the same as the ``plan`` console script."""

import sys

from planner.cli.app import main

sys.exit(main())

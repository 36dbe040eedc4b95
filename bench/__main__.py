"""`python -m bench` (from the repository's root): the benchmark; see bench/__init__.py."""

import sys

from .cli import main

sys.exit(main())

"""``python -m aekit``: the command line (what ``torchrun -m aekit train ...`` starts)."""

import sys

from .cli import main

sys.exit(main())

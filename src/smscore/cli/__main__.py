"""``python -m smscore.cli``: the same as the ``smscore`` console script."""

import sys

from smscore.cli import main

sys.exit(main())

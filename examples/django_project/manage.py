#!/usr/bin/env python
"""The example project's command line: ``python manage.py migrate`` then ``python manage.py send_demo_sms``."""

import os
import sys
from pathlib import Path


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
    try:
        import smscore  # noqa: F401
    except ImportError:
        # Run from a checkout without installing: use the packages next door.
        sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()

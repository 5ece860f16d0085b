"""A process for the recipient-limit race: send ``otp`` messages to one number, then print how many went out.

Usage: ``python -m tests.sqlalchemy.limit_worker DATABASE_URL READY_FILE GO_FILE ATTEMPTS``. It builds the service
(limit: 5 ``otp`` messages per hour), creates READY_FILE, waits for GO_FILE so that every process starts at the same
moment, tries ATTEMPTS sends and prints ``{"sent": n, "refused": m}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import smscore
from tests.sqlalchemy.together import wait_for

LIMIT = 5
RECIPIENT = "+420777123456"


def main(argv: list[str]) -> int:
    """Send until the attempts are used up; print what happened."""
    url, ready, go, attempts = argv[1], Path(argv[2]), Path(argv[3]), int(argv[4])
    config = {
        "storage": "sqlalchemy",
        "database_url": url,
        "provider": "dummy",
        "recipient_limits": {"otp": {"count": LIMIT, "per": "1h"}},
    }
    sent = refused = 0
    with smscore.build_service(config) as service:
        if not wait_for(ready, go):
            return 3
        for _ in range(attempts):
            try:
                service.send(RECIPIENT, "Your code is 1234", tag="otp")
                sent += 1
            except smscore.RecipientRateLimitedError:
                refused += 1
    print(json.dumps({"sent": sent, "refused": refused}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

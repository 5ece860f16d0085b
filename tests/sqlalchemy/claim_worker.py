"""A worker process for the concurrency tests: claim messages until none are due, then print their ids as JSON.

Usage: ``python -m tests.sqlalchemy.claim_worker DATABASE_URL READY_FILE GO_FILE``. It opens the storage, creates
READY_FILE, waits for GO_FILE (so every worker starts claiming at the same moment), and claims three at a time.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

from adapters_sqlalchemy.storage import build_storage
from smscore import SMSConfig
from tests.contracts.repositories import T0
from tests.sqlalchemy.together import wait_for


def main(argv: list[str]) -> int:
    """Claim until nothing is left; print the claimed ids."""
    url, ready, go = argv[1], Path(argv[2]), Path(argv[3])
    storage = build_storage(SMSConfig(storage="sqlalchemy", database_url=url))
    try:
        if not wait_for(ready, go):
            return 3
        claimed: list[int] = []
        while batch := storage.messages.claim(now=T0, lease_until=T0 + timedelta(minutes=5), limit=3):
            claimed.extend(message.id or 0 for message in batch)
    finally:
        storage.close()
    print(json.dumps(claimed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

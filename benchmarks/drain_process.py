"""One outbox worker process of the scaling benchmark, driven over stdin by ``postgres.py``.

It connects, prints ``ready``, waits for ``go``, drains the outbox until a claim comes back empty, prints
``done``, and keeps its connections open until stdin closes, so that the database CPU of its connection can be
read while its backend still exists.
"""

from __future__ import annotations

import json
import sys

import smscore


def main() -> None:
    config = json.loads(sys.argv[1])
    options = {
        "username": "user",
        "password": "secret",
        "project_keyword": "kw",
        "output_sender_number": "ACME",
        "url": config["gateway"],
        "max_batch_size": 100,
    }
    service = smscore.build_service(
        {
            "storage": "sqlalchemy",
            "database_url": config["url"],
            "provider": "ats",
            "provider_options": options,
            "batch_sending": True,
            "batch_size": 500,
        }
    )
    service.messages.count()  # connect now, outside the measured drain
    print("ready", flush=True)
    assert sys.stdin.readline().strip() == "go"
    while service.process_outbox().claimed:
        pass
    print("done", flush=True)
    sys.stdin.read()
    service.close()


if __name__ == "__main__":
    main()

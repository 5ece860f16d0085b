"""A loopback ATS gateway in its own process, driven over stdin, for the benchmark.

Run in the benchmark's process, the gateway's threads would take turns with the measured code for the GIL, and
both our figures and their limits would measure that contention instead. Commands, one per line: ``count``
(requests served), ``dump PATH`` (pickle the recorded request bodies to PATH), ``quit``.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.providers.fake_gateways import ATSGateway, Reply


def main() -> None:
    options = json.loads(sys.argv[1])
    gateway = ATSGateway(username="user", password="secret", keep_requests=options["keep_requests"])
    if options.get("code") is not None:
        gateway.default = Reply(code=options["code"])
    print(gateway.url, flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "count":
            print(gateway.request_count, flush=True)
        elif command == "dump":
            Path(argument).write_bytes(pickle.dumps([request.body for request in gateway.requests]))
            print("ok", flush=True)
        elif command == "quit":
            break
    gateway.close()


if __name__ == "__main__":
    main()

"""Regenerate ``twilio_openapi_messages.json`` from Twilio's OpenAPI description of the 2010-04-01 API.

Usage (the description ships in the npm package ``@twilio/cli-core``, MIT licence)::

    cd "$(mktemp -d)" && npm pack @twilio/cli-core && tar xzf twilio-cli-core-*.tgz
    python tests/providers/golden/twilio_openapi_extract.py \\
        package/src/services/twilio-api/twilio_api_v2010.json "$(jq -r .version package/package.json)"

Only the parts the Twilio tests check are kept, verbatim: the create-message form body, the fetch path
parameters and the Message resource, with the enums they refer to.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

CREATE = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
FETCH = "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json"
MESSAGE = "api.v2010.account.message"


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    return set()


def extract(description: dict[str, Any], package_version: str) -> dict[str, Any]:
    """The subset of ``description`` the tests use."""
    create = description["paths"][CREATE]["post"]
    fetch = description["paths"][FETCH]["get"]
    schemas = description["components"]["schemas"]
    request = create["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    kept = {"CreateMessageRequest": request, MESSAGE: schemas[MESSAGE]}
    for name in sorted(_refs(request) | _refs(schemas[MESSAGE])):
        kept[name] = schemas[name]
    return {
        "source": {
            "package": "@twilio/cli-core",
            "package_version": package_version,
            "file": "src/services/twilio-api/twilio_api_v2010.json",
            "openapi": description["openapi"],
            "info": {k: description["info"][k] for k in ("title", "version", "license")},
        },
        "paths": {
            "create": {
                "path": CREATE,
                "method": "post",
                "parameters": create["parameters"],
                "response_status": sorted(create["responses"]),
            },
            "fetch": {
                "path": FETCH,
                "method": "get",
                "parameters": fetch["parameters"],
                "response_status": sorted(fetch["responses"]),
            },
        },
        "security": description.get("security"),
        "components": {"schemas": kept},
    }


if __name__ == "__main__":
    source = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    target = Path(__file__).with_name("twilio_openapi_messages.json")
    target.write_text(json.dumps(extract(source, sys.argv[2]), indent=1, sort_keys=True) + "\n", encoding="utf-8")

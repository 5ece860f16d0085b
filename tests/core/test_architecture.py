"""The dependency rule: the core imports no framework, ORM, SDK or HTTP client."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ["django", "sqlalchemy", "alembic", "boto3", "botocore", "twilio", "httpx", "celery", "psycopg"]


def test_import_linter_contracts_are_kept() -> None:
    """lint-imports (contracts in pyproject.toml) passes."""
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    result = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout
    assert " 0 broken" in result.stdout


def test_importing_smscore_loads_no_adapter_dependency() -> None:
    """A fresh interpreter importing smscore (and building a service) has none of the heavy packages loaded."""
    code = (
        "import json, sys, smscore\n"
        "smscore.build_service({'storage': 'memory', 'provider': 'dummy'}).send('+420777123456', 'x')\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []

"""A first look at smscore: ``make demo`` (or ``python -m smscore.demo``).

It runs the ``smscore`` command line against the embedded default: messages are stored in ``smscore.db`` (SQLite)
in the current directory and handed to the dummy provider, so nothing is really sent. It sends two messages,
one plain and one from a template it creates when missing, then lists them and shows the counts. Run it again:
the file keeps every message from before.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from smscore.bootstrap import build_service
from smscore.cli import DEFAULTS
from smscore.cli import main as cli
from smscore.config import load_config
from smscore.errors import SMSError, TemplateNotFoundError

__all__ = ["main"]

RECIPIENT = "+420777123456"
TEMPLATE_SLUG = "welcome"
TEMPLATE_BODY = "Hello {{ name }}, welcome to smscore! Your code is {{ code }}."


def _step(title: str, args: Sequence[str]) -> None:
    """Explain a step, show the command, run it; stop the demo when it fails."""
    print(f"\n# {title}")
    print(f"$ smscore {shlex.join(args)}", flush=True)
    status = cli(list(args))
    sys.stdout.flush()
    if status != 0:
        raise SystemExit(status)


def _has_template(slug: str) -> bool:
    """Whether the default storage already holds the template (so a second run does not add it again)."""
    with build_service(load_config(defaults=DEFAULTS)) as service:
        try:
            service.templates.get(slug)
        except TemplateNotFoundError:
            return False
    return True


def main() -> int:
    """Run the demo in the current directory; return the exit status."""
    print("smscore demo: messages are stored in ./smscore.db and sent with the dummy provider (nothing leaves")
    print("this machine). Every step below is a command you can run yourself.")
    _step("Send a plain message:", ["send", RECIPIENT, "Your parcel is on its way.", "--tag", "demo"])
    try:
        exists = _has_template(TEMPLATE_SLUG)
    except SMSError as exc:
        print(f"smscore demo: {exc}", file=sys.stderr)
        return 1
    if exists:
        print(f"\n# The template {TEMPLATE_SLUG!r} is already stored (from an earlier run).")
    else:
        _step("Store a template (Jinja2 syntax):", ["template", "add", TEMPLATE_SLUG, TEMPLATE_BODY])
    _step(
        "Send a message rendered from the template:",
        ["send-template", RECIPIENT, TEMPLATE_SLUG, "--var", "name=Eva", "--var", "code=4711", "--tag", "demo"],
    )
    _step("List the newest messages:", ["messages", "--limit", "5"])
    _step("Count messages per provider and state:", ["stats"])
    print("\nThe dummy provider puts every message in the DEBUG state. The messages stay in ./smscore.db: run the")
    print("demo again, or 'smscore messages', and they are still there. Configure a real provider in smscore.toml")
    print("(see the README).")
    print(_how_to_run())
    return 0


def _how_to_run() -> str:
    """Where the installed ``smscore`` command is, said so that it can be typed as shown."""
    script = Path(sys.executable).with_name("smscore")
    on_path = shutil.which("smscore")
    if on_path is not None and Path(on_path).resolve() == script.resolve():
        return "Next: 'smscore --help'."
    relative = os.path.relpath(script)
    shown = relative if not relative.startswith("..") else str(script)
    activate = Path(shown).with_name("activate")
    return f"Next: '{shown} --help' (or 'source {activate}' once, then 'smscore --help')."


if __name__ == "__main__":
    sys.exit(main())

"""Photograph the ``smscore`` command line in a real terminal: tmux runs each scene's commands, headless Chromium
draws the captured screen, and the PNG files land in docs/screenshots/ (``cli-<scene>.png``).

Run it with ``make screenshots`` (together with the admin's pictures), or by hand::

    apt-get install tmux chromium                 # the terminal and the browser; Playwright's own download is unused
    .venv/bin/python scripts/cli_screenshots.py [--output DIR] [--chromium /usr/bin/chromium]

Each scene runs in a fresh 104x34 tmux session started in an empty temporary directory, with ``.venv/bin`` first on
the PATH and no ``SMSCORE_*`` variables: the embedded SQLite default (``./smscore.db``) and the dummy provider, so
nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLUMNS, LINES = 104, 34
PROMPT = "$ "
SOCKET = f"smscore-shots-{os.getpid()}"

#: scene name -> commands typed at the prompt, in order; the first ``setup`` commands run unseen.
SCENES: dict[str, tuple[Sequence[str], Sequence[str]]] = {
    "send": ((), ['smscore send +420777123456 "Your parcel is on its way" --tag orders --extra order_id=42']),
    "messages": (
        (
            'smscore send +420777123456 "Your parcel is on its way" --tag orders',
            'smscore template add welcome "Hello {{ name }}, welcome aboard!"',
            "smscore send-template +420777123457 welcome --var name=Eva --tag welcome",
            'smscore send +420777123458 "Příliš žluťoučký kůň úpěl"',
        ),
        ["smscore messages", "smscore stats"],
    ),
    "errors": ((), ['smscore sned +420777123456 "Hi"', 'smscore send 12 "Hi"', "smscore purge --older-than soon"]),
    "help": ((), ["smscore --help"]),
}

_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_COLOURS = ["#2e3436", "#ef2929", "#8ae234", "#fce94f", "#729fcf", "#ad7fa8", "#34e2e2", "#eeeeec"]


def main() -> None:
    """Parse the options and photograph every scene."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "screenshots", help="folder for the PNGs")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"), help="browser")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    screens = {name: _run_scene(setup, shown) for name, (setup, shown) in SCENES.items()}
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        page = browser.new_page(device_scale_factor=2)
        for name, screen in screens.items():
            page.set_content(_html(screen))
            path = args.output / f"cli-{name}.png"
            page.locator(".terminal").screenshot(path=path)
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        browser.close()


def _tmux(*args: str) -> str:
    done = subprocess.run(["tmux", "-L", SOCKET, *args], check=True, capture_output=True, text=True)
    return done.stdout


def _run_scene(setup: Sequence[str], shown: Sequence[str]) -> str:
    """Run the scene's commands in a fresh terminal; the screen with its colour escapes."""
    with tempfile.TemporaryDirectory(prefix="smscore-cli-shots-", ignore_cleanup_errors=True) as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMSCORE_")}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        for command in setup:
            subprocess.run(shlex.split(command), cwd=folder, env=env, check=True, capture_output=True)
        shell = f"env -i PATH={shlex.quote(env['PATH'])} HOME={folder} TERM=xterm-256color LANG=C.UTF-8 HISTFILE=/dev/null PS1={shlex.quote(PROMPT)} bash --norc --noprofile"
        _tmux("new-session", "-d", "-s", "shot", "-x", str(COLUMNS), "-y", str(LINES), "-c", folder, shell)
        try:
            _wait_for_prompts(1)
            for count, command in enumerate(shown, start=2):
                _tmux("send-keys", "-t", "shot", "-l", command)
                _tmux("send-keys", "-t", "shot", "Enter")
                _wait_for_prompts(count)
            return _tmux("capture-pane", "-t", "shot", "-p", "-e").rstrip("\n")
        finally:
            _tmux("kill-server")


def _wait_for_prompts(count: int, timeout: float = 30.0) -> None:
    """Wait until the screen shows ``count`` prompts and ends with an idle one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        history = _tmux("capture-pane", "-t", "shot", "-p", "-S", "-")
        lines = [line for line in history.splitlines() if line.strip()]
        prompts = [line for line in lines if line.startswith(PROMPT.strip())]
        if len(prompts) >= count and lines[-1].rstrip() == PROMPT.strip():
            return
        time.sleep(0.1)
    screen = _tmux("capture-pane", "-t", "shot", "-p")
    raise TimeoutError(f"the terminal did not come back to prompt {count}:\n{screen}")


def _html(screen: str) -> str:
    """The captured screen as an HTML terminal window: SGR colours and bold kept, everything else escaped."""
    body = []
    open_spans = 0
    for part in re.split(r"(\x1b\[[0-9;]*m)", screen):
        match = _SGR.fullmatch(part)
        if match is None:
            body.append(html.escape(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", part)))
            continue
        codes = [int(c) for c in match.group(1).split(";") if c] or [0]
        if 0 in codes:
            body.append("</span>" * open_spans)
            open_spans = 0
        styles = [f"color:{_COLOURS[c % 10]}" for c in codes if 30 <= c <= 37 or 90 <= c <= 97]
        styles += ["font-weight:bold" for c in codes if c == 1] + ["opacity:.7" for c in codes if c == 2]
        if styles:
            body.append(f'<span style="{";".join(styles)}">')
            open_spans += 1
    body.append("</span>" * open_spans)
    return f"""<!doctype html><meta charset="utf-8"><style>
body {{ margin: 0; padding: 24px; background: #fff; }}
.terminal {{ display: inline-block; border-radius: 8px; overflow: hidden; box-shadow: 0 4px 18px rgba(0,0,0,.25); }}
.bar {{ background: #3b3b3b; color: #ddd; font: 13px sans-serif; padding: 6px 12px; }}
.bar i {{ display: inline-block; width: 11px; height: 11px; border-radius: 50%; margin-right: 6px; }}
pre {{ margin: 0; padding: 12px 14px; background: #1e1e1e; color: #eeeeec; font: 14px/1.35 "DejaVu Sans Mono", monospace;
      width: {COLUMNS}ch; white-space: pre; }}
</style><div class="terminal"><div class="bar"><i style="background:#ff5f56"></i><i style="background:#ffbd2e"></i>
<i style="background:#27c93f"></i> smscore</div><pre>{"".join(body)}</pre></div>"""


if __name__ == "__main__":
    main()

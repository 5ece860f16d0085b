"""Photograph the SMS admin in a real headless browser: the message list, a message's page, a template's preview
and the results of the actions, as PNG files (by default into docs/screenshots/).

Run it with ``make screenshots`` (which installs Playwright into .venv first), or by hand::

    apt-get install chromium                      # the browser; Playwright's own download is not used
    .venv/bin/pip install playwright
    .venv/bin/python scripts/admin_screenshots.py [--output DIR] [--chromium /usr/bin/chromium]

It builds a throw-away SQLite database for the example project (examples/django_project, with the settings of
``scripts/screenshot_site.py``), fills it with sample messages in every state, starts Django's development server
on 127.0.0.1 at a free port, logs in as a superuser and takes the pictures. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "django_project"
SCRIPTS = ROOT / "scripts"
USERNAME = "admin"
PASSWORD = "screenshots-only"
#: Narrow enough that the admin's text stays legible at the docs' column width; low, so that each full-page
#: picture ends where the page's content does.
VIEWPORT = {"width": 1280, "height": 560}


def main() -> None:
    """Parse the options, build the site, take the pictures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "screenshots", help="folder for the PNGs")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"), help="browser")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="smscore-screenshots-") as folder:
        env = _environment(Path(folder) / "db.sqlite3")
        os.environ.update(env)
        sys.path[:0] = [str(EXAMPLE), str(SCRIPTS), str(ROOT / "src")]
        ids = _build_site()
        with _server(env) as base_url:
            for path in _photograph(base_url, ids, args.output, args.chromium):
                print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def _environment(database: Path) -> dict[str, str]:
    path = os.pathsep.join([str(EXAMPLE), str(SCRIPTS), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])
    return {"DJANGO_SETTINGS_MODULE": "screenshot_site", "DEMO_DATABASE": str(database), "PYTHONPATH": path}


def _build_site() -> dict[str, int]:
    """Migrate the throw-away database and fill it; return the ids the pictures need."""
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    User.objects.create_superuser(USERNAME, "admin@example.com", PASSWORD)
    return _sample_data()


def _sample_data() -> dict[str, int]:
    """Orders, two templates, and messages in every state, stored as the service's repository stores them."""
    from shop.models import Order

    import adapters_django
    from adapters_django.models import SMSTemplate
    from smscore import RelatedObject, SMSMessage, SMSState

    orders = [
        Order.objects.create(number=f"DEMO-{n}", customer_name=name, phone=phone)
        for n, (name, phone) in enumerate(
            [("Žofie Nováková", "+420777123456"), ("Jan Kováč", "+421905123456"), ("Eva Malá", "+420777987654")],
            start=1,
        )
    ]
    shipped = SMSTemplate.objects.create(
        slug="order-shipped",
        body="Hello {{ name }}, your order {{ number }} is on its way & arrives tomorrow.",
    )
    SMSTemplate.objects.create(slug="otp", body="Your code is {{ code }}. It expires in 10 minutes.")
    unclosed = SMSTemplate.objects.create(
        slug="appointment-reminder",
        body="Your appointment is on {{ day }} at {{ time }}.{% if cancel_url %} To cancel: {{ cancel_url }}",
    )
    messages = adapters_django.get_service().messages
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = [
        {
            "recipient": "+420777123456",
            "content": "Hello Zofie Novakova, your order DEMO-1 is on its way & arrives tomorrow.",
            "state": SMSState.DELIVERED,
            "tag": "order-shipped",
            "template_slug": "order-shipped",
            "provider_ref": "SM3f9a0c1d2e",
            "price": Decimal("0.0079"),
            "price_unit": "USD",
            "related_objects": (RelatedObject.of(orders[0]),),
            "extra_data": {"order_id": orders[0].pk},
        },
        {
            "recipient": "+420603555014",
            "content": "Your code is 482913. It expires in 10 minutes.",
            "state": SMSState.SENT,
            "tag": "otp",
            "template_slug": "otp",
            "provider_ref": "SM77b2e4f0aa",
            "priority": 1,
        },
        {
            "recipient": "+421905123456",
            "content": "Dakujeme za objednavku DEMO-2! Platbu sme prijali.",
            "state": SMSState.SENDING,
            "tag": "order-placed",
            "provider_ref": "SM0c44d8e912",
            "related_objects": (RelatedObject.of(orders[1]),),
        },
        {
            "recipient": "+420777987654",
            "content": "Your parcel DEMO-3 is waiting at the pick-up point until Friday 18:00.",
            "state": SMSState.ERROR,
            "tag": "shipping",
            "provider_ref": "SM91aa0e7c55",
            "error": "rejected by the carrier: the number is blocked (code 21610)",
            "related_objects": (RelatedObject.of(orders[2]),),
            "extra_data": {"order_id": orders[2].pk},
        },
        {
            "recipient": "+447700900123",
            "content": "Reminder: the Django meetup starts tonight at 18:30 in room B. See you there!",
            "state": SMSState.UNKNOWN,
            "tag": "meetup",
            "error": "the gateway did not answer in time; outcome unknown until a delivery check",
        },
        {
            "recipient": "+420608111222",
            "content": (
                "Flash sale this weekend only: 30 % off all garden furniture, free delivery over 1000 CZK. "
                "Reply STOP to stop these messages."
            ),
            "state": SMSState.WAITING,
            "tag": "marketing",
            "priority": 3,
            "attempts": 1,
            "error": "503 Service Unavailable from the gateway; retried shortly",
            "next_attempt_at": now + timedelta(minutes=2),
        },
        {
            "recipient": "+420777123456",
            "content": "Dekujeme za objednavku!",
            "state": SMSState.DEBUG,
            "tag": "order-placed",
            "related_objects": (RelatedObject.of(orders[0]),),
        },
        {
            "recipient": "+420721000111",
            "content": "Your appointment on Monday at 9:00 is confirmed.",
            "state": SMSState.ERROR,
            "tag": "appointments",
            "attempts": 3,
            "error": "gave up after 3 attempts: connection refused by the gateway",
        },
    ]
    stored: dict[str, int] = {}
    for age, row in enumerate(reversed(rows)):
        at = now - timedelta(minutes=7 * (len(rows) - age))
        sent = row["state"] not in {SMSState.WAITING, SMSState.DEBUG}
        message = SMSMessage(
            created_at=at,
            changed_at=at + timedelta(seconds=40),
            sent_at=at + timedelta(seconds=2) if sent else None,
            provider="default",
            backend="screenshot_site.DeliveringProvider",
            version=2 if sent else 0,
            **row,
        )
        stored[row["tag"]] = messages.add(message).id or 0
    stored["template"] = shipped.pk
    stored["broken template"] = unclosed.pk
    return stored


@contextlib.contextmanager
def _server(env: dict[str, str]) -> Iterator[str]:
    """Django's development server on a free port of 127.0.0.1, stopped on exit; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, str(EXAMPLE / "manage.py"), "runserver", f"127.0.0.1:{port}", "--noreload"]
    server = subprocess.Popen(command, cwd=EXAMPLE, env={**os.environ, **env})
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base_url}/admin/login/", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the development server did not start") from None
                time.sleep(0.2)
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=10)


def _photograph(base_url: str, ids: dict[str, int], output: Path, chromium: str) -> Iterator[Path]:
    """Log in and take each picture; yield each file written."""
    from playwright.sync_api import sync_playwright

    messages = f"{base_url}/admin/adapters_django/outputsmsmessage/"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
        # The admin's navigation sidebar closed (as its « button leaves it): the pictures show the SMS pages.
        page.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
        page.goto(f"{base_url}/admin/login/?next=/admin/")
        page.fill("#id_username", USERNAME)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{base_url}/admin/")

        def shoot(name: str, *, full_page: bool = True) -> Path:
            path = output / f"{name}.png"
            page.screenshot(path=str(path), full_page=full_page)
            return path

        page.goto(messages)
        yield shoot("message-list")
        page.goto(f"{messages}?q=django")
        yield shoot("message-search")
        page.goto(f"{messages}{ids['shipping']}/change/")
        yield shoot("message-detail")
        page.click("text=Internals")
        yield shoot("message-detail-internals")
        page.goto(
            f"{base_url}/admin/adapters_django/smstemplate/{ids['template']}/preview/"
            "?context=%7B%22name%22%3A+%22%C5%BDofie+Nov%C3%A1kov%C3%A1%22%2C+%22number%22%3A+%22DEMO-1%22%7D"
            "&recipient=777+123+456"
        )
        yield shoot("template-preview")
        page.goto(
            f"{base_url}/admin/adapters_django/smstemplate/{ids['broken template']}/preview/"
            "?context=%7B%22day%22%3A+%22Monday%22%7D"
        )
        yield shoot("template-preview-error")

        def run_action(action: str, *tags: str) -> None:
            page.goto(f"{messages}?o=1")  # oldest first: the selected rows and the result in one picture
            for tag in tags:
                page.check(f'input[name="_selected_action"][value="{ids[tag]}"]')
            page.select_option('select[name="action"]', action)
            page.click('button[name="index"]')
            page.wait_for_load_state()

        run_action("send_again", "shipping", "order-placed", "appointments")
        yield shoot("action-send-again")
        run_action("check_delivery_now", "meetup", "order-placed", "order-shipped")
        yield shoot("action-check-delivery")
        browser.close()


if __name__ == "__main__":
    main()

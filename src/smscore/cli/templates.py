"""``smscore template add|list|show|delete``: the stored message templates."""

from __future__ import annotations

import argparse

from smscore.cli.app import Context, command
from smscore.cli.arguments import json_flag
from smscore.cli.output import details, format_table, short, template_json
from smscore.errors import TemplateNotFoundError

__all__ = ["template_add", "template_delete", "template_list", "template_show"]


def _template_add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("slug", help="the template's key (letters, digits, - and _)")
    parser.add_argument("body", help="Jinja2 text, e.g. 'Hello {{ name }}'")
    json_flag(parser)


@command("template add", help="add a template, or replace the one with this slug", arguments=_template_add_arguments)
def template_add(ctx: Context, args: argparse.Namespace) -> int:
    """Store template SLUG with BODY."""
    from smscore.templates import SMSTemplate

    template = SMSTemplate(slug=args.slug, body=args.body)
    ctx.service.renderer.validate(template.body)  # refuse a broken body now, not at the first send
    templates = ctx.service.templates
    try:
        templates.get(template.slug)
        replacing = True
    except TemplateNotFoundError:
        replacing = False
    saved = templates.save(template)
    verb = "replaced" if replacing else "added"
    ctx.emit(template_json(saved), lambda: f"template {saved.slug!r} {verb}")
    return 0


@command("template list", help="list the templates", arguments=json_flag)
def template_list(ctx: Context, args: argparse.Namespace) -> int:
    """Show every template with the start of its body."""
    found = ctx.service.templates.list()

    def table() -> str:
        if not found:
            return "no templates (add one with: smscore template add SLUG BODY)"
        rows = [(t.slug, t.changed_at, short(t.body, 60)) for t in found]
        return format_table(["SLUG", "CHANGED (UTC)", "BODY"], rows)

    ctx.emit([template_json(t) for t in found], table)
    return 0


def _slug_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("slug", help="the template's slug")
    json_flag(parser)


@command("template show", help="show one template", arguments=_slug_argument)
def template_show(ctx: Context, args: argparse.Namespace) -> int:
    """Show template SLUG in full."""
    template = ctx.service.templates.get(args.slug)
    pairs = [("slug", template.slug), ("created", template.created_at), ("changed", template.changed_at)]
    ctx.emit(template_json(template), lambda: details([*pairs, ("body", template.body)]))
    return 0


@command("template delete", help="delete a template", arguments=_slug_argument)
def template_delete(ctx: Context, args: argparse.Namespace) -> int:
    """Delete template SLUG (messages sent from it keep its slug)."""
    ctx.service.templates.delete(args.slug)
    ctx.emit({"deleted": args.slug}, lambda: f"template {args.slug!r} deleted")
    return 0

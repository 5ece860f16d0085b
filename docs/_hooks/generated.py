"""The site's build hook: reference text generated from the code's own declarations, never retyped.

A page asks for a generated part with a marker on a line of its own, ``<!-- generated: NAME [ARGUMENT] -->``;
:func:`on_page_markdown` replaces it with what :data:`GENERATORS` makes of the code as it is now: the
configuration keys (:mod:`smscore.config`), the Django settings (:mod:`adapters_django.conf`), every command of the
``smscore`` parser, every provider's option declarations, the error tree, the state table and diagram (from
:data:`smscore.TRANSITIONS`, drawn as SVG by :mod:`diagrams`), the architecture diagram and the performance chart (from ``benchmarks/results.json``). A marker naming nothing
known, or code and its described keys disagreeing, fails the build. ``tests/docs`` imports this module to check
the same agreements in the test suite.
"""

from __future__ import annotations

import argparse
import ast
import html
import json
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import diagrams  # docs/_hooks/diagrams.py: MkDocs puts a hook's folder on the path while it loads the hook

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!-- generated: ([\w-]+)(?: ([\w-]+))? -->$", re.M)


# -- text helpers ----------------------------------------------------------------------------------------------


def markdown_of(rst: str) -> str:
    """Inline reStructuredText of a docstring (``code``, :class:`~a.B` roles) as Markdown."""
    text = re.sub(r":[\w:]+:`~?([^`]+)`", r"`\1`", rst)
    return text.replace("``", "`").replace("|", "\\|")


def shown(value: Any) -> str:
    """A default value as a user writes it in TOML or Python, in code format."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`' if value else '`""`'
    if isinstance(value, timedelta):
        return f'`"{_duration(value)}"`'
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, Mapping):
        value = dict(value)
    return f"`{value!r}`".replace("|", "\\|")


def _duration(value: timedelta) -> str:
    """A duration as configuration writes it: ``7d``, ``2h``, ``90s``."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(cell.replace("\n", " ") for cell in row) + " |"
        for row in rows
    ]
    return "\n".join(lines)


# -- configuration ---------------------------------------------------------------------------------------------


def described_config_keys() -> dict[str, tuple[str, str]]:
    """The key table of :mod:`smscore.config`'s docstring: key -> (default as written, meaning)."""
    import smscore.config

    doc = smscore.config.__doc__ or ""
    rules = [
        i
        for i, line in enumerate(doc.splitlines())
        if re.fullmatch(r"=+(\s+=+)+", line.strip())
    ]
    lines = doc.splitlines()[rules[1] + 1 : rules[2]]
    rows: dict[str, tuple[str, str]] = {}
    last = ""
    for line in lines:
        if not line.strip():
            continue
        if line[0].isspace():
            default, meaning = rows[last]
            rows[last] = (default, f"{meaning} {line.strip()}")
        else:
            key, default, meaning = ([*line.split(None, 2), "", ""])[:3]
            rows[key] = (default, meaning)
            last = key
    return rows


def config_keys() -> set[str]:
    """Every key :meth:`smscore.SMSConfig.from_mapping` accepts."""
    from smscore import config

    return set(config._COERCE) | set(config._SPECIAL_KEYS)


def _django_settings_by_key() -> dict[str, list[str]]:
    from adapters_django import conf, wiring

    by_key: dict[str, list[str]] = {}
    for setting in conf.SETTINGS:
        if setting.core_key:
            by_key.setdefault(setting.core_key, []).append(f"`{setting.name}`")
    routed = {
        "storage": ["always the Django storage"],
        "storage_options": ["`PYMESS_SMS_DATABASE` (its `database`)"],
        "provider": ["`PYMESS_SMS_SENDER_BACKEND`"],
        "provider_options": [
            "`PYMESS_ATS_SMS_CONFIG`",
            "`PYMESS_SMS_OPERATOR_CONFIG`",
        ],
        "providers": ["`PYMESS_SMS_BACKENDS`"],
    }
    owned = set(wiring._OWNED_KEYS) - set(by_key)
    if owned != set(routed):
        raise ValueError(
            f"adapters_django reads core keys {sorted(owned)}; this reference knows {sorted(routed)}"
        )
    by_key.update(routed)
    return by_key


def _field_types() -> dict[str, str]:
    from smscore import SMSConfig

    types = {field.name: str(field.type) for field in attrs.fields(SMSConfig)}
    types["provider"] = "str"
    types["provider_options"] = "Mapping[str, Any]"
    types["providers"] = "Mapping[str, {backend, options}]"
    return types


def _field_defaults() -> dict[str, Any]:
    from smscore import SMSConfig

    defaults: dict[str, Any] = {}
    for field in attrs.fields(SMSConfig):
        default: Any = field.default
        defaults[field.name] = (
            default.factory() if hasattr(default, "factory") else default
        )
    return defaults


def check_config_reference() -> None:
    """Raise ``ValueError`` when the keys the code accepts and the keys its docstring describes differ."""
    code, described = config_keys(), set(described_config_keys())
    if code != described:
        raise ValueError(
            f"configuration keys without a description in smscore.config: {sorted(code - described)}; "
            f"described but not accepted: {sorted(described - code)}"
        )


def configuration(prefix: str = "") -> str:
    """Every configuration key (or those starting with ``prefix``, for a how-to about them): type, default,
    environment variable, Django setting, meaning."""
    check_config_reference()
    described = {
        key: row
        for key, row in described_config_keys().items()
        if key.startswith(prefix)
    }
    if not described:
        raise ValueError(f"no configuration key starts with {prefix!r}")
    types, defaults, django = (
        _field_types(),
        _field_defaults(),
        _django_settings_by_key(),
    )
    rows = []
    for key in described:
        written, meaning = described[key]
        kind = types[key]
        default = (
            shown(defaults[key])
            if key in defaults and key != "providers"
            else f"`{written}`"
        )
        env = f"`SMSCORE_{key.upper()}`"
        if "Mapping" in kind:
            env += f", `SMSCORE_{key.upper()}__<NAME>`"
        setting = ", ".join(django.get(key, [f'`PYMESS_SMS_CONFIG["{key}"]`']))
        where = f"{markdown_of(meaning)}<br>**Environment:** {env}<br>**Django:** {setting}"
        rows.append([f"`{key}`<br>{_code(kind)}", default, where])
    return table(
        [
            "key and type",
            "default",
            "meaning, environment variable, Django setting",
        ],
        rows,
    )


def _code(text: str) -> str:
    """``text`` as inline code that may hold a ``|`` inside a table cell."""
    return f"<code>{html.escape(text).replace('|', '&#124;')}</code>"


def django_settings() -> str:
    """Every Django setting the app reads: default, the core key it becomes, what the conf docstring says."""
    from adapters_django import conf

    doc = markdown_of(conf.__doc__ or "")
    bullets = [
        " ".join(b.split())
        for b in re.split(r"\n- ", doc.split("\n\n", 2)[2].split("\n\n")[0])
    ]
    rows = []
    for setting in conf.SETTINGS:
        said = next(
            (b.lstrip("- ") for b in bullets if f"`{setting.name}`" in b), ""
        )
        if not said:
            raise ValueError(
                f"{setting.name} is read but not described in adapters_django.conf"
            )
        core = f"<br>core key `{setting.core_key}`" if setting.core_key else ""
        rows.append(
            [
                f"`{setting.name}`<br>default {shown(setting.default)}{core}",
                said,
            ]
        )
    return table(["setting, default, core key", "what it is"], rows)


#: What django-pymess 0.7.6 did with each setting adapters_django reads (the fact sheet's §3), and what is
#: different now. Kept here, next to the generator, because it describes the ancestor: the code cannot say it.
PYMESS_SETTINGS: Mapping[str, tuple[str, str]] = {
    "PYMESS_SMS_SENDER_BACKEND": (
        "not read (its docs still named it)",
        "Read again: the one backend, named `default`.",
    ),
    "PYMESS_SMS_BACKENDS": (
        "`{'default': dummy}`, shallow-merged with yours",
        "Taken as given: no hidden dummy `default` that silently catches messages.",
    ),
    "PYMESS_ATS_SMS_CONFIG": (
        "not read (its docs still named it)",
        "Read again: options of every ATS backend.",
    ),
    "PYMESS_SMS_OPERATOR_CONFIG": (
        "not read (its docs still named it)",
        "Read again: options of every SMS-operator backend.",
    ),
    "PYMESS_SMS_DEFAULT_SENDER_BACKEND_NAME": (
        "`default`",
        "Defaults to the only backend when there is one; with several and none "
        "called `default`, a system check (E001) asks you to name it.",
    ),
    "PYMESS_SMS_BACKEND_ROUTER": (
        "its `DefaultBackendRouter`, which never chose",
        "Your router classes work as they are, and the ancestor's "
        "`DefaultBackendRouter` means no router. A function of the message, or "
        "rules by prefix and tag, work too.",
    ),
    "PYMESS_SMS_USE_ACCENT": (
        "`False`: every non-ASCII character dropped",
        "`False` transliterates (`ž` → `z`, `€` → `EUR`): nothing vanishes.",
    ),
    "PYMESS_SMS_DEFAULT_PHONE_CODE": (
        "none; prefixed to 9-character numbers",
        "The country of national numbers; recipients are parsed and stored in "
        "E.164, impossible numbers refused.",
    ),
    "PYMESS_SMS_DEFAULT_REGION": (
        "(new)",
        'The same as a region code (`"CZ"`).',
    ),
    "PYMESS_DEFAULT_MESSAGE_PRIORITY": (
        "`3`, read once at import time",
        "Read when the service is built, so `override_settings` works.",
    ),
    "PYMESS_SMS_BATCH_SENDING": (
        "`False`",
        "The same; the outbox retries with backoff.",
    ),
    "PYMESS_SMS_BATCH_SIZE": (
        "`20` messages per command run, one request each",
        "Messages per claim and provider batch (ATS and SMS-operator send "
        "many per request).",
    ),
    "PYMESS_SMS_BATCH_MAX_NUMBER_OF_SEND_ATTEMPTS": (
        "`3`, which made 4 attempts",
        "Exactly this many attempts.",
    ),
    "PYMESS_SMS_BATCH_MAX_SECONDS_TO_SEND": (
        "`3600` from creation, failing a backlog untried",
        "No deadline unless set.",
    ),
    "PYMESS_SMS_RETRY_SENDING": (
        "`True`, only with batch sending",
        "The same.",
    ),
    "PYMESS_SMS_IDLE_MESSAGES_TIMEOUT_MINUTES": (
        "`10` from creation",
        "Measured from the send time, longer by default.",
    ),
    "PYMESS_SMS_LOG_IDLE_MESSAGES": ("`True`", "The same."),
    "PYMESS_SMS_SET_ERROR_TO_IDLE_MESSAGES": ("`True`", "The same."),
    "PYMESS_SMS_PUBLIC_BASE_URL": (
        "(new)",
        "Where providers post status callbacks (Twilio).",
    ),
    "PYMESS_SMS_QUIET_HOURS": (
        "(new)",
        "Per tag, the local hours its messages may reach the recipient.",
    ),
    "PYMESS_SMS_QUIET_HOURS_ZONE": (
        "(new)",
        "The zone of numbers whose region gives none.",
    ),
    "PYMESS_SMS_OPT_OUT_EXEMPT_TAGS": (
        "(new)",
        "Tags sent even to opted-out numbers (one-time codes).",
    ),
    "PYMESS_SMS_ALLOWED_COUNTRIES": (
        "(new)",
        "Regions or calling codes messages may go to.",
    ),
    "PYMESS_SMS_RECIPIENT_LIMITS": (
        "(new)",
        "Per tag, at most so many messages per recipient in a rolling window.",
    ),
    "PYMESS_SMS_REFUSAL_SUBSCRIBERS": (
        "(new)",
        "Callables receiving every refused message.",
    ),
    "PYMESS_SMS_INBOUND_KEYWORDS": (
        "(new)",
        "STOP, START and HELP words of received SMS and their replies.",
    ),
    "PYMESS_SMS_INBOUND_REPLY_WINDOW": (
        "(new)",
        "How far back a received SMS looks for the message it answers.",
    ),
    "PYMESS_SMS_INBOUND_SUBSCRIBERS": (
        "(new)",
        "Callables receiving every received SMS.",
    ),
    "PYMESS_SMS_DATABASE": ("(new)", "The database alias of the SMS tables."),
    "PYMESS_SMS_CONFIG": ("(new)", "Any other core key, by its name."),
    "PYMESS_SMS_TEMPLATE_MODEL": (
        "`pymess.SMSTemplate`, slug as primary key",
        "`'pymess.SMSTemplate'` means the shipped model; a model of your own "
        "gains an `id` primary key (run `makemigrations`).",
    ),
}


def pymess_settings() -> str:
    """Every setting adapters_django reads next to what django-pymess did with it and what changed."""
    from adapters_django import conf

    read = [setting.name for setting in conf.SETTINGS]
    if set(read) != set(PYMESS_SETTINGS):
        raise ValueError(
            f"settings read but not compared with django-pymess: {sorted(set(read) - set(PYMESS_SETTINGS))}; "
            f"compared but not read: {sorted(set(PYMESS_SETTINGS) - set(read))}"
        )
    rows = [
        [
            f"`{s.name}`<br>default {shown(s.default)}",
            PYMESS_SETTINGS[s.name][0],
            PYMESS_SETTINGS[s.name][1],
        ]
        for s in conf.SETTINGS
    ]
    return table(
        [
            "setting and smscore's default",
            "django-pymess 0.7.6",
            "what changed",
        ],
        rows,
    )


# -- Django system checks --------------------------------------------------------------------------------------


def described_checks() -> dict[str, str]:
    """The id table of :mod:`adapters_django.checks`' docstring: check id -> the problem it reports."""
    from adapters_django import checks

    rows: dict[str, str] = {}
    last = ""
    for line in (checks.__doc__ or "").splitlines():
        found = re.match(r"``(adapters_django\.[EW]\d{3})``\s+(.*)", line)
        if found:
            last = found[1]
            rows[last] = found[2].strip()
        elif last and line.startswith(" ") and line.strip():
            rows[last] += " " + line.strip()
        elif line.startswith("="):
            last = ""
    return rows


def _texts(node: ast.expr | None, scope: ast.AST, module: Any) -> list[str]:
    """The texts an expression of the checks module may hold: literals, module constants, both branches of a
    conditional, the values a local name is given; an f-string with its holes shown as ``…``."""
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return []
    if isinstance(node, ast.Constant):
        return [str(node.value)]
    if isinstance(node, ast.JoinedStr):
        return [
            "".join(
                str(part.value) if isinstance(part, ast.Constant) else "…"
                for part in node.values
            )
        ]
    if isinstance(node, ast.IfExp):
        return _texts(node.body, scope, module) + _texts(
            node.orelse, scope, module
        )
    if isinstance(node, ast.Name):
        if hasattr(module, node.id):
            return [str(getattr(module, node.id))]
        return [
            text
            for assign in ast.walk(scope)
            if isinstance(assign, ast.Assign)
            and any(
                isinstance(t, ast.Name) and t.id == node.id
                for t in assign.targets
            )
            for text in _texts(assign.value, scope, module)
        ]
    return ["…"]


def check_ids_in_code() -> dict[str, dict[str, Any]]:
    """Every ``checks.Error``/``checks.Warning`` the checks module makes: id -> its level, the function that
    makes it, the setting it names (``obj``) and its hints."""
    import inspect

    from adapters_django import checks

    tree = ast.parse(inspect.getsource(checks))
    found: dict[str, dict[str, Any]] = {}
    for function in tree.body:
        if not isinstance(function, ast.FunctionDef):
            continue
        for call in ast.walk(function):
            if not (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr in {"Error", "Warning"}
            ):
                continue
            keywords = {k.arg: k.value for k in call.keywords}
            (check_id,) = _texts(keywords.get("id"), function, checks)
            entry = found.setdefault(
                check_id,
                {
                    "level": call.func.attr,
                    "function": function.name,
                    "settings": [],
                    "hints": [],
                },
            )
            for key, into in (("obj", "settings"), ("hint", "hints")):
                for text in _texts(keywords.get(key), function, checks):
                    if text not in entry[into]:
                        entry[into].append(text)
    return found


def check_checks_reference() -> None:
    """Raise ``ValueError`` when the ids the checks make and the ids their docstring describes differ."""
    code, described = set(check_ids_in_code()), set(described_checks())
    if code != described:
        raise ValueError(
            f"check ids without a description in adapters_django.checks: {sorted(code - described)}; "
            f"described but never raised: {sorted(described - code)}"
        )


def _registered(name: str, tree: ast.Module) -> str:
    """The check function that makes a message: ``name`` itself, or the public function calling a helper."""
    if not name.startswith("_"):
        return name
    return next(
        function.name
        for function in tree.body
        if isinstance(function, ast.FunctionDef)
        and not function.name.startswith("_")
        and any(
            isinstance(node, ast.Name) and node.id == name
            for node in ast.walk(function)
        )
    )


def django_checks() -> str:
    """Every system check id of :mod:`adapters_django.checks`: level, what it reports, the setting it names,
    the hint Django prints with it."""
    import inspect

    from adapters_django import checks

    check_checks_reference()
    made = check_ids_in_code()
    tree = ast.parse(inspect.getsource(checks))
    rows = []
    for check_id, problem in described_checks().items():
        entry = made[check_id]
        named = [name for name in entry["settings"] if name != "…"]
        where = (
            ", ".join(f"`{name}`" for name in named) or "the setting at fault"
        )
        hints = "<br>".join(
            html.escape(hint, quote=False).replace("|", "&#124;")
            for hint in entry["hints"]
        )
        function = _registered(entry["function"], tree)
        rows.append(
            [
                f'<a id="{check_id.split(".")[1]}"></a>`{check_id}`<br>'
                f"{entry['level'].lower()}, `{function}`",
                f"{markdown_of(problem)}<br>**Names:** {where}",
                hints or "The message says what to change.",
            ]
        )
    return table(
        ["id", "reported when", "hint shown with it (… stands for details)"],
        rows,
    )


# -- command line ----------------------------------------------------------------------------------------------


def cli_commands(
    parser: argparse.ArgumentParser | None = None, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every leaf command of the ``smscore`` parser with its words (``("template", "add")``)."""
    if parser is None:
        from smscore.cli import build_parser

        parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if any(
                    isinstance(a, argparse._SubParsersAction)
                    for a in sub._actions
                ):
                    yield from cli_commands(sub, (*prefix, name))
                else:
                    yield (*prefix, name), sub


def _arguments(
    parser: argparse.ArgumentParser, skip: frozenset[str] = frozenset()
) -> str:
    rows = []
    for action in parser._actions:
        if (
            isinstance(
                action, argparse._HelpAction | argparse._SubParsersAction
            )
            or action.dest in skip
        ):
            continue
        name = (
            ", ".join(f"`{o}`" for o in action.option_strings)
            or f"`{action.metavar or action.dest}`"
        )
        if action.option_strings and action.nargs != 0:
            name += f" `{action.metavar or action.dest.upper()}`"
        details = []
        if action.choices:
            details.append(
                "one of " + ", ".join(f"`{c}`" for c in action.choices)
            )
        if (
            action.default not in (None, False, argparse.SUPPRESS)
            and action.nargs != 0
        ):
            details.append(f"default {shown(action.default)}")
        if action.required and action.option_strings:
            details.append("required")
        help_text = (action.help or "") % {
            "default": action.default,
            "prog": parser.prog,
        }
        rows.append(
            [
                name,
                html.escape(help_text).replace("|", "\\|"),
                "; ".join(details),
            ]
        )
    return table(["argument", "meaning", ""], rows) if rows else "No arguments."


def cli() -> str:
    """Every command of the ``smscore`` parser: usage, what it does, every argument."""
    from smscore.cli import build_parser

    parser = build_parser()
    parts = [
        "## smscore",
        "",
        parser.description or "",
        "",
        "```text",
        parser.format_usage().strip(),
        "```",
        "",
    ]
    parts += [_arguments(parser), "", parser.epilog or "", ""]
    for words, sub in cli_commands(parser):
        parts += [
            f"## smscore {' '.join(words)}",
            "",
            markdown_of(sub.description or ""),
            "",
        ]
        parts += [
            "```text",
            sub.format_usage().strip(),
            "```",
            "",
            _arguments(sub),
            "",
        ]
    return "\n".join(parts)


#: The options every Django management command has (``--settings``, ``--verbosity``...): not repeated per command.
_DJANGO_COMMON_OPTIONS: frozenset[str] = frozenset(
    {
        "version",
        "verbosity",
        "settings",
        "pythonpath",
        "traceback",
        "no_color",
        "force_color",
        "skip_checks",
    }
)


def _django_ready() -> None:
    """Set Django up for the modules that import models, with the app alone and no database, unless a host
    (the test suite) already did."""
    import django
    from django.apps import apps
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            INSTALLED_APPS=["django.contrib.contenttypes", "adapters_django"],
            USE_TZ=True,
        )
    if not apps.ready:
        django.setup()


def django_command(name: str) -> str:
    """A management command of ``adapters_django``: what it does and its own arguments, from its parser (the
    options every Django command has left out)."""
    import importlib

    _django_ready()
    module = importlib.import_module(
        f"adapters_django.management.commands.{name}"
    )
    command = module.Command()
    parser = command.create_parser("manage.py", name)
    return "\n".join(
        [
            f"`python manage.py {name}`: {markdown_of(command.help)}",
            "",
            _arguments(parser, _DJANGO_COMMON_OPTIONS),
        ]
    )


def pymess_states() -> str:
    """What each django-pymess state number becomes when ``import_pymess`` copies a message."""
    _django_ready()
    from adapters_django.pymess_import import ANCESTOR_STATES

    rows = [
        [f"{number} {name}", f"`{state.name}`"]
        for number, (name, state) in sorted(ANCESTOR_STATES.items())
    ]
    rows.append(["any other number", "not copied, reported"])
    return table(["django-pymess state", "becomes"], rows)


# -- providers -------------------------------------------------------------------------------------------------


def provider_classes() -> dict[str, type[Any]]:
    """The shipped providers by their short alias (the first alias naming each class)."""
    from smscore.bootstrap import PROVIDER_ALIASES, resolve

    classes: dict[str, type[Any]] = {}
    for alias, path in PROVIDER_ALIASES.items():
        if "." not in alias and path not in [
            f"{c.__module__}:{c.__qualname__}" for c in classes.values()
        ]:
            classes[alias] = resolve(path, key="provider")
    return classes


def provider_options(alias: str | None = None) -> str:
    """The options one provider (or, without ``alias``, every shipped provider) declares."""
    if alias is None:
        return "\n\n".join(
            f"## {name}\n\n{provider_options(name)}"
            for name in provider_classes()
        )
    spec = provider_classes()[alias].option_spec
    if spec is None or not spec.options:
        return f"`{alias}` takes no options."
    rows = []
    for option in spec:
        names = "<br>".join(f"`{n}`" for n in option.names)
        default = (
            "**Required.**"
            if option.required
            else f"**Default:** {shown(option.default)}"
        )
        notes = []
        if option.secret:
            notes.append(
                "**Secret**: refused in a configuration file, never logged or shown."
            )
        if option.needs:
            notes.append(
                "Needs " + ", ".join(f"`{n}`" for n in option.needs) + "."
            )
        meaning = "<br>".join(
            [markdown_of(option.description), default, *notes]
        )
        rows.append(
            [f"{names}<br>{markdown_of(option.kind.description)}", meaning]
        )
    text = table(["option and type", "meaning and default"], rows)
    if spec.one_of:
        text += "\n\nAlso checked:\n\n" + "\n".join(
            f"- {markdown_of(rule.message)}" for rule in spec.one_of
        )
    return text


# -- errors and states -----------------------------------------------------------------------------------------


def _error_lines(cls: type[BaseException], depth: int) -> Iterator[str]:
    doc = markdown_of(
        (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    )
    builtin = [
        b.__name__
        for b in cls.__bases__
        if b.__module__ == "builtins" and b is not Exception
    ]
    also = f" (also a `{'`, `'.join(builtin)}`)" if builtin else ""
    yield f"{'    ' * depth}- **`{cls.__module__}.{cls.__qualname__}`**{also}: {doc}"
    for sub in sorted(cls.__subclasses__(), key=lambda c: c.__name__):
        if sub.__module__.split(".")[0] in {
            "smscore",
            "providers",
            "adapters_sqlalchemy",
            "adapters_django",
        }:
            yield from _error_lines(sub, depth + 1)


def errors() -> str:
    """The tree of every error class under :class:`smscore.SMSError` in the imported packages."""
    import importlib
    import pkgutil

    import providers
    import smscore

    for package in (smscore, providers):
        for module in pkgutil.iter_modules(
            package.__path__, f"{package.__name__}."
        ):
            importlib.import_module(module.name)
    # The storages' own errors (importable without a configured Django).
    for name in ("adapters_sqlalchemy.errors", "adapters_sqlalchemy.schema"):
        importlib.import_module(name)
    importlib.import_module("adapters_django.errors")
    return "\n".join(_error_lines(smscore.SMSError, 0))


def states() -> str:
    """The transition table: each state, whether it is final, and where it may go."""
    from smscore import FINAL_STATES, TRANSITIONS

    rows = [
        [
            f"`{state.name}`",
            f"`{state.value}`",
            "yes" if state in FINAL_STATES else "",
            ", ".join(
                f"`{t.name}`"
                for t in sorted(targets, key=list(TRANSITIONS).index)
            )
            or "nothing",
        ]
        for state, targets in TRANSITIONS.items()
    ]
    return table(["state", "stored as", "final", "may move to"], rows)


def state_diagram() -> str:
    """The state diagram of :data:`smscore.TRANSITIONS`, as inline SVG (no script, no network)."""
    from smscore import TRANSITIONS

    return _figure(diagrams.state_diagram(TRANSITIONS))


def architecture_diagram() -> str:
    """The core's layers (the import-linter contract) and the adapters around them, as inline SVG."""
    return _figure(diagrams.architecture_diagram())


def _figure(svg: str) -> str:
    """An SVG drawing as one raw HTML block, which Markdown leaves alone."""
    return f'<figure class="diagram">\n{svg}\n</figure>'


# -- performance -----------------------------------------------------------------------------------------------

_FIGURE_NAMES = {
    "send": "send(), dummy provider",
    "send_template": "send_template()",
    "async_send": "await send(), asyncio service",
    "send_many": "send_many(), 10,000 messages",
    "ats_single": "ATS, one message per send()",
    "outbox_ats_batch": "outbox drain, ATS batches of 100",
    "check_delivery": "check_delivery, 10,000 messages",
    "claim_with_backlog": "claims past 100,000 messages due later",
    "async_outbox_twilio": "outbox drain, Twilio 50 ms, worker --async",
    "sync_outbox_twilio": "outbox drain, Twilio 50 ms, one thread",
}


def benchmark_results() -> dict[str, Any]:
    """``benchmarks/results.json``, as ``make bench`` last wrote it."""
    return dict(
        json.loads(
            (ROOT / "benchmarks" / "results.json").read_text(encoding="utf-8")
        )
    )


def performance_chart() -> str:
    """A horizontal bar chart (inline SVG) of every throughput figure: value, floor and limit on one scale each."""
    results = benchmark_results()
    figures = [
        (name, f)
        for name, f in results["figures"].items()
        if f.get("unit") == "msgs/s" and f.get("limit")
    ]
    left, width, bar, gap = 250, 430, 14, 22
    colours = (("value", "#3f51b5"), ("floor", "#9fa8da"), ("limit", "#c5cae9"))
    shapes, y = [], 10
    for name, figure in figures:
        top = max(figure["limit"], figure.get("floor") or 0)
        label = html.escape(_FIGURE_NAMES.get(name, name))
        shapes.append(
            f'<text x="0" y="{y + bar * 1.5 + 4}" fill="currentColor">{label}</text>'
        )
        for key, colour in colours:
            value = figure.get(key)
            if value is None:
                continue
            length = max(1.0, width * value / top)
            shapes.append(
                f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar - 2}" fill="{colour}">'
                f"<title>{key}: {value:,.0f} messages/s</title></rect>"
            )
            shapes.append(
                f'<text x="{left + length + 4:.1f}" y="{y + bar - 4}" fill="currentColor">{value:,.0f} {key}</text>'
            )
            y += bar
        y += gap
    legend = " · ".join(f'<tspan fill="{c}">■</tspan> {k}' for k, c in colours)
    shapes.append(
        f'<text x="{left}" y="{y + 4}" fill="currentColor">{legend} (messages per second; each figure on its own scale)</text>'
    )
    return "\n".join(
        [
            f'<svg class="perf-chart" viewBox="0 0 {left + width + 110} {y + 14}" role="img" '
            'aria-label="make bench results" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="12">',
            *shapes,
            "</svg>",
        ]
    )


def performance_table() -> str:
    """Every figure of ``benchmarks/results.json`` with its limit, share and floor, and the machine it ran on."""
    results = benchmark_results()
    rows = []
    for name, figure in results["figures"].items():
        value = figure.get("value")
        limit, floor = figure.get("limit"), figure.get("floor")
        share = f"{value / limit:.0%}" if value and limit else ""
        rows.append(
            [
                f"`{name}`",
                f"{value:,.1f} {figure.get('unit', '')}"
                if value is not None
                else "",
                f"{limit:,.0f}" if limit else "",
                share,
                f"{floor:,.0f}" if floor else "",
            ]
        )
    machine = results.get("machine", {})
    about = (
        f"Python {machine.get('python')}, SQLite {machine.get('sqlite')}, {machine.get('cpus')} CPUs, "
        f"{machine.get('platform')}; the whole run took {machine.get('seconds')} s"
    )
    return (
        table(["figure", "value", "limit", "share", "floor"], rows)
        + f"\n\nMeasured with {html.escape(about)}."
    )


GENERATORS: Mapping[str, Callable[..., str]] = {
    "configuration": configuration,
    "django-settings": django_settings,
    "django-checks": django_checks,
    "pymess-settings": pymess_settings,
    "pymess-states": pymess_states,
    "django-command": django_command,
    "cli": cli,
    "provider-options": provider_options,
    "errors": errors,
    "states": states,
    "state-diagram": state_diagram,
    "architecture-diagram": architecture_diagram,
    "performance-chart": performance_chart,
    "performance-table": performance_table,
}


def expand(markdown: str) -> str:
    """``markdown`` with every generated-part marker replaced; ``KeyError`` for an unknown one."""

    def replace(match: re.Match[str]) -> str:
        name, argument = match.groups()
        generate = GENERATORS[name]
        return generate(argument) if argument else generate()

    return MARKER.sub(replace, markdown)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs hook: expand the markers of every page."""
    return expand(markdown)

"""The site's build hook: reference text generated from the code's own declarations, never retyped.

A page asks for a generated part with a marker on a line of its own, ``<!-- generated: NAME [ARGUMENT] -->``;
:func:`on_page_markdown` replaces it with what :data:`GENERATORS` makes of the code as it is now: the
configuration keys (:mod:`smscore.config`), the Django settings (:mod:`adapters_django.conf`), every command of the
``smscore`` parser, every provider's option declarations, the error tree, the state table and diagram (from
:data:`smscore.TRANSITIONS`) and the performance chart (from ``benchmarks/results.json``). A marker naming nothing
known, or code and its described keys disagreeing, fails the build. ``tests/docs`` imports this module to check
the same agreements in the test suite.
"""

from __future__ import annotations

import argparse
import html
import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

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
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, Mapping):
        value = dict(value)
    return f"`{value!r}`".replace("|", "\\|")


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


def configuration() -> str:
    """Every configuration key: type, default, environment variable, Django setting, meaning."""
    check_config_reference()
    described = described_config_keys()
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
        rows.append([f"`{setting.name}`{core}", shown(setting.default), said])
    return table(["setting", "default", "what it is"], rows)


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


def _arguments(parser: argparse.ArgumentParser) -> str:
    rows = []
    for action in parser._actions:
        if isinstance(
            action, argparse._HelpAction | argparse._SubParsersAction
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
        default = "**required**" if option.required else shown(option.default)
        notes = []
        if option.secret:
            notes.append(
                "**Secret**: refused in a configuration file, never logged or shown."
            )
        if option.needs:
            notes.append(
                "Needs " + ", ".join(f"`{n}`" for n in option.needs) + "."
            )
        meaning = "<br>".join([markdown_of(option.description), *notes])
        rows.append(
            [
                f"{names}<br>{markdown_of(option.kind.description)}",
                default,
                meaning,
            ]
        )
    text = table(["option and type", "default", "meaning"], rows)
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
    """A Mermaid state diagram of :data:`smscore.TRANSITIONS`."""
    from smscore import FINAL_STATES, TRANSITIONS, SMSState

    lines = [
        "```mermaid",
        "stateDiagram-v2",
        f"    [*] --> {SMSState.WAITING.name}",
    ]
    for state, targets in TRANSITIONS.items():
        lines += [
            f"    {state.name} --> {target.name}"
            for target in sorted(targets, key=list(TRANSITIONS).index)
        ]
    lines += [
        f"    {state.name} --> [*]"
        for state in sorted(FINAL_STATES, key=list(TRANSITIONS).index)
    ]
    return "\n".join([*lines, "```"])


# -- performance -----------------------------------------------------------------------------------------------

_FIGURE_NAMES = {
    "send": "send(), dummy provider",
    "send_template": "send_template()",
    "send_many": "send_many(), 10,000 messages",
    "ats_single": "ATS, one message per send()",
    "outbox_ats_batch": "outbox drain, ATS batches of 100",
    "check_delivery": "check_delivery, 10,000 messages",
    "claim_with_backlog": "claims past 100,000 messages due later",
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
    "cli": cli,
    "provider-options": provider_options,
    "errors": errors,
    "states": states,
    "state-diagram": state_diagram,
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

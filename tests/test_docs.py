"""The manual cannot lie: every command, option and environment variable that README.md and docs/ show in code
exists, and every link between the pages leads to a file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
_SPAN = re.compile(r"`([^`\n]+)`")
# an invocation starts the code, or follows a prompt, `&&`, a pipe or a path to the program
_INVOCATION = re.compile(r"(?:^\s*|[$&|(]\s*|/bin/)citeqa ([a-z]+)\b([^|;#`]*)")
_BENCH = re.compile(r"\b(bench/[a-z_]+\.py)\b([^|;#`]*)")
_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
_TRAIN = re.compile(r"python -m qa\.(?:reader\.train|eval\.fit_answer|eval\.fit_joint)\b([^|;#`]*)")
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
_VARIABLE = re.compile(r"\bCITEQA_[A-Z_]+\b")


def code_of(page: Path) -> list[str]:
    """The page's code: each line of its fenced blocks and each inline code span."""
    text = page.read_text(encoding="utf-8")
    blocks = [line for block in _FENCE.findall(text) for line in block.splitlines()]
    return blocks + _SPAN.findall(_FENCE.sub("", text))


def cli_options() -> dict[str, set[str]]:
    """Each citeqa command's option spellings, from the CLI itself."""
    import typer

    from qa.cli import app

    group = typer.main.get_command(app)
    return {
        name: {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
        for name, command in group.commands.items()
    }


def mentioned(pattern: re.Pattern, groups: int = 2) -> list[tuple[str, str, tuple[str, ...]]]:
    found = []
    for page in PAGES:
        for code in code_of(page):
            for match in pattern.finditer(code):
                head = match.group(1) if groups == 2 else ""
                found.append((page.name, head, tuple(_OPTION.findall(match.group(groups)))))
    return found


def test_the_pages_show_commands_in_code():
    """The checks below read something: the manual shows every command with options."""
    commands = {command for _, command, _ in mentioned(_INVOCATION)}
    assert set(cli_options()) <= commands


def test_every_command_and_option_the_manual_shows_exists():
    options = cli_options()
    wrong = []
    for page, command, flags in mentioned(_INVOCATION):
        if command not in options:
            wrong.append(f"{page}: citeqa {command}")
            continue
        wrong += [f"{page}: citeqa {command} {flag}" for flag in flags if flag not in options[command]]
    assert not wrong, wrong


def test_every_option_the_manual_names_belongs_to_some_command():
    """An option named on its own (`--precision int8`) is one that a command takes, or a trainer's."""
    known = set().union(*cli_options().values()) | training_options()
    wrong = {
        f"{page.name}: {flag}"
        for page in PAGES
        for code in code_of(page)
        for flag in _OPTION.findall(code)
        if flag not in known
        and not _BENCH.search(code)  # a benchmark's options are checked against its script below
        and not code.lstrip().startswith(("pip", "bash", "sqlite3", "curl", ".venv/bin/python -m pytest"))
    }
    assert not wrong, sorted(wrong)


def training_options() -> set[str]:
    """The options of the reader's trainer and of the answer model's fittings."""
    from qa.eval.fit_answer import argument_parser as fitting
    from qa.eval.fit_joint import argument_parser as joining
    from qa.reader.train import argument_parser as training

    parsers = (training(), fitting(), joining())
    return {o for parser in parsers for action in parser._actions for o in action.option_strings}


def test_the_training_command_the_manual_shows_takes_those_options():
    known = training_options()
    shown = [(page, flags) for page, _, flags in mentioned(_TRAIN, groups=1)]
    assert shown, "the manual shows how to retrain the reader"
    wrong = [f"{page}: {flag}" for page, flags in shown for flag in flags if flag not in known]
    assert not wrong, wrong


def test_every_benchmark_the_manual_runs_exists_and_takes_those_options():
    shown = []
    for page in PAGES:
        for code in code_of(page):
            shown += [(page.name, m.group(1), _OPTION.findall(m.group(2))) for m in _BENCH.finditer(code)]
    assert shown
    wrong = []
    for page, script, flags in shown:
        path = ROOT / script
        if not path.is_file():
            wrong.append(f"{page}: {script}")
            continue
        source = path.read_text(encoding="utf-8")
        wrong += [f"{page}: {script} {flag}" for flag in flags if f'"{flag}"' not in source]
    assert not wrong, wrong


def test_every_environment_variable_the_manual_names_is_read_by_the_code():
    files = [
        p for d in ("qa", "embeddings", "tui", "scripts") for p in (ROOT / d).rglob("*") if p.suffix in (".py", ".sh")
    ]
    source = "\n".join(p.read_text(encoding="utf-8") for p in files)
    named = {v for page in PAGES for v in _VARIABLE.findall(page.read_text(encoding="utf-8"))}
    assert named and not {v for v in named if v not in source}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_leads_to_a_file(page):
    targets = [t for t in _LINK.findall(page.read_text(encoding="utf-8")) if "://" not in t]
    missing = [t for t in targets if not (page.parent / t).exists()]
    assert not missing, missing


def test_the_front_door_is_short():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 250

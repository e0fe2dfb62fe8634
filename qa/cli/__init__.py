"""The `citeqa` command line: index, ask, info, chat, serve, mcp and eval.

Heavy libraries are imported inside the commands that need them: `citeqa --help` or `citeqa info` never
pays for torch, and `ask` pays only when it must embed the question.
"""

from __future__ import annotations

import gc
import sys
import warnings

import typer

from qa.cli.asking import ask, chat
from qa.cli.corpus import index, info
from qa.cli.evaluation import evaluate
from qa.cli.service import mcp, serve
from qa.cli.shared import app, note, os_error_line
from qa.errors import CiteqaError

for command in (index, ask, info, chat, serve, mcp):
    app.command()(command)
app.command(name="eval")(evaluate)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Our warnings as one `citeqa: warning:` line each; libraries' warnings stay quiet."""
    from embeddings.errors import ExportRefused
    from qa.errors import StaleIndexWarning
    from qa.ingest.corpus import SkippedFile

    if issubclass(category, SkippedFile | StaleIndexWarning | ExportRefused):
        note(f"warning: {message}")


def main() -> None:
    """Entry point: one-line errors with exit code 1 (2 for usage errors), never a traceback."""
    # Typer raises its own (vendored) click's exceptions when it is not left to print them itself.
    from typer._click import ClickException
    from typer._click.exceptions import NoArgsIsHelpError

    warnings.showwarning = _show_warning
    try:
        status = app(standalone_mode=False, prog_name="citeqa")
    except NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ClickException as exc:  # option parsing: one line and where to look, not a boxed panel
        command = exc.ctx.command_path if getattr(exc, "ctx", None) else "citeqa"
        note(f"error: {exc.format_message()} (see '{command} -h')")
        sys.exit(exc.exit_code)
    except typer.Abort:
        note("interrupted")
        sys.exit(130)
    except CiteqaError as exc:
        note(f"error: {exc}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        note("interrupted")
        sys.exit(130)
    except OSError as exc:  # an unwritable index directory, a full disk: the system's words, one line
        note(f"error: {os_error_line(exc)}")
        sys.exit(1)
    if status == 130:
        note("interrupted")
    # The process is ending: its last garbage collections would walk every object numpy, onnxruntime and FAISS
    # made, 0.045 s of a 0.5 s `ask` (bench/cold_start.py). Frozen, they are still freed, just not searched.
    gc.freeze()
    sys.exit(status or 0)

"""The real command line in a fresh process, as a user's shell runs it, and the one-line error rule."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def citeqa(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m qa ARGS` from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "qa", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout
    )


def assert_one_line_error(result: subprocess.CompletedProcess, code: int) -> None:
    """Exit `code`, and on stderr one `citeqa: error:` line, no traceback."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("citeqa: error: "), result.stderr

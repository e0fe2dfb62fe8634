"""The wheel holds the whole program: every module of every package (setuptools finds them; one it missed would
install a citeqa that fails on import), the reader's model, the seeds and the UI's stylesheet."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile

from tests.conftest import ROOT

PACKAGES = ("qa", "embeddings", "tui", "seeds")


def test_the_built_wheel_holds_every_module_and_data_file(tmp_path):
    # from a clean copy: setuptools would reuse what an earlier build left in build/
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__"))
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            # the installed setuptools where there is one (offline, fast); else pip fetches the build backend
            *(["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []),
            "-q",
            "-w",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("citeqa-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {
        str(p.relative_to(ROOT))
        for package in PACKAGES
        for p in (ROOT / package).rglob("*.py")
        if "__pycache__" not in p.parts and (p.parent / "__init__.py").exists()
    }
    assert modules and not modules - names, sorted(modules - names)
    data = {f"qa/reader/model/{p.name}" for p in (ROOT / "qa" / "reader" / "model").iterdir()}
    data |= {f"seeds/{p.name}" for p in (ROOT / "seeds").iterdir() if p.suffix in (".txt", ".jsonl")}
    data |= {f"tui/{p.name}" for p in (ROOT / "tui").glob("*.tcss")}
    assert not data - names, sorted(data - names)


def test_every_folder_of_modules_is_a_package():
    """setuptools finds packages by their __init__.py: a folder of modules without one would leave the wheel."""
    folders = {p.parent for package in PACKAGES for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts}
    assert folders and not [f for f in folders if not (f / "__init__.py").exists()]

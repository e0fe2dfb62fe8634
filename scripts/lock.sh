#!/usr/bin/env bash
# Refresh requirements.lock: install citeqa from pyproject.toml's ranges into a new environment (no constraints,
# so pip takes the newest versions the ranges allow), then freeze it. Run the suite on the result before
# committing the new lock.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
"$python" -m venv "$fresh/venv"
pip_install() { "$fresh/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"; }
pip_install "${CITEQA_TORCH:-torch==2.13.0}"
pip_install -e '.[test,milvus,serve]'
{
  sed -n '1,3p' requirements.lock
  "$fresh/venv/bin/python" -m pip freeze --exclude-editable | grep -v '^#' | sed -E 's/^(torch==[^+]+)\+.*/\1/'
} > requirements.lock.new
mv requirements.lock.new requirements.lock
echo "requirements.lock refreshed: $(grep -c '==' requirements.lock) pinned packages" >&2

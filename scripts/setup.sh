#!/usr/bin/env bash
# Set up citeqa in ./.venv with the exact versions of requirements.lock: the CPU build of torch first (an unpinned
# torch pulls gigabytes of CUDA packages), then citeqa itself, editable, with its test tools and the Milvus extra
# (its tests run too).
#   CITEQA_FRESH=1      remove an existing .venv first (CI does: it never reuses an environment)
#   CITEQA_TORCH        torch requirement to install first (default: the lock's torch==2.13.0)
#   CITEQA_TORCH_INDEX  package index serving CPU builds, for machines whose pip would pick a CUDA build
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ "${CITEQA_FRESH:-0}" = 1 ]; then
  rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
pip_install() { .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@" 2> >(grep -v "^WARNING: Location" >&2); }
torch_index=()
if [ -n "${CITEQA_TORCH_INDEX:-}" ]; then torch_index=(--index-url "$CITEQA_TORCH_INDEX"); fi
pip_install "${CITEQA_TORCH:-torch==2.13.0}" "${torch_index[@]}"
pip_install -c requirements.lock -e '.[test,milvus,serve]'
echo "citeqa is installed in .venv: run .venv/bin/citeqa --help" >&2

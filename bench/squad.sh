#!/usr/bin/env bash
# SQuAD v1.1 dev half: dense, BM25 and hybrid side by side in one run, as `citeqa eval` reports them,
# next to the reference figures of ../shared/bench/README.md.
#   bash bench/squad.sh [--fresh]     (--fresh drops the cached benchmark index first, to time indexing too)
set -euo pipefail
cd "$(dirname "$0")/.."
data=../shared/bench/squad-v1.1-dev-half.json
if [ "${1:-}" = "--fresh" ]; then
  rm -rf "$(.venv/bin/python -c 'from qa.paths import cache_root; print(cache_root() / "eval")')"
fi
start=$(date +%s)
.venv/bin/citeqa eval "$data" --mode all --report bench/results/squad.md --json "${TMPDIR:-/tmp}/citeqa-squad.json"
echo "wall time: $(( $(date +%s) - start )) s on $(nproc) CPUs; per-question results in ${TMPDIR:-/tmp}/citeqa-squad.json"
cat <<'REF'
reference (shared/bench/README.md): txtai hybrid R@1 0.811, R@5 0.961, R@10 0.978, MRR@10 0.876 (index 46 s,
questions 28 s); plain pipeline MRR@10 dense ~0.74, BM25 ~0.82, RRF ~0.82; best-sentence answers hit@1 ~0.62,
hit@3 ~0.80.
REF

#!/usr/bin/env bash
# BBC News dev questions on the BBC corpus: dense, BM25 and hybrid side by side, as `citeqa eval` reports them.
#   bash bench/bbc.sh     (the first run indexes the 2,226 articles, a few minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
.venv/bin/citeqa eval ../shared/bench/bbc-dev.jsonl --corpus ../shared/bench/bbc --mode all \
  --report bench/results/bbc.md --json "${TMPDIR:-/tmp}/citeqa-bbc.json"
echo "wall time: $(( $(date +%s) - start )) s on $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

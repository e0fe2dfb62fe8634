"""Articles that tests write into their corpora: recombined seed sentences and a saved news page."""

from __future__ import annotations

import random
from pathlib import Path

from tests.conftest import SEEDS

# Sentences of real news (the seeds), recombined into extra articles so that indexing has work to interrupt.
SEED_SENTENCES = [line.strip() for path in sorted(SEEDS.glob("*.txt")) for line in path.read_text().splitlines()]
SEED_SENTENCES = [line for line in SEED_SENTENCES if line.endswith(".") and len(line) > 60]


def write_extra_articles(corpus: Path, count: int, tag: str, seed: int) -> None:
    """`count` articles named TAG000.txt…, each twelve seed sentences drawn with `seed`: indexing has work to do."""
    rng = random.Random(seed)
    for i in range(count):
        sentences = rng.sample(SEED_SENTENCES, min(12, len(SEED_SENTENCES)))
        (corpus / f"{tag}{i:03d}.txt").write_text(f"Report {tag} {i}\n\n" + " ".join(sentences) + "\n")


# A saved web page as a news site serves it: the article among navigation, a cookie banner, sharing and related links.
PAGE = """<!DOCTYPE html><html><head><title>Harbour ferry sails again | Coast News</title>
<meta property="og:site_name" content="Coast News">
<meta name="author" content="Jane Reporter">
<meta property="article:published_time" content="2021-05-04T09:00:00Z">
<link rel="canonical" href="https://coast.example/ferry"></head>
<body><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies?</div>
<article><h1>Harbour ferry sails again</h1>
<p>The ferry to Busan left the harbour at noon on Friday with 300 passengers on board, the first crossing since
the storm damaged the pier in March.</p>
<p>The port authority said repairs had cost about 2 million dollars and took eight weeks to finish.</p>
<p>Passengers cheered as the vessel cleared the breakwater, and the captain sounded the horn three times.</p>
</article>
<div class="share">Share on Facebook Share on Twitter</div>
<aside><h3>Related stories</h3><ul><li><a href="/a">Ten best beaches this summer</a></li></ul></aside>
<footer>Copyright 2021 Coast News. All rights reserved.</footer></body></html>"""

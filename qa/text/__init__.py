"""Pure functions over strings that every stage shares: BM25 terms, typed expressions, question analysis."""

"""Passages to a cited answer, or an abstention: candidates, choosing (features and the reader), spans, time, the
result."""

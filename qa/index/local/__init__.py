"""The local backend: generations of segments in a folder (SQLite, vectors, BM25 term counts)."""

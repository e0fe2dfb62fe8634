"""citeqa core."""

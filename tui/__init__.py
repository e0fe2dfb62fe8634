"""citeqa's Textual chat UI: `citeqa chat`."""

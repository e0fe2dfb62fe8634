"""The bundled seed articles and their questions: the corpus citeqa answers from when given none (package data)."""

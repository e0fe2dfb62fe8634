"""`python -m qa` is `citeqa`."""

from qa.cli import main

main()

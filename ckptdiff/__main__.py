"""`python -m ckptdiff` runs the CLI."""

from ckptdiff.cli import main

main()

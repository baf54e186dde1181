"""`python -m mbport`: the same command line as the `mbport` script."""

from mbport.cli import run

run()

"""``python -m wsbench``: the same command line as ``wsbench``."""

from wsbench.cli import main

main()

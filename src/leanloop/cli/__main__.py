"""``python -m leanloop.cli``: the same as the ``leanloop`` command."""

from leanloop.cli import main

main()

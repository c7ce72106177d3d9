"""``python -m leanloop.config README.md``: regenerate the configuration reference
between the README's markers (a test fails while it differs from the models)."""

import sys
from pathlib import Path

from leanloop.config.render import update_readme

for name in sys.argv[1:]:
    print(f"{name}: {'updated' if update_readme(Path(name)) else 'unchanged'}")

"""``python -m crowdsms.sandbox``: serve the sandbox in the foreground (see ``--help``)."""

from __future__ import annotations

import sys

from crowdsms.sandbox._cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())

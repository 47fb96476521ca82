"""``python -m sememe``: the same as the ``sememe`` command."""

import sys

from .cli.main import main

sys.exit(main())

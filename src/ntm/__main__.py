"""``python -m ntm ...`` runs the ``ntm`` command line."""

import sys

from ntm.cli import main

sys.exit(main())

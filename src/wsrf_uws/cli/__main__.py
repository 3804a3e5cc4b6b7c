"""``python -m wsrf_uws.cli``: the ``wsrf-uws`` command."""

import sys

from . import main

sys.exit(main())

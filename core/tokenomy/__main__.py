"""``python -m tokenomy``: the ``tokenomy`` command."""

import sys

from tokenomy.cli import main

sys.exit(main())

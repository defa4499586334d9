"""``python -m hwsim.cli``."""

import sys

from . import main

sys.exit(main())

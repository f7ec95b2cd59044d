"""`python -m cnnzoo` (and `torchrun ... -m cnnzoo train ...`)."""

import sys

from .cli import main

sys.exit(main())

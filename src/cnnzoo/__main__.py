"""`python -m cnnzoo` (and `torchrun ... -m cnnzoo train ...`)."""

from .cli import entry

entry()

"""A plug-in module whose own code fails when imported (for the tests)."""

BROKEN = 1 / 0

"""A plug-in module whose own code fails when imported (for the tests)."""

1 / 0

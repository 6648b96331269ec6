"""Faults: failure models, failure clocks (and, with the reliability model, repair and checkpoints)."""

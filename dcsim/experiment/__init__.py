"""Experiments: single runs, policy comparisons on common random numbers."""

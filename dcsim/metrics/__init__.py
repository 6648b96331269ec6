"""Metrics: event records, the collector that stores them, and scoring over tables."""

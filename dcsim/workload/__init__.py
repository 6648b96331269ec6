"""Workload: jobs, arrival processes, size and duration distributions, trace readers."""

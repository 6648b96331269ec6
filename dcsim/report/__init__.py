"""Reports: the console summary, progress display, plots."""

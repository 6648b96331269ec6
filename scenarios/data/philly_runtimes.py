"""Derive ``philly_runtimes.csv`` from the Philly run times in Alibaba's clusterdata repository.

The source, ``cluster-trace-gpu-v2020/philly_runtime.csv`` of alibaba/clusterdata (83,154
run times, in seconds, of jobs on Microsoft's Philly GPU clusters; CC-BY 4.0), is cut into
1,000 bins of equal probability (0.1 % of the jobs each; a job on a bin's edge is split
between the two bins) and each bin is written as its mean. Drawing rows uniformly, as
``duration: {dist: empirical, ...}`` does, then gives the source's mean exactly and its
quantiles to within a bin.

    python scenarios/data/philly_runtimes.py PATH/TO/philly_runtime.csv > scenarios/data/philly_runtimes.csv
"""

from __future__ import annotations

import sys

import numpy as np

BINS = 1000
"""Rows of the derived table; each stands for 1/BINS of the jobs."""


def bin_means(values: np.ndarray, bins: int = BINS) -> np.ndarray:
    """The means of ``bins`` equal-probability bins of ``values`` (the empirical quantile function's bin means).

    Args:
        values: the sample.
        bins: how many bins.

    Returns:
        ``bins`` non-decreasing values whose mean is the sample's.
    """
    v = np.sort(np.asarray(values, dtype=float))
    n = v.size
    below = np.concatenate([[0.0], np.cumsum(v)])  # below[k]: sum of the k smallest values

    def integral(p: np.ndarray) -> np.ndarray:
        """The integral of the empirical quantile function from 0 to p, times n."""
        k = np.minimum(np.floor(p * n).astype(np.int64), n)
        part = p * n - k
        return below[k] + part * v[np.minimum(k, n - 1)]

    edges = np.arange(bins + 1) / bins
    return np.diff(integral(edges)) * bins / n


def table(values: np.ndarray) -> str:
    """The CSV text: a header ``runtime_s`` and one bin mean a line (0.1 s resolution)."""
    return "runtime_s\n" + "".join(f"{x:.1f}\n" for x in bin_means(values))


if __name__ == "__main__":
    source = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
    sys.stdout.write(table(source))

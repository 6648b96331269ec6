"""Time-to-failure distributions of components, from the scenario's ``failures`` block.

A model is given by its mean (``mtbf``, or an annual failure rate ``afr`` in failures
per year, mean = 1 year / afr) and a distribution: exponential, Weibull (``shape``
k; k < 1 is infant mortality) or log-normal (``sigma``). ``per_type`` replaces the
whole model for one GPU type.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dcsim.faults.spec import FailureModel

if TYPE_CHECKING:  # numpy is imported where times are drawn, so `dcsim validate` need not import it
    import numpy as np

YEAR_S = 365.0 * 86400.0


@dataclass(frozen=True)
class TimeToFailure:
    """The time to failure of one component (a renewal: drawn afresh after each repair).

    Attributes:
        dist: ``exponential``, ``weibull`` or ``lognormal``.
        mean_s: mean time to failure, s.
        shape: Weibull shape k (Weibull only).
        sigma: standard deviation of the log (log-normal only).
    """

    dist: str
    mean_s: float
    shape: float | None = None
    sigma: float | None = None

    @property
    def rate_per_s(self) -> float:
        """Long-run failures per second of one component that is repaired at once (renewal theorem)."""
        return 1.0 / self.mean_s

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent times to failure, s."""
        if self.dist == "exponential":
            return rng.exponential(self.mean_s, n)
        if self.dist == "weibull":
            assert self.shape is not None
            scale = self.mean_s / math.gamma(1.0 + 1.0 / self.shape)
            return scale * rng.weibull(self.shape, n)
        if self.dist == "lognormal":
            assert self.sigma is not None
            mu = math.log(self.mean_s) - self.sigma**2 / 2.0
            return rng.lognormal(mu, self.sigma, n)
        raise ValueError(f"unknown time-to-failure distribution {self.dist!r}")


def time_to_failure(model: FailureModel, gpu_type: str | None = None) -> TimeToFailure | None:
    """The time to failure of a component of ``gpu_type`` under ``model``, or None if it never fails.

    Args:
        model: the scenario's block for one component class.
        gpu_type: the GPU type of the component's node, for ``per_type`` overrides.
    """
    if model.per_type and gpu_type in model.per_type:
        model = model.per_type[gpu_type]
    if model.mtbf is not None:
        mean = model.mtbf
    elif model.afr is not None:
        mean = YEAR_S / model.afr
    else:
        return None  # only per-type figures were given, and none for this type
    return TimeToFailure(model.dist, float(mean), model.shape, model.sigma)

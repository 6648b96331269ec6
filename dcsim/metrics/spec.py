"""The metrics' part of the scenario schema: what is measured and how often.

The prices scoring applies are the sites' (:class:`~dcsim.infra.spec.Costs`).
"""

from __future__ import annotations

from pydantic import Field

from dcsim.core.spec import PositiveSeconds, Strict


class Metrics(Strict):
    """What is measured and how often."""

    sample_interval: PositiveSeconds | None = Field(
        None, description="time between timeseries samples (default: horizon/1000, or 5m)"
    )
    requests_table_rows: int = Field(
        100_000,
        ge=0,
        le=100_000_000,
        description="most rows of requests.parquet: beyond it, a uniform random sample of about this many requests "
        "(every summary metric is over all of them)",
    )

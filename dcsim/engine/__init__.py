"""The engine: wiring of one run (sources, dispatcher, runs, reliability, sampling).

See docs/architecture.md ("The engine") for the run model and how the parts connect.
"""

from dcsim.engine.model import DataCenterModel
from dcsim.engine.sources import class_chunks

__all__ = ["DataCenterModel", "class_chunks"]

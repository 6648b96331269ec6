"""A first-fit sharing policy for the fill tests (loaded as 'plugins.fill_stub:FirstFitShare').

The lowest-id candidate node where the demand fits, on the lowest-indexed GPUs that hold it:
a policy simple enough that the fill runner's tests do not depend on the FGD study's six.
"""

from __future__ import annotations


class FirstFitShare:
    """First fit over the candidates; ``place`` is there only for the registry's protocol check."""

    def __init__(self, params, rng) -> None:
        self.params, self.rng = params, rng
        self.shapes = None

    def bind_shapes(self, shapes) -> None:
        self.shapes = list(shapes)

    def place(self, job, cluster):  # pragma: no cover - a fill run calls choose only
        raise AssertionError("a fill run calls choose, not place")

    def choose(self, demand, shares, nodes):
        for node in nodes:
            if shares.fits(node, demand):
                return node, shares.gpu_options(node, demand)[0]
        return None


class FullNode(FirstFitShare):
    """Always answers node 0, full or not: a plug-in's mistake the fill run must catch."""

    def choose(self, demand, shares, nodes):
        return 0, tuple(range(demand.gpus))

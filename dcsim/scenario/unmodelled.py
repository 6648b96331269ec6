"""What a scenario sets that the model records but does not simulate yet.

The schema accepts a few fields ahead of the models that will use them: the network
block is built into the fabric graph, but no job's run time depends on bandwidth yet. A
scenario that sets them gets one line saying so, in the run's ``notes`` (through
:func:`dcsim.experiment.run.notes`) and in ``dcsim validate``'s output, so that no
field silently does nothing.
"""

from __future__ import annotations

from dcsim.scenario.schema import Network, Scenario

NETWORK_FIELDS = tuple(Network.model_fields)
"""The fields of a site's ``network`` block: all of them recorded, none modelled yet."""


def unmodelled_notes(scenario: Scenario) -> list[str]:
    """One line per kind of setting that is recorded but changes no result.

    Args:
        scenario: a validated scenario.

    Returns:
        The lines (empty when the scenario sets nothing of the kind).
    """
    out = []
    given = {
        name
        for site in scenario.datacenter.sites
        for name in site.network.model_fields_set
        if getattr(site.network, name) is not None
    }
    if given:
        names = ", ".join(f"network.{name}" for name in NETWORK_FIELDS if name in given)
        out.append(
            f"{names} {'is' if len(given) == 1 else 'are'} recorded but not yet modelled: "
            f"{'it changes' if len(given) == 1 else 'they change'} no result (run times do not depend on the "
            "fabric yet)"
        )
    return out

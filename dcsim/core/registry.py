"""Registries of named, parameterised components (policies and the like).

A registry maps a name to a class with a nested pydantic ``Params`` model and an
``__init__(params, rng)``. Users' plug-ins load by ``module:Class``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from dcsim.core.errors import UnknownPolicyError

T = TypeVar("T")


class NoParams(BaseModel):
    """Parameters of a component that takes none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Registry(Generic[T]):
    """Named components of one kind (e.g. ``placement``).

    Args:
        kind: what the components decide, used in messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, type] = {}

    def register(self, name: str) -> Callable[[type], type]:
        """Class decorator that registers a component under ``name``."""

        def deco(cls: type) -> type:
            if name in self._classes:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._classes[name] = cls
            cls.registered_name = name  # type: ignore[attr-defined]
            return cls

        return deco

    def builtins(self) -> frozenset[type]:
        """The registered classes (plug-ins loaded by 'module:Class' are not among them)."""
        return frozenset(self._classes.values())

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self._classes)

    def describe(self) -> dict[str, str]:
        """Return each registered name with the first line of its docstring."""
        out = {}
        for name in self.names():
            doc = (self._classes[name].__doc__ or "").strip().splitlines()
            out[name] = doc[0] if doc else ""
        return out

    def lookup(self, name: str) -> type:
        """Return the class for ``name`` (a registered name or ``module:Class``).

        Raises:
            UnknownPolicyError: the name is not registered and is no importable plug-in.
        """
        if name in self._classes:
            return self._classes[name]
        if ":" in name:
            module_name, _, attr = name.partition(":")
            try:
                cls = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as exc:
                raise UnknownPolicyError(
                    f"cannot load {self.kind} plug-in {name!r}: {exc}; "
                    "give it as 'module:Class' with the module importable"
                ) from None
            return cls
        valid = ", ".join(self.names())
        raise UnknownPolicyError(f"unknown {self.kind} {name!r}; valid names: {valid} (or a plug-in as 'module:Class')")

    def params_model(self, name: str) -> type[BaseModel]:
        """Return the ``Params`` model of ``name`` (``NoParams`` if it declares none)."""
        return getattr(self.lookup(name), "Params", NoParams)

    def validate_params(self, name: str, params: Mapping[str, Any] | None) -> BaseModel:
        """Validate ``params`` against the ``Params`` model of ``name``."""
        return self.params_model(name).model_validate(dict(params or {}))

    def create(self, name: str, params: Mapping[str, Any] | None, rng: np.random.Generator) -> T:
        """Build the component ``name`` with validated ``params`` and its own ``rng``."""
        cls = self.lookup(name)
        return cls(self.validate_params(name, params), rng)  # type: ignore[no-any-return]

"""Registries of named, parameterised components (policies and the like).

A registry maps a name to a class with a nested pydantic ``Params`` model and an
``__init__(params, rng)``. Users' plug-ins load by ``module:Class``.

A plug-in is code: naming ``module:Class`` in a scenario imports that module, which runs
it. Before anything of the class is called, :meth:`Registry.lookup` checks that it is a
class implementing the registry's protocol (the methods its kind needs, a pydantic
``Params`` if any, an ``__init__`` taking ``(params, rng)``). Setting the environment
variable ``DCSIM_NO_PLUGINS=1`` (the CLI's ``--no-plugins``) refuses every plug-in before
its module is imported, for scenario files from untrusted sources.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from dcsim.core.errors import DcsimError, PluginError, UnknownPolicyError
from dcsim.core.text import cut

if TYPE_CHECKING:
    import numpy as np

T = TypeVar("T")

NO_PLUGINS_ENV = "DCSIM_NO_PLUGINS"
"""Environment variable: when set to anything but '' or '0', plug-ins are refused unimported."""


def plugins_allowed() -> bool:
    """Whether ``module:Class`` plug-ins may be imported (see :data:`NO_PLUGINS_ENV`)."""
    return os.environ.get(NO_PLUGINS_ENV, "") in ("", "0")


def _import_plugin_module(module_name: str, search: Sequence[str]) -> Any:
    """Import ``module_name``; if it is not on the path, look for it in the folders ``search``.

    Raises:
        ModuleNotFoundError: the module is on the path nowhere, and in none of ``search``.
    """
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.partition(".")[0]
        if exc.name != top:
            raise
        for folder in search:
            if os.path.isfile(os.path.join(folder, top + ".py")) or os.path.isfile(
                os.path.join(folder, top, "__init__.py")
            ):
                # Appended, not prepended: a folder of scenarios never shadows an installed module.
                if folder not in sys.path:
                    sys.path.append(folder)
                importlib.invalidate_caches()
                return importlib.import_module(module_name)
        raise


class NoParams(BaseModel):
    """Parameters of a component that takes none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Registry(Generic[T]):
    """Named components of one kind (e.g. ``placement``).

    Args:
        kind: what the components decide, used in messages.
        conforms: the protocol check of a plug-in class: returns what it lacks (e.g. "no
            method place(job, cluster)"), or None if it implements the protocol.
        shape: the protocol in a few words, for messages (e.g. "a class with
            __init__(params, rng) and place(job, cluster)").
    """

    def __init__(
        self, kind: str, conforms: Callable[[type], str | None] | None = None, shape: str = "a policy class"
    ) -> None:
        self.kind = kind
        self._classes: dict[str, type] = {}
        self._conforms = conforms or (lambda cls: None)
        self.shape = shape

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

    def lookup(self, name: str, search: Sequence[str] = ()) -> type:
        """Return the class for ``name`` (a registered name or ``module:Class``).

        Args:
            name: a registered name, or ``module:Class`` (a plug-in).
            search: folders to find a plug-in's module in when it is not on the Python path
                (the scenario's folder, the current folder).

        Raises:
            UnknownPolicyError: the name is not registered, or the plug-in is refused
                (plug-ins off), cannot be imported, or is not a class implementing the protocol.
        """
        if name in self._classes:
            return self._classes[name]
        if ":" not in name:
            valid = ", ".join(self.names())
            raise UnknownPolicyError(
                f"unknown {self.kind} {cut(name, 80)!r}; valid names: {valid} (or a plug-in as 'module:Class')"
            )
        label = f"{self.kind} plug-in {cut(name, 80)!r}"
        module_name, _, attr = name.partition(":")
        if not all(part.isidentifier() for part in module_name.split(".")) or not attr.isidentifier():
            raise UnknownPolicyError(
                f"{label}: give a plug-in as 'module:Class', with a module name (dotted words) and a class "
                "name, e.g. 'mypolicies:LastFit'"
            )
        if not plugins_allowed():
            raise UnknownPolicyError(
                f"{label}: plug-ins are off (--no-plugins, or {NO_PLUGINS_ENV}=1), so its code was not run; "
                f"use a built-in {self.kind} ({', '.join(self.names())}) or allow plug-ins for a file you trust"
            )
        try:
            module = _import_plugin_module(module_name, search)
        except ModuleNotFoundError as exc:
            raise UnknownPolicyError(
                f"cannot load {label}: no module named {cut(exc.name or module_name, 80)!r} on the Python path, "
                f"beside the scenario or in the current folder; put {module_name.partition('.')[0]}.py beside "
                "the scenario, or add its folder to PYTHONPATH"
            ) from None
        except Exception as exc:  # the plug-in's own code failed while importing
            raise UnknownPolicyError(
                f"cannot load {label}: importing {module_name!r} failed ({type(exc).__name__}: "
                f"{cut(str(exc), 80)}); fix the module"
            ) from None
        cls = getattr(module, attr, None)
        if cls is None:
            raise UnknownPolicyError(f"cannot load {label}: module {module_name!r} has no {attr!r}; check the name")
        problem = self._not_a_policy(cls)
        if problem:
            raise UnknownPolicyError(f"{label} is not a {self.kind} policy: {problem}; a {self.kind} is {self.shape}")
        return cls  # type: ignore[no-any-return]

    def _not_a_policy(self, obj: Any) -> str | None:
        """What keeps ``obj`` from being a policy of this kind, or None."""
        if not inspect.isclass(obj):
            return f"it is a {'function' if callable(obj) else 'value'}, not a class"
        params = getattr(obj, "Params", NoParams)
        if not (inspect.isclass(params) and issubclass(params, BaseModel)):
            return "its Params is not a pydantic model"
        try:
            inspect.signature(obj).bind(None, None)
        except (TypeError, ValueError):
            return "it cannot be built as Class(params, rng)"
        return self._conforms(obj)

    def params_model(self, name: str, search: Sequence[str] = ()) -> type[BaseModel]:
        """Return the ``Params`` model of ``name`` (``NoParams`` if it declares none)."""
        return getattr(self.lookup(name, search), "Params", NoParams)

    def validate_params(self, name: str, params: Mapping[str, Any] | None, search: Sequence[str] = ()) -> BaseModel:
        """Validate ``params`` against the ``Params`` model of ``name``."""
        return self.params_model(name, search).model_validate(dict(params or {}))

    def create(self, name: str, params: Mapping[str, Any] | None, rng: np.random.Generator) -> T:
        """Build the component ``name`` with validated ``params`` and its own ``rng``."""
        cls = self.lookup(name)
        return cls(self.validate_params(name, params), rng)  # type: ignore[no-any-return]


def lacks_methods(cls: type, *names: str) -> str | None:
    """What a plug-in class lacks of the methods ``names`` (as ``"no method place(job, cluster)"``), or None."""
    missing = [name for name in names if not callable(getattr(cls, name.partition("(")[0], None))]
    if missing:
        return "no method " + " or ".join(missing)
    return None


def guarded(policy: object, method: str, kind: str, name: str, registry: Registry) -> Callable[..., Any]:
    """``policy.method``, wrapped for a plug-in so that its exceptions name it.

    Raises (from the wrapper):
        PluginError: the plug-in raised; the message names it, the exception and where.
    """
    call: Callable[..., Any] = getattr(policy, method)
    if type(policy) in registry.builtins():
        return call

    def wrapper(*args: Any) -> Any:
        try:
            return call(*args)
        except DcsimError:
            raise
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            raise PluginError(
                f"{kind} plug-in {name!r} raised {type(exc).__name__}: {exc} "
                f"(in {method}(), {where.filename}:{where.lineno})"
            ) from exc

    return wrapper

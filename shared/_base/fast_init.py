"""A cheaper ``__init__`` for the frozen dataclasses built on every tick.

On Python 3.11 a frozen dataclass's generated ``__init__`` stores each field
with ``object.__setattr__`` (its own ``__setattr__`` refuses), ~0.1 us a
field: a 22-field ``TickRecord`` cost ~2.4 us to build, four times the same
class not frozen, and a pool at capacity spent ~15% of its CPU in such
``__init__``s.  ``fast_init`` keeps the dataclass as ``@dataclass`` made it
(its fields, ``__eq__``, ``__hash__``, ``__repr__``, the ``__setattr__`` that
refuses, ``replace``, ``asdict``) and swaps only its ``__init__`` for one
generated from ``dataclasses.fields()``, with the same parameters, defaults
and default factories, that sets the instance's whole ``__dict__`` in one
store: ``TickRecord`` ~1.2 us.

The one store, not a store per field into ``self.__dict__`` (cheaper still
to build): on 3.11 that dict stays a "split" dict, which attribute reads
cannot specialise on, each read ~3 times slower, more than the saving for a
record read some 20 times when it is encoded.

Usage, over the dataclass decorator, which mypy still sees and checks the
constructor's calls against::

    @fast_init
    @dataclass(frozen=True)
    class TickMessage: ...

A class this cannot build the same way is refused when it is defined
(``TypeError``): not a frozen dataclass, ``__post_init__``, ``InitVar`` or
``init=False`` fields, ``__slots__`` (no ``__dict__``).
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, TypeVar

_T = TypeVar("_T")

# The generated code's own names: a field may not take one.
_PREFIX = "_fast_init_"


class _Factory:
    """The default of a parameter whose field has a default factory: call it."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def fast_init(cls: type[_T]) -> type[_T]:
    """Give frozen dataclass ``cls`` a cheaper ``__init__`` with the same parameters."""
    fields = _fields(cls)
    namespace: dict[str, Any] = {f"{_PREFIX}set": object.__setattr__, f"{_PREFIX}F": _FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for f in fields:
        param = f.name
        if f.default is not dataclasses.MISSING:
            namespace[f"{_PREFIX}d_{f.name}"] = f.default
            param += f"={_PREFIX}d_{f.name}"
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"{_PREFIX}f_{f.name}"] = f.default_factory
            param += f"={_PREFIX}F"
            body.append(f"    if {f.name} is {_PREFIX}F: {f.name} = {_PREFIX}f_{f.name}()")
        (keyword if f.kw_only else positional).append(param)
    params = [f"{_PREFIX}self", *positional, *(["*", *keyword] if keyword else [])]
    state = ", ".join(f"{f.name!r}: {f.name}" for f in fields)
    body.append(f"    {_PREFIX}set({_PREFIX}self, '__dict__', {{{state}}})")
    exec(f"def __init__({', '.join(params)}):\n" + "\n".join(body), namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    _same_parameters(cls, init)
    # Not ``cls.__init__ = init``: mypy refuses an assignment to a method.
    type.__setattr__(cls, "__init__", init)
    return cls


def _fields(cls: type[Any]) -> tuple[dataclasses.Field[Any], ...]:
    """The fields of ``cls``, once it is known to be a class ``fast_init`` can build."""
    name = cls.__qualname__
    params = cls.__dict__.get("__dataclass_params__")
    if params is None:
        raise TypeError(f"fast_init: {name} is not a dataclass (put it over @dataclass)")
    if not params.frozen or not params.init:
        raise TypeError(f"fast_init: {name} must be @dataclass(frozen=True) with its __init__")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"fast_init: {name} has a __post_init__, which it would not call")
    if cls.__dictoffset__ == 0:
        raise TypeError(f"fast_init: {name}'s instances have no __dict__ (__slots__)")
    fields = dataclasses.fields(cls)
    for f in fields:
        if not f.init:
            raise TypeError(f"fast_init: {name}.{f.name} is init=False")
        if f.name.startswith(_PREFIX):
            raise TypeError(f"fast_init: {name}.{f.name} takes a name of its generated code")
    return fields


def _same_parameters(cls: type[Any], init: Any) -> None:
    """Refuse ``cls`` unless ``init`` takes the parameters, of the same kinds, in the
    same order, as the ``__init__`` ``@dataclass`` generated (an ``InitVar`` differs).
    """
    theirs = list(inspect.signature(cls.__init__).parameters.values())[1:]
    ours = list(inspect.signature(init).parameters.values())[1:]
    if [(p.name, p.kind) for p in theirs] != [(p.name, p.kind) for p in ours]:
        raise TypeError(
            f"fast_init: {cls.__qualname__}'s parameters would change: "
            f"({', '.join(p.name for p in theirs)}) -> ({', '.join(p.name for p in ours)})"
        )

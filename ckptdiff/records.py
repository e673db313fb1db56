"""quick_init: a faster __init__ for the frozen dataclasses made once per tensor."""

from __future__ import annotations

import dataclasses
import keyword
from typing import Any, TypeVar

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """Give a frozen dataclass an __init__ that stores its fields straight into the instance's `__dict__`.

    A frozen dataclass's generated __init__ sets each field through `object.__setattr__`: 2.7 us for eight
    fields on this project's VM against 0.9 us this way (measured 2026-12-02; one `__dict__.update` took
    1.8 us and doubled the instance's size, 368 against 184 bytes; item by item it is 248). An inspect of
    100,000 tensors makes six such records per tensor (decoded entry, source, entry, statistics, verdict,
    row), so this is about 1 s of it.

    The class stays the same frozen dataclass (signature, defaults, eq, hash, repr, `replace`, and
    FrozenInstanceError on assignment); only the body of __init__ changes. It is generated from the
    dataclass's own field names, which are checked to be identifiers, as `dataclasses` itself generates
    __init__. Classes with what this __init__ would not implement (a `__post_init__`, `default_factory`,
    `init=False` or keyword-only fields) or with `__slots__` are refused.

    Call it after the class statement (`quick_init(TensorEntry)`), so type checkers keep seeing the
    dataclass's own __init__.
    """
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__") or hasattr(cls, "__slots__"):
        raise TypeError(f"quick_init: {cls.__name__} is not a plain frozen dataclass")
    klass: Any = cls
    params = dataclasses.fields(klass)
    names: list[str] = []
    signature: list[str] = []
    defaults: dict[str, Any] = {}
    for f in params:
        if not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"quick_init: field {cls.__name__}.{f.name} needs the generated __init__")
        if not f.name.isidentifier() or keyword.iskeyword(f.name):
            raise TypeError(f"quick_init: field name {f.name!r} is not an identifier")
        names.append(f.name)
        if f.default is dataclasses.MISSING:
            signature.append(f.name)
        else:
            defaults[f"_default_{f.name}"] = f.default
            signature.append(f"{f.name}=_default_{f.name}")
    if {"__quick_self__", "__quick_dict__"} & set(names):
        raise TypeError(f"quick_init: {cls.__name__} uses a name the generated __init__ needs")
    stored = "".join(f"    __quick_dict__[{name!r}] = {name}\n" for name in names)
    source = (
        f"def __init__(__quick_self__, {', '.join(signature)}):\n    __quick_dict__ = __quick_self__.__dict__\n{stored}"
    )
    namespace: dict[str, Any] = dict(defaults)
    exec(source, namespace)  # our own field names only, as dataclasses does; never anything read from a file
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = klass.__init__.__doc__
    init.__annotations__ = dict(klass.__init__.__annotations__)
    klass.__init__ = init
    return cls

"""quick_init keeps a frozen dataclass's behaviour: checked against the same class with the generated __init__."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field

import pytest

from ckptdiff.artifact import TensorEntry
from ckptdiff.records import quick_init


def _pair() -> tuple[type, type]:
    @dataclass(frozen=True)
    class Generated:
        a: int
        b: str = "x"
        c: tuple[int, ...] = ()

    @dataclass(frozen=True)
    class Quick:
        a: int
        b: str = "x"
        c: tuple[int, ...] = ()

    return Generated, quick_init(Quick)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((1,), {}), ((1, "y"), {}), ((), {"a": 2, "c": (3,)}), ((1,), {"b": "z"}), ((1, "y", (4,)), {})],
)
def test_same_fields_equality_and_hash_as_the_generated_init(args, kwargs):
    generated, quick = _pair()
    g, q = generated(*args, **kwargs), quick(*args, **kwargs)
    assert dataclasses.astuple(g) == dataclasses.astuple(q)
    assert repr(g).replace("Generated", "Quick") == repr(q)
    assert q == quick(*args, **kwargs) and hash(q) == hash(quick(*args, **kwargs))
    assert dataclasses.replace(q, a=9).a == 9
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.a = 5


@pytest.mark.parametrize(("args", "kwargs"), [((), {}), ((1,), {"d": 1}), ((1, "y", (), 4), {}), ((1,), {"a": 1})])
def test_same_errors_as_the_generated_init(args, kwargs):
    generated, quick = _pair()
    with pytest.raises(TypeError):
        generated(*args, **kwargs)
    with pytest.raises(TypeError):
        quick(*args, **kwargs)


def test_same_signature_and_refuses_what_it_does_not_implement():
    generated, quick = _pair()
    assert str(inspect.signature(generated)) == str(inspect.signature(quick))
    assert "self.__dict__.update" not in inspect.getsource(TensorEntry)  # applied after the class, not inside it

    @dataclass(frozen=True)
    class Factory:
        a: list[int] = field(default_factory=list)

    @dataclass(frozen=True)
    class Post:
        a: int

        def __post_init__(self) -> None:
            pass

    for cls in (Factory, Post, int):
        with pytest.raises(TypeError):
            quick_init(cls)

"""The memory planner on synthetic buffers and on architectures' graphs (no TensorFlow).

The placement runs in C (converter/placement.c) with the Python `placement.place` as its
reference: both must give the same offsets, trial by trial, ties included.
"""
from __future__ import annotations

import ctypes
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tflm_mcunet.converter import native, placement
from tflm_mcunet.converter.placement import (ORDERS, PLACEMENT_ORDERS, Buffer, place_buffers,
                                             run_trials)
from tflm_mcunet.converter.planner import lifetimes, overlap_permissions


@st.composite
def buffer_sets(draw):
    """Buffers of any size and lifetime, overlap permissions between any of them (slacks of
    either sign, pairs that must start at the same byte), and trial orders."""
    n = draw(st.integers(0, 12))
    buffers = []
    for k in range(n):
        first = draw(st.integers(0, 6))
        buffers.append(Buffer(f"b{k}", draw(st.integers(1, 200)), first,
                              first + draw(st.integers(0, 4))))
    pairs = draw(st.lists(st.tuples(st.integers(0, max(n - 1, 0)),
                                    st.integers(0, max(n - 1, 0))), max_size=2 * n)) if n else []
    allowed, exact = {}, set()
    for o, i in pairs:
        if o == i:
            continue
        key = (id(buffers[o]), id(buffers[i]))
        if draw(st.integers(0, 4)) == 0:
            exact.add(key)
            if draw(st.booleans()):
                allowed[key] = 0
        else:
            allowed[key] = draw(st.integers(-150, 150))
    positions = range(n)
    orders = [sorted(positions, key=lambda k, key=key: key(buffers[k]))
              for key in ORDERS.values()]
    orders += [draw(st.permutations(positions)) for _ in range(draw(st.integers(0, 3)))]
    return buffers, allowed, exact, orders


@settings(max_examples=400, deadline=None, derandomize=True)
@given(case=buffer_sets())
def test_c_placement_gives_the_python_offsets(case):
    """Property: every trial, both offset rules: the same arena and the same offsets in C as in
    the Python reference (or no plan in both)."""
    buffers, allowed, exact, orders = case
    assert placement.compiled()
    trials = [(order, rule) for order in orders for rule in (False, True)]
    c = run_trials(buffers, trials, allowed, exact)
    python = run_trials(buffers, trials, allowed, exact, compiled=False)
    assert c == python
    if all(arena == math.inf for arena, _ in c[:2 * len(ORDERS)]):  # the named orders
        return  # (arbitrary pairs that must start at the same byte can leave no plan at all)
    # the whole choice too (every order of up to 5 buffers: a faster test than 7)
    names = None if len(buffers) <= 5 else PLACEMENT_ORDERS
    arena, name = place_buffers(buffers, allowed, exact, names)
    offsets = [b.offset for b in buffers]
    assert (arena, name) == place_buffers(buffers, allowed, exact, names, compiled=False)
    assert offsets == [b.offset for b in buffers]


def test_ties_go_to_the_offset_nearer_zero_then_the_lower():
    """Two offsets that grow the arena alike (above or below the placed buffer): the key
    (growth, |offset|, offset) takes the lower one, in C and in Python."""
    for compiled in (True, False):
        a, b = Buffer("a", 96, 0, 1), Buffer("b", 96, 0, 1)
        [(arena, offsets)] = run_trials([a, b], [([0, 1], True)], {}, set(), compiled=compiled)
        assert arena == 192 and offsets == [96, 0]  # b below a (-96), shifted to 0


def test_arch_graphs_place_alike_in_c_and_python():
    """The graphs of random architectures after legalize and fuse, with and without their
    in-place depthwise ops: every placement trial gives the same offsets in C and Python."""
    from tflm_mcunet.search import SearchSpace
    from tflm_mcunet.search.cost import converter_graph

    rng = random.Random(7)
    space = SearchSpace()
    infeasible = 0
    for _ in range(6):
        graph, _ = converter_graph(space.sample(*rng.choice(space.pairs()), rng))
        inplace = [op for op in graph.ops if op.params.get("inplace")]
        for flags in ([True] * len(inplace), [False] * len(inplace)):
            for op, flag in zip(inplace, flags):
                op.params["inplace"] = flag
            buffers, scratch, root = lifetimes(graph)
            allowed, exact = overlap_permissions(graph, root)
            everything = buffers + list(scratch.values())
            positions = range(len(everything))
            trials = [(sorted(positions, key=lambda k, key=key: key(everything[k])), rule)
                      for key in ORDERS.values() for rule in (False, True)]
            c = run_trials(everything, trials, allowed, exact)
            assert c == run_trials(everything, trials, allowed, exact, compiled=False)
            infeasible += sum(arena == math.inf for arena, _ in c)
    assert infeasible > 0  # orders that leave an in-place output no offset were among them


def test_in_place_output_is_placed_at_its_input_even_where_elsewhere_is_as_small():
    """An in-place kernel writes where it reads: the planner puts its output exactly at its
    input, also where a spot elsewhere would give the same arena (Z below dies first, so Y at 0
    would fit beside X)."""
    for compiled in (True, False):
        z, x, y = Buffer("z", 96, 0, 0), Buffer("x", 96, 0, 1), Buffer("y", 96, 1, 2)
        exact = {(id(y), id(x))}
        allowed = {(id(y), id(x)): 0}
        arena, _ = place_buffers([z, x, y], allowed, exact, orders=("earliest first",),
                                 compiled=compiled)
        assert x.offset != z.offset and y.offset == x.offset and arena == 192


def test_native_helpers_build_once_and_fall_back_without_a_compiler(tmp_path, monkeypatch):
    """A C helper is built into the cache once (named by its source's hash); without a
    compiler `load` gives None and warns, and the caller runs its Python reference."""
    source = tmp_path / "twice.c"
    source.write_text("int twice(int x) { return 2 * x; }\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(native, "_loaded", {})
    lib = native.load(source, "Python instead")
    lib.twice.restype, lib.twice.argtypes = ctypes.c_int, [ctypes.c_int]
    assert lib.twice(21) == 42
    assert len(list((tmp_path / "cache" / "tflm-mcunet").glob("twice_*.so"))) == 1
    source.write_text("int twice(int x) { return x + x; }\n")  # another source: built again
    monkeypatch.setattr(native, "_loaded", {})
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    monkeypatch.setattr(native, "cache_dirs", lambda: [tmp_path / "cache2"])
    with pytest.warns(RuntimeWarning, match="Python instead"):
        assert native.load(source, "Python instead") is None

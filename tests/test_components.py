"""compare.core.components: connected components against a brute-force reachability check."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from compare.core.components import connected_components


def _reachable(nodes: list[int], edges: list[tuple[int, int]]) -> list[set[int]]:
    """Components by repeated breadth-first search: slow, obviously right."""
    neighbours: dict[int, set[int]] = {node: set() for node in nodes}
    for left, right in edges:
        neighbours[left].add(right)
        neighbours[right].add(left)
    seen: set[int] = set()
    components = []
    for start in nodes:
        if start in seen:
            continue
        frontier, component = [start], {start}
        while frontier:
            for other in neighbours[frontier.pop()] - component:
                component.add(other)
                frontier.append(other)
        seen |= component
        components.append(component)
    return components


@given(st.integers(1, 30).flatmap(lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40))))
def test_components_match_breadth_first_search(case: tuple[int, list[tuple[int, int]]]) -> None:
    count, edges = case
    nodes = list(range(count))
    found = connected_components(nodes, edges)
    assert sorted(map(sorted, found)) == sorted(map(sorted, _reachable(nodes, edges)))
    for members in found:
        assert members == sorted(members)  # members keep the order the nodes were given


def test_singletons_are_kept_and_string_nodes_work() -> None:
    assert connected_components(["a", "b", "c"], [("c", "a")]) == [["a", "c"], ["b"]]

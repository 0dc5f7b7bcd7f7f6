"""Connected components (union-find), shared by every stage that groups linked items.

Wire-copy clusters, claim groups, stories and merged snapshots are all "join what is linked";
one implementation keeps their grouping semantics identical.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    import polars as pl

Node = TypeVar("Node", bound=Hashable)


class UnionFind(Generic[Node]):
    """Union-find with path halving over a fixed set of nodes."""

    def __init__(self, nodes: Iterable[Node]) -> None:
        self.parent: dict[Node, Node] = {node: node for node in nodes}

    def root(self, node: Node) -> Node:
        parent = self.parent
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def join(self, left: Node, right: Node) -> None:
        self.parent[self.root(left)] = self.root(right)

    def groups(self) -> list[list[Node]]:
        """Every component, members in the order the nodes were given; singletons included."""
        members: dict[Node, list[Node]] = {}
        for node in self.parent:
            members.setdefault(self.root(node), []).append(node)
        return list(members.values())


def connected_components(nodes: Sequence[Node], edges: Iterable[tuple[Node, Node]]) -> list[list[Node]]:
    """Components of the graph (singletons included), members in the order of `nodes`."""
    union = UnionFind(nodes)
    for left, right in edges:
        union.join(left, right)
    return union.groups()


def union_groups(frames: Sequence[pl.DataFrame], column: str, all_ids: Sequence[str]) -> list[list[str]]:
    """Connected components of group membership over `all_ids` (an id in no group is its own group)."""
    union = UnionFind(all_ids)
    for frame in frames:
        for (_,), group in frame.group_by(column):
            members = [m for m in group["article_id"].to_list() if m in union.parent]
            for member in members[1:]:
                union.join(member, members[0])
    return union.groups()

"""Pure walks over a conversation's message tree (rows with ``node_id``, ``parent_id``,
``child_index``, ``create_time``). Shared by the transcript page, the exports and MCP."""


def children_of(rows):
    """node id -> child node ids, in sibling order (child_index, then time, then id)."""
    children = {}
    for row in rows:
        children.setdefault(row["parent_id"], []).append(row)
    return {
        parent: [
            r["node_id"]
            for r in sorted(
                kids,
                key=lambda r: (
                    r["child_index"] if r["child_index"] is not None else 1 << 30,
                    r["create_time"] or 0,
                    r["node_id"],
                ),
            )
        ]
        for parent, kids in children.items()
    }


def newest_leaf(node, children):
    """Follow the last (newest) child down to a leaf, as ChatGPT shows a fresh branch."""
    seen = set()
    while children.get(node) and node not in seen:
        seen.add(node)
        node = children[node][-1]
    return node


def branch(rows, leaf):
    """The transcript for the branch ending at ``leaf``: a list of
    ``(row, siblings, position)`` from the root down, where ``siblings`` are the node ids at
    that fork (one when there is no choice) and ``position`` is this node's index there.
    An interior ``leaf`` is followed down to its newest leaf."""
    by_id = {r["node_id"]: r for r in rows}
    children = children_of(rows)
    if leaf not in by_id:
        return []
    leaf = newest_leaf(leaf, children)
    path, seen, node = [], set(), leaf
    while node in by_id and node not in seen:
        seen.add(node)
        path.append(by_id[node])
        node = by_id[node]["parent_id"]
    path.reverse()
    out = []
    for row in path:
        siblings = children.get(row["parent_id"], [row["node_id"]])
        out.append((row, siblings, siblings.index(row["node_id"]) if row["node_id"] in siblings else 0))
    return out


def leaves(rows, children=None):
    """Every leaf (node without children), oldest first: the ends of all branches."""
    children = children if children is not None else children_of(rows)
    return [
        r["node_id"]
        for r in sorted(rows, key=lambda r: (r["create_time"] or 0, r["node_id"]))
        if not children.get(r["node_id"])
    ]


def current_leaf(conversation, rows):
    """The leaf ChatGPT shows: the stored current node, else the newest leaf from the root."""
    by_id = {r["node_id"] for r in rows}
    for leaf in (conversation.get("current_leaf"), conversation.get("current_node")):
        if leaf in by_id:
            return leaf
    found = leaves(rows)
    return found[-1] if found else None

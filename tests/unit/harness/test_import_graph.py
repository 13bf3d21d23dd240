"""No import cycles in harness/ or scenarios/ (issue #10: context ↔ tracks was one).

grimp counts every import — TYPE_CHECKING blocks and imports inside functions too — so a
cycle hidden behind a lazy import fails here. The backends see a run as `tracks.RunScope`
and the runner injects the backend, which is what keeps `context → tracks` one-way.
"""

from __future__ import annotations

import grimp

PACKAGES = ("harness", "scenarios")


def cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """One chain per direct import `a → b` that `b` leads back to `a` through."""
    found: list[tuple[str, ...]] = []
    ours = sorted(m for m in graph.modules if m.split(".")[0] in PACKAGES)
    for importer in ours:
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if imported.split(".")[0] not in PACKAGES:
                continue
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                found.append((importer, *back))
    return found


def test_harness_and_scenarios_have_no_import_cycles() -> None:
    graph = grimp.build_graph(*PACKAGES, "greentic", cache_dir=None)
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" → ".join(c) for c in found)


def test_the_context_sits_above_the_tracks() -> None:
    graph = grimp.build_graph("harness", cache_dir=None)
    assert graph.direct_import_exists(importer="harness.context", imported="harness.tracks")
    assert not graph.chain_exists(importer="harness.tracks", imported="harness.context")
    for backend in ("harness.host.track", "harness.kept", "harness.rendered"):
        assert not graph.chain_exists(importer=backend, imported="harness.context"), backend


def test_the_cycle_finder_sees_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("harness.a", "harness.b", "harness.c"):
        graph.add_module(module)
    graph.add_import(importer="harness.a", imported="harness.b")
    graph.add_import(importer="harness.b", imported="harness.c")
    assert cycles(graph) == []
    graph.add_import(importer="harness.c", imported="harness.a")
    assert ("harness.a", "harness.b", "harness.c", "harness.a") in cycles(graph)

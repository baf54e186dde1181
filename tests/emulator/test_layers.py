"""The emulator's layers (moto's split): route handlers never import one another; models and shapes never import
routes; cross-area effects go through the named state events of events.py."""

import ast
from pathlib import Path

import pytest

import mbport.emulator as emulator_package
from mbport.emulator import events

EMULATOR = Path(emulator_package.__file__).parent
ROUTES = EMULATOR / "routes"
ROUTE_MODULES = {p.stem for p in ROUTES.glob("*.py") if p.stem != "__init__"}



def imported_route_modules(path: Path) -> set[str]:
    """The route modules `path` imports, at the top or inside a function (relative or absolute imports)."""
    in_routes = path.parent == ROUTES
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        module, names = node.module or "", [a.name for a in node.names]
        if node.level == 0 and module.startswith("mbport.emulator.routes"):
            parts = module.split(".")
            found |= {parts[3]} if len(parts) > 3 else {n for n in names if n in ROUTE_MODULES}
        elif in_routes and node.level == 1:
            found |= {module.split(".")[0]} if module else {n for n in names if n in ROUTE_MODULES}
        elif node.level >= 1 and (module == "routes" or module.startswith("routes.")):
            found |= {module.split(".")[1]} if "." in module else {n for n in names if n in ROUTE_MODULES}
    return found & ROUTE_MODULES


def test_route_handlers_do_not_import_each_other():
    found = {(p.stem, other) for p in ROUTES.glob("*.py") for other in imported_route_modules(p) if other != p.stem}
    assert found == set(), f"route modules import other route modules: {sorted(found)}"


def test_models_and_shapes_do_not_import_routes():
    found = {(f"{p.parent.name}/{p.name}", other) for layer in ("models", "shapes")
             for p in (EMULATOR / layer).glob("*.py") for other in imported_route_modules(p)}
    assert found == set(), f"models/shapes modules import route modules: {sorted(found)}"


def test_the_checker_sees_imports_inside_functions(tmp_path):
    probe = ROUTES / "cards.py"
    assert imported_route_modules(probe) == set()
    fake = tmp_path / "fake.py"
    fake.write_text("def f():\n    from mbport.emulator.routes import users\n")
    assert imported_route_modules(fake) == {"users"}


def test_every_event_has_a_subscriber_and_unknown_events_are_refused(emulator):
    assert all(events.subscribers(name) for name in events.EVENTS), \
        [name for name in events.EVENTS if not events.subscribers(name)]
    with pytest.raises(KeyError):
        emulator.state.emit("card.exploded", card_id=1)
    with pytest.raises(KeyError):
        events.on("card.exploded")

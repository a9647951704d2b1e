"""The management API loads only the routers of a request's area (``api.app.AREAS``): every route of
every route module must be reachable through that table, or a deployed API answers 404 for it."""

from __future__ import annotations

import importlib
import pkgutil

import smsdesk.api.routes as routes
from smsdesk.api import app


def _modules() -> dict[str, object]:
    return {
        m.name: importlib.import_module(f"smsdesk.api.routes.{m.name}") for m in pkgutil.iter_modules(routes.__path__)
    }


def test_every_route_is_loaded_by_its_area() -> None:
    missing = []
    for name, module in _modules().items():
        for rule, method, *_ in module.router._routes:  # type: ignore[attr-defined]
            area = app.area_of(rule)
            if name not in app.AREAS.get(area, ()):
                missing.append(f"{method} {rule} ({name}) not loaded for area {area!r}")
    assert not missing, missing


def test_every_route_module_is_in_the_table() -> None:
    assert set(_modules()) == set(app.ALL)


def test_area_of_a_path() -> None:
    assert app.area_of("/v1/contacts/abc/notes") == "contacts"
    assert app.area_of("/v1/me") == "me"
    assert app.area_of("/health") == ""
    assert app.area_of("/openapi.json") == ""

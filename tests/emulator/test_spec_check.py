"""The compiled spec validator agrees with the reference one on every value a seeded instance and bad requests send."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from mbport.emulator import Emulator, bootstrap, seeds, spec
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client

BAD_REQUESTS = [
    ("POST", "/api/card", {"name": 5, "display": "table", "visualization_settings": {}, "dataset_query": {}}),
    ("POST", "/api/card", {"display": "table"}),
    ("POST", "/api/collection", {"name": "", "parent_id": -1}),
    ("PUT", "/api/dashboard/1", {"dashcards": {"not": "a list"}}),
    ("PUT", "/api/dashboard/1", {"dashcards": [{"id": "x", "size_x": "wide"}]}),
    ("POST", "/api/user", {"email": None}),
    ("PUT", "/api/user/1", {"locale": ""}),
    ("POST", "/api/timeline", {"name": "t", "icon": "rocket"}),
    ("GET", "/api/card/abc", None),
    ("GET", "/api/user?group_id=zero", None),
]


@pytest.mark.allow_invalid_requests
def test_compiled_and_reference_validators_agree(monkeypatch):
    checked: list[bool] = []
    errors = spec.Check.errors

    def both(check: spec.Check, value):
        reference = list(Draft202012Validator(check.ref, registry=spec._registry()).iter_errors(value))
        assert check._fast.is_valid(value) == (not reference), (check.ref, value, [e.message for e in reference])
        checked.append(not reference)
        return errors(check, value)

    monkeypatch.setattr(spec.Check, "errors", both)
    emu = Emulator()
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    seeds.load(emu, "sample", session)
    with make_client(emu, **{"X-Metabase-Session": session}) as api:
        for method, url, body in BAD_REQUESTS:
            assert api.request(method, url, json=body).status_code == 400, (method, url, body)
    assert checked.count(True) > 80 and checked.count(False) >= len(BAD_REQUESTS)

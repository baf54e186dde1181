"""The round-trip tests' judge: `mbport verify` of a source and the instance it was imported into."""

from __future__ import annotations

from typing import Any

from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap
from mbport.verify import VerifyResult, run_verify
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD


def client_of(emu: Emulator, url: str = "http://a.test") -> MetabaseClient:
    """An admin client of an emulator whose admin is the tests' usual one."""
    resp = bootstrap.client(emu).post("/api/session", json={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    return MetabaseClient(url, session_token=resp.json()["id"], transport=emu.transport())


def judged(source: MetabaseClient, target: MetabaseClient, state_ids: dict[str, Any] | None,
           **options: Any) -> tuple[list[str], list[str], VerifyResult]:
    """(object differences, row differences, result) of verify, as the lines a user reads."""
    result = run_verify(source, target, state_ids=state_ids, **options)
    objects = [d.line() for d in result.differences if not d.kind.startswith("rows of ")]
    rows = [d.line() for d in result.differences if d.kind.startswith("rows of ")]
    return objects, rows, result

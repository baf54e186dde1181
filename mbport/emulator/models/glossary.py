"""The glossary (0.61+): terms and their definitions (glossary/api.clj, glossary/models/glossary.clj)."""

from __future__ import annotations

from .. import errors
from ..store import Row, State
from .versions import require_version

GLOSSARY_SINCE = 61  # in the stored spec (0.61–0.63); the first release with it is not verified
NON_BLANK = "value must be a non-blank string."


def require_glossary(state: State) -> None:
    require_version(state, GLOSSARY_SINCE)


def entry_or_404(state: State, entry_id: int) -> Row:
    entry = state.table("glossary").get(entry_id)
    if entry is None:
        raise errors.not_found()
    return entry


def check_writer(user: Row | None) -> None:
    """`(api/check-403 (or (mi/superuser?) (current-user-has-application-permissions? :data-studio)))`: admins (and,
    with Enterprise, data analysts); everyone may read."""
    if not (user and user.get("is_superuser")):
        raise errors.forbidden()


def check_body(body: dict) -> None:
    """`[:term ms/NonBlankString] [:definition ms/NonBlankString]`, both required on POST and PUT."""
    bad = {k: NON_BLANK for k in ("term", "definition") if not isinstance(body.get(k), str) or not body[k].strip()}
    if bad:
        raise errors.invalid(bad, {k: ["should be a non-blank string"] for k in bad})


def listed(state: State, search: str | None) -> list[Row]:
    """Ordered by term; `search` matches term or definition, case-insensitively."""
    rows = list(state.table("glossary"))
    if search:
        needle = search.lower()
        rows = [r for r in rows if needle in r["term"].lower() or needle in r["definition"].lower()]
    return sorted(rows, key=lambda r: (r["term"], r["id"]))


def create(state: State, user: Row, body: dict) -> Row:
    check_body(body)
    check_writer(user)
    return state.table("glossary").insert({"term": body["term"], "definition": body["definition"],
                                           "creator_id": user["id"]}, now=state.now())


def update(state: State, user: Row, entry_id: int, body: dict) -> Row:
    check_body(body)
    check_writer(user)
    entry = entry_or_404(state, entry_id)
    entry.update({"term": body["term"], "definition": body["definition"]}, updated_at=state.now())
    return entry


def delete(state: State, user: Row, entry_id: int) -> None:
    check_writer(user)
    entry_or_404(state, entry_id)
    state.table("glossary").delete(entry_id)

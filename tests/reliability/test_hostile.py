"""Hostile and broken input: broken trees (fixtures/broken-trees/), broken server answers, and fuzzing of the
tree loader and the normalizers. Each gives one clear error that names the file or object, a non-zero exit and
no traceback; nothing is written outside the tree or the target, and no write reaches the target."""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbport import cli, tree
from mbport.check import check_refs, load_tree
from mbport.client import MetabaseClient
from mbport.emulator.app import Response
from mbport.errors import MbportError
from mbport.export import ExportContext, build_index, extract, normalize
from tests.conftest import writes_since

from .conftest import target

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "broken-trees"
CASES = orjson.loads((CORPUS / "cases.json").read_bytes())
FUZZ_EXAMPLES = int(os.environ.get("MBPORT_FUZZ_EXAMPLES", "150"))


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    """`mbport ARGV` through the real entry point: (exit code, stdout + stderr)."""
    with pytest.raises(SystemExit) as done:
        cli.main(list(argv))
    out = capsys.readouterr()
    return done.value.code, out.out + out.err


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): (b"<link>" if p.is_symlink() else p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file() or p.is_symlink()}


@pytest.fixture
def to_target(monkeypatch):
    """The CLI's client goes to an in-process emulator (an empty, set-up instance); returns the emulator."""
    emu, session = target()

    def make_client(*args, **kw):
        return MetabaseClient("http://target.test", session_token=session, transport=emu.transport())

    monkeypatch.setattr(cli, "make_client", make_client)
    return emu


def _copy_case(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / "work" / name
    shutil.copytree(CORPUS / name, dest, symlinks=True)
    return dest


def _assert_one_clear_error(code: int, output: str, fragments: list[str]) -> None:
    assert code not in (0, None), output
    assert "Traceback" not in output, output
    assert "Error:" in output, output
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} not in:\n{output[:3000]}"


BROKEN = sorted(name for name, fragments in CASES.items() if fragments)


@pytest.mark.parametrize("case", BROKEN)
def test_check_refuses_a_broken_tree_naming_the_file(case, tmp_path, capsys):
    tree_dir = _copy_case(case, tmp_path)
    before = snapshot(tmp_path)
    code, output = run_cli(capsys, "check", str(tree_dir))
    _assert_one_clear_error(code, output, CASES[case])
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("case", BROKEN)
def test_import_refuses_a_broken_tree_before_any_write(case, tmp_path, capsys, to_target):
    tree_dir = _copy_case(case, tmp_path)
    before, log_start = snapshot(tmp_path), len(to_target.request_log)
    code, output = run_cli(capsys, "import", str(tree_dir), "--state", str(tmp_path / "state.json"))
    _assert_one_clear_error(code, output, CASES[case])
    assert writes_since(to_target, log_start) == []
    assert snapshot(tmp_path) == before, "the refused import wrote a file"


def test_names_that_look_like_paths_are_only_names(tmp_path, capsys, to_target):
    tree_dir = _copy_case("traversal-in-names", tmp_path)
    code, output = run_cli(capsys, "import", str(tree_dir), "--state", str(tmp_path / "state.json"))
    assert code == 0, output
    names = {c["name"] for c in to_target.state.table("collection")}
    groups = {g["name"] for g in to_target.state.table("permissions_group")}
    assert "/etc/passwd" in names and "../../../../tmp/mbport-evil" in groups
    assert not Path("/tmp/mbport-evil").exists()
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert written - {f"work/traversal-in-names/{r}" for r in snapshot(tree_dir)} == {"state.json"}


@pytest.mark.parametrize("where", ["file", "folder", "manifest"])
def test_a_symlink_out_of_the_tree_is_refused(where, tmp_path, capsys, to_target):
    tree_dir = _copy_case("traversal-in-names", tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text('{"name": "outside"}')
    if where == "file":
        link = tree_dir / "groups" / "linked.json"
        link.symlink_to(outside / "secret.json")
        fragment = "groups/linked.json: is a symbolic link"
    elif where == "folder":
        link = tree_dir / "collections" / "linked"
        link.symlink_to(outside, target_is_directory=True)
        fragment = "collections/linked: is a symbolic link"
    else:
        (tree_dir / tree.MANIFEST).rename(outside / tree.MANIFEST)
        (tree_dir / tree.MANIFEST).symlink_to(outside / tree.MANIFEST)
        fragment = "mbport.json: is a symbolic link"
    before, log_start = snapshot(tmp_path), len(to_target.request_log)
    for argv in (["check", str(tree_dir)], ["import", str(tree_dir), "--state", str(tmp_path / "state.json")]):
        code, output = run_cli(capsys, *argv)
        _assert_one_clear_error(code, output, [fragment])
    assert writes_since(to_target, log_start) == []
    assert snapshot(tmp_path) == before


def test_a_planted_swap_journal_cannot_move_files_outside_the_tree(tmp_path, capsys):
    tree_dir = _copy_case("traversal-in-names", tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tree_dir / tree.JOURNAL).write_bytes(orjson.dumps({"entries": [["../victim.txt", False]]}))
    code, output = run_cli(capsys, "check", str(tree_dir))
    _assert_one_clear_error(code, output, [tree.JOURNAL, "outside the tree"])
    assert victim.read_text() == "keep me"


# ---------------------------------------------------------------------------------------------------------------
# Broken server answers


class Rewrite:
    """A fault hook that replaces the answer of matching requests (served as usual otherwise)."""

    def __init__(self, method: str, path: str, make):
        self.method, self.path, self.make = method, path, make

    def before(self, req):
        return None

    def after(self, req, resp):
        if req.method == self.method and req.path == self.path and resp.status == 200:
            return self.make(resp.body)
        return resp


def _strip(field):
    def make(body):
        items = copy.deepcopy(body)
        rows = items["data"] if isinstance(items, dict) and "data" in items else items
        for row in rows if isinstance(rows, list) else [rows]:
            row.pop(field, None)
        return Response(200, items)
    return make


HTML = "<!DOCTYPE html><html><head><title>Sign in</title></head><body>Corporate SSO</body></html>"
BROKEN_ANSWERS = {
    "html-instead-of-json": (("GET", "/api/collection", lambda body: Response(200, HTML.encode(), {"content-type": "text/html"})),
                             ["GET /api/collection", "HTML page instead of JSON"]),
    "missing-entity-id": (("GET", "/api/collection", _strip("entity_id")), ["collections", "entity_id"]),
    "missing-name": (("GET", "/api/permissions/group", _strip("name")), ["KeyError: 'name'"]),
    "list-is-an-object": (("GET", "/api/user", lambda body: Response(200, {"data": "nope", "total": 1})), ["users"]),
    "wrong-type": (("GET", "/api/card", lambda body: Response(200, [{"id": "x", "name": 5}])), ["cards"]),
    "not-json": (("GET", "/api/database", lambda body: Response(200, b"{\"data\": [", {"content-type": "application/json"})),
                 ["GET /api/database", "not JSON"]),
}


@pytest.fixture
def source_cli(source, monkeypatch):
    emu, session, _, _ = source

    def make_client(*args, **kw):
        return MetabaseClient("http://source.test", session_token=session, transport=emu.transport())

    monkeypatch.setattr(cli, "make_client", make_client)
    yield emu
    emu.faults = None


@pytest.mark.parametrize("case", sorted(BROKEN_ANSWERS))
def test_export_of_a_broken_answer_is_one_clear_error(case, source_cli, tmp_path, capsys):
    (method, path, make), fragments = BROKEN_ANSWERS[case]
    source_cli.faults = Rewrite(method, path, make)
    out = tmp_path / "tree"
    code, output = run_cli(capsys, "export", "--out", str(out))
    _assert_one_clear_error(code, output, fragments)
    assert len([line for line in output.splitlines() if line.startswith("Error:")]) == 1
    assert not out.exists() or not any(out.iterdir()), "a failed export left files"


@pytest.mark.parametrize("case", sorted(BROKEN_ANSWERS))
def test_import_against_a_broken_answer_writes_nothing(case, source, tmp_path, capsys, to_target):
    _, _, tree_dir, _ = source
    (method, path, make), fragments = BROKEN_ANSWERS[case]
    to_target.faults = Rewrite(method, path, make)
    log_start = len(to_target.request_log)
    code, output = run_cli(capsys, "plan", str(tree_dir), "--state", str(tmp_path / "state.json"))
    _assert_one_clear_error(code, output, fragments[:1])
    assert writes_since(to_target, log_start) == []
    assert not (tmp_path / "state.json").exists()


# ---------------------------------------------------------------------------------------------------------------
# Fuzzing


KINDS = st.sampled_from(["collections", "groups", "users", "cards", "dashboards", "widgets", "..", ".hidden"])
JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
DOC = st.fixed_dictionaries({}, optional={
    "name": st.text(max_size=300), "entity_id": st.text(min_size=0, max_size=25), "email": st.text(max_size=30),
    "parent": st.one_of(JSON, st.builds(lambda a: {"$ref": a}, st.text(max_size=40))),
    "collection": st.builds(lambda a: {"$ref": a}, st.text(max_size=40)), "archived": JSON,
})
CONTENT = st.one_of(st.binary(max_size=200), JSON.map(orjson.dumps), DOC.map(orjson.dumps),
                    DOC.map(lambda d: orjson.dumps(d)[: max(1, len(orjson.dumps(d)) // 2)]))
FILES = st.lists(st.tuples(KINDS, st.text(st.characters(blacklist_characters="/\0", blacklist_categories=("Cs",)),
                                          min_size=1, max_size=30), CONTENT), max_size=8)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=FILES, manifest=st.one_of(st.just(b'{"format": 1}'), CONTENT))
def test_fuzz_the_tree_loader(registry, tmp_path_factory, files, manifest):
    root = tmp_path_factory.mktemp("fuzz")
    (root / tree.MANIFEST).write_bytes(manifest)
    for kind, name, content in files:
        folder = root / kind
        try:
            folder.mkdir(exist_ok=True)
            (folder / f"{name}.json").write_bytes(content)
        except OSError:  # a name the file system refuses (too long ...): not a tree anyone can have
            continue
    before = snapshot(root)
    try:
        loaded = load_tree(root, registry)
    except MbportError as exc:
        assert "\n" not in str(exc)
        return
    problems = loaded.problems + check_refs(loaded, registry)
    assert all(isinstance(p, str) and p for p in problems)
    assert snapshot(root) == before, "loading a tree changed it"


@pytest.fixture(scope="module")
def raw_objects(source, registry):
    """Every kind's raw objects as the seeded instance answers them."""
    emu, session, _, _ = source
    ctx = ExportContext(options={})
    with MetabaseClient("http://source.test", session_token=session, transport=emu.transport()) as api:
        extract(api, registry, sorted(registry.kinds), ctx)
    return ctx


def _mutate(value, path, new):
    """`value` with the element that `path` picks (indices modulo sizes) replaced by `new` (or removed: _DROP)."""
    head, rest = path[0], path[1:]
    if isinstance(value, dict) and value:
        key = sorted(value)[head % len(value)]
        if rest:
            return {**value, key: _mutate(value[key], rest, new)}
        return {k: v for k, v in value.items() if k != key} if new is _DROP else {**value, key: new}
    if isinstance(value, list) and value:
        i = head % len(value)
        if rest:
            return [*value[:i], _mutate(value[i], rest, new), *value[i + 1:]]
        return [*value[:i], *value[i + 1:]] if new is _DROP else [*value[:i], new, *value[i + 1:]]
    return None if new is _DROP else new


_DROP = object()


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_the_normalizers(registry, raw_objects, data):
    """One field anywhere in one raw object replaced (or dropped): normalize gives a doc the tree can hold, or
    one MbportError that names the kind; never another exception."""
    kinds = sorted(k for k, raws in raw_objects.raw.items() if raws)
    kind = data.draw(st.sampled_from(kinds))
    raws = raw_objects.raw[kind]
    i = data.draw(st.integers(0, len(raws) - 1))
    path = data.draw(st.lists(st.integers(0, 50), min_size=1, max_size=4))
    new = data.draw(st.one_of(st.just(_DROP), JSON))
    ctx = ExportContext(options={})
    ctx.raw = {k: list(v) for k, v in raw_objects.raw.items()}
    ctx.raw[kind][i] = _mutate(raws[i], path, new)
    try:
        build_index(registry, ctx)
        docs = normalize(registry, ctx)
    except MbportError as exc:
        assert kind in str(exc) and "\n" not in str(exc), str(exc)
        return
    for doc in docs.values():
        tree.dumps(doc)

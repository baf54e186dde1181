"""The tree on disk: deterministic bytes, collision-free paths, atomic swap with roll-forward, refusal of foreign folders."""

import os

import orjson
import pytest

from mbport import tree
from mbport.capabilities import ProvidesFolders
from mbport.errors import MbportError
from mbport.export import place
from mbport.kind import Kind, PathHint
from mbport.registry import Registry
from mbport.spec import copy, ref


class Folders(ProvidesFolders, Kind):
    name = "folders"
    fields = {"entity_id": copy(), "name": copy(), "parent": ref("folders", container=True)}

    def path(self, doc, folders):
        return PathHint(folders.folder_of(doc.get("parent")), doc["name"])


class Notes(Kind):
    name = "notes"
    fields = {"entity_id": copy(), "name": copy(), "folder": ref("folders", container=True)}

    def path(self, doc, folders):
        return PathHint(folders.folder_of(doc.get("folder")), doc["name"])


@pytest.fixture
def registry():
    reg = Registry()
    reg.add(Folders())
    reg.add(Notes())
    return reg


def test_dumps_is_sorted_indented_and_utf8():
    assert tree.dumps({"b": 1, "a": "é"}) == '{\n  "a": "é",\n  "b": 1\n}\n'.encode()


def test_slugify_keeps_any_script_and_never_returns_empty():
    assert tree.slugify("Revenue / Month (EU)") == "revenue-month-eu"
    assert tree.slugify("売上 レポート") == "売上-レポート"
    assert tree.slugify("///") == "unnamed"
    assert len(tree.slugify("x" * 500).encode()) <= tree.MAX_SLUG


def test_place_nests_children_and_resolves_collisions_deterministically(registry):
    docs = {
        "folders/A": {"entity_id": "A", "name": "Sales"},
        "folders/B": {"entity_id": "B", "name": "EMEA", "parent": {"$ref": "folders/A"}},
        "folders/C": {"entity_id": "C", "name": "sales"},  # collides with "Sales" at the top
        "notes/n1": {"entity_id": "n1", "name": "Revenue", "folder": {"$ref": "folders/B"}},
        "notes/n2": {"entity_id": "n2", "name": "Revenue", "folder": {"$ref": "folders/B"}},
        "notes/n3": {"entity_id": "n3", "name": "Top"},
    }
    paths = place(registry, docs)
    assert paths["folders/A"].startswith("folders/sales~") and paths["folders/C"].startswith("folders/sales~")
    assert paths["folders/A"] != paths["folders/C"]
    sales = paths["folders/A"][len("folders/"):-len(".json")]
    assert paths["folders/B"] == f"folders/{sales}/emea.json"
    assert paths["notes/n1"].startswith(f"notes/{sales}/emea/revenue~")
    assert paths["notes/n3"] == "notes/top.json"
    assert place(registry, dict(reversed(list(docs.items())))) == paths
    assert len(set(paths.values())) == len(paths)


def test_write_tree_replaces_owned_entries_and_keeps_foreign_ones(tmp_path):
    out = tmp_path / "t"
    tree.write_tree(out, {"mbport.json": b"{}", "cards/a.json": b"1", "cards/b.json": b"2"}, owned={"cards", "mbport.json"})
    (out / ".git").mkdir()
    (out / "README.md").write_text("mine")
    tree.write_tree(out, {"mbport.json": b"{}", "cards/a.json": b"3"}, owned={"cards", "mbport.json"})
    assert (out / "cards/a.json").read_bytes() == b"3"
    assert not (out / "cards/b.json").exists()  # objects that are gone are removed
    assert (out / "README.md").read_text() == "mine" and (out / ".git").is_dir()
    assert not (out / tree.STAGING).exists() and not (out / tree.JOURNAL).exists()


def test_refuses_a_folder_that_is_not_a_tree(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(MbportError, match="not an mbport tree"):
        tree.write_tree(tmp_path, {"mbport.json": b"{}"}, owned={"mbport.json"})
    assert (tmp_path / "notes.txt").read_text() == "x"


def test_interrupted_swap_is_rolled_forward(tmp_path, monkeypatch):
    out = tmp_path / "t"
    tree.write_tree(out, {"mbport.json": b"old", "cards/a.json": b"old", "users/u.json": b"old"}, owned={"cards", "users", "mbport.json"})
    real_rename = type(out).rename
    calls = {"n": 0}

    def dying_rename(self, target):
        calls["n"] += 1
        if calls["n"] == 3:  # die in the middle of the swap
            raise KeyboardInterrupt
        return real_rename(self, target)

    monkeypatch.setattr(type(out), "rename", dying_rename)
    with pytest.raises(KeyboardInterrupt):
        tree.write_tree(out, {"mbport.json": b"new", "cards/a.json": b"new", "users/u.json": b"new"}, owned={"cards", "users", "mbport.json"})
    monkeypatch.setattr(type(out), "rename", real_rename)
    assert (out / tree.JOURNAL).exists()
    tree.recover(out)
    assert {p: (out / p).read_bytes() for p in ("mbport.json", "cards/a.json", "users/u.json")} == {
        "mbport.json": b"new", "cards/a.json": b"new", "users/u.json": b"new"}
    assert not (out / tree.JOURNAL).exists()


def test_read_manifest_errors_name_the_file(tmp_path):
    with pytest.raises(MbportError, match="not an mbport tree"):
        tree.read_manifest(tmp_path)
    (tmp_path / "mbport.json").write_bytes(orjson.dumps({"format": 99}))
    with pytest.raises(MbportError, match="format 99 is not supported"):
        tree.read_manifest(tmp_path)


def test_unchanged_files_are_linked_not_rewritten_and_the_tree_is_the_same(tmp_path, monkeypatch):
    out = tmp_path / "t"
    owned = {"cards", "mbport.json"}
    tree.write_tree(out, {"mbport.json": b"{}", "cards/x/a.json": b"1", "cards/b.json": b"2"}, owned=owned)
    inode = (out / "cards/x/a.json").stat().st_ino
    tree.write_tree(out, {"mbport.json": b"{}", "cards/x/a.json": b"1", "cards/b.json": b"22"}, owned=owned)
    assert (out / "cards/x/a.json").stat().st_ino == inode  # identical bytes: linked, not written again
    assert (out / "cards/x/a.json").stat().st_nlink == 1  # the retired copy is gone
    assert (out / "cards/b.json").read_bytes() == b"22"
    # A filesystem without hard links: the files are written instead, with the same result.
    def no_links(src, dst):
        raise OSError("hard links not supported")

    monkeypatch.setattr(tree.os, "link", no_links)
    tree.write_tree(out, {"mbport.json": b"{}", "cards/x/a.json": b"1", "cards/c.json": b"3"}, owned=owned)
    assert {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()} == {
        "mbport.json": b"{}", "cards/x/a.json": b"1", "cards/c.json": b"3"}


def test_a_linked_folder_in_the_current_tree_is_not_linked_from(tmp_path):
    out, elsewhere = tmp_path / "t", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.json").write_bytes(b"1")
    tree.write_tree(out, {"mbport.json": b"{}"}, owned={"cards", "mbport.json"})
    (out / "cards").symlink_to(elsewhere)
    tree.write_tree(out, {"mbport.json": b"{}", "cards/a.json": b"1"}, owned={"cards", "mbport.json"})
    assert not (out / "cards").is_symlink()
    assert (out / "cards/a.json").stat().st_ino != (elsewhere / "a.json").stat().st_ino
    assert (elsewhere / "a.json").read_bytes() == b"1"


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_files_staged_early_give_way_to_the_committed_tree(tmp_path):
    out, owned = tmp_path / "t", {"cards", "dashboards", "mbport.json"}
    tree.write_tree(out, {"mbport.json": b"{}", "cards/a.json": b"1", "cards/same.json": b"s"}, owned=owned)
    writer = tree.TreeWriter(out, owned)
    writer.stage({"cards/a.json": b"1", "cards/old/b.json": b"2", "cards/same.json": b"s", "dashboards/d.json": b"d"})
    writer.stage({"cards/a.json": b"11"})  # staged again with other bytes
    writer.commit({"mbport.json": b"{}", "cards/a.json": b"111", "cards/same.json": b"s", "cards/c.json": b"3"})
    assert _files(out) == {"mbport.json": b"{}", "cards/a.json": b"111", "cards/same.json": b"s", "cards/c.json": b"3"}
    assert not (out / "cards/old").exists() and not (out / "dashboards").exists()  # no empty folders left


def test_a_folder_emptied_of_its_early_files_is_made_again_for_the_committed_ones(tmp_path):
    """A doc staged early under one name and committed under another (a name two docs came to share) leaves its
    folder empty: removing it must not stop the commit from writing into it again."""
    out, owned = tmp_path / "t", {"verifications", "mbport.json"}
    writer = tree.TreeWriter(out, owned)
    writer.stage({"verifications/card/a.json": b"1"})
    writer.commit({"mbport.json": b"{}", "verifications/card/a~1.json": b"1", "verifications/card/a~2.json": b"2"})
    assert _files(out) == {"mbport.json": b"{}", "verifications/card/a~1.json": b"1",
                           "verifications/card/a~2.json": b"2"}


def test_emptying_staging_leaves_the_tree_folder_itself_alone(tmp_path):
    """Removing an early-staged file's emptied folders stops at the staging folder: os.removedirs went on up to the
    tree's own folder and its parents when they were empty, and the commit made them again, with default rights."""
    out, owned = tmp_path / "empty-parent" / "t", {"verifications", "mbport.json"}
    writer = tree.TreeWriter(out, owned)
    out.chmod(0o700)
    before = out.stat()
    writer.stage({"verifications/card/a~1.json": b"early"})
    writer.commit({"verifications/card/a.json": b"final"})
    assert _files(out) == {"verifications/card/a.json": b"final"}
    after = out.stat()
    assert (after.st_ino, after.st_mode & 0o777) == (before.st_ino, 0o700)


def test_an_aborted_writer_leaves_the_tree_as_it_was(tmp_path):
    out, owned = tmp_path / "t", {"cards", "mbport.json"}
    tree.write_tree(out, {"mbport.json": b"{}", "cards/a.json": b"1"}, owned=owned)
    writer = tree.TreeWriter(out, owned)
    writer.stage({"cards/a.json": b"changed", "cards/b.json": b"new"})
    writer.abort()
    assert _files(out) == {"mbport.json": b"{}", "cards/a.json": b"1"}
    fresh = tmp_path / "fresh"
    tree.TreeWriter(fresh, owned).abort()
    assert not fresh.exists()  # a folder the export created is not left behind


def test_a_failed_background_write_fails_the_commit(tmp_path, monkeypatch):
    out, owned = tmp_path / "t", {"cards", "mbport.json"}
    writer = tree.TreeWriter(out, owned)
    real_open = os.open

    def full_disk(path, flags, *args, **kw):
        if flags & os.O_WRONLY and str(path).endswith("b.json"):
            raise OSError(28, "No space left on device")
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", full_disk)
    writer.stage({"cards/a.json": b"1", "cards/b.json": b"2"})
    with pytest.raises(OSError, match="No space left"):
        writer.commit({"mbport.json": b"{}", "cards/a.json": b"1", "cards/b.json": b"2"})
    writer.abort()
    assert not out.exists()


def test_entries_whose_files_are_all_the_same_are_not_swapped(tmp_path):
    out, owned = tmp_path / "t", {"cards", "dashboards", "mbport.json"}
    files = {"mbport.json": b"{}", "cards/x/a.json": b"1", "cards/b.json": b"2", "dashboards/d.json": b"d"}
    tree.write_tree(out, files, owned=owned)
    folders = {name: (out / name).stat().st_ino for name in ("cards", "dashboards")}
    tree.write_tree(out, dict(files), owned=owned)  # nothing changed: nothing is written, linked or moved
    assert {name: (out / name).stat().st_ino for name in folders} == folders
    assert not (out / tree.STAGING).exists() and not (out / tree.RETIRED).exists()
    tree.write_tree(out, {**files, "cards/b.json": b"22"}, owned=owned)  # only the cards folder is swapped
    assert (out / "cards").stat().st_ino != folders["cards"]
    assert (out / "dashboards").stat().st_ino == folders["dashboards"]
    assert _files(out) == {**files, "cards/b.json": b"22"}
    (out / "dashboards" / "stray.json").write_bytes(b"x")  # not the export's: the entry is made exact again
    (out / "cards" / "x" / "empty").mkdir()
    tree.write_tree(out, {**files, "cards/b.json": b"22"}, owned=owned)
    assert _files(out) == {**files, "cards/b.json": b"22"} and not (out / "cards" / "x" / "empty").exists()


def test_an_interrupted_swap_is_read_as_finished_without_changing_the_folder(tmp_path, monkeypatch):
    """check, plan and diff read the tree the next export will finish; they move nothing themselves."""
    out, owned = tmp_path / "t", {"cards", "users", "dashboards", "mbport.json"}
    tree.write_tree(out, {"mbport.json": b'{"format": 1}', "cards/a.json": b"old", "users/u.json": b"old",
                          "dashboards/d.json": b"gone"}, owned=owned)
    real_rename = type(out).rename
    calls = {"n": 0}

    def dying_rename(self, target):
        calls["n"] += 1
        if calls["n"] == 3:  # cards swapped in, the rest not yet
            raise KeyboardInterrupt
        return real_rename(self, target)

    monkeypatch.setattr(type(out), "rename", dying_rename)
    new = {"mbport.json": b'{"format": 1, "n": 2}', "cards/a.json": b"new", "users/u.json": b"new"}
    with pytest.raises(KeyboardInterrupt):
        tree.write_tree(out, new, owned=owned)
    monkeypatch.setattr(type(out), "rename", real_rename)
    before = sorted((p.relative_to(out).as_posix(), p.read_bytes() if p.is_file() else None) for p in out.rglob("*"))
    assert tree.read_manifest(out) == {"format": 1, "n": 2}
    assert {rel: p.read_bytes() for rel, p in tree.iter_doc_files(out)} == {"cards/a.json": b"new", "users/u.json": b"new"}
    after = sorted((p.relative_to(out).as_posix(), p.read_bytes() if p.is_file() else None) for p in out.rglob("*"))
    assert after == before and (out / tree.JOURNAL).exists()

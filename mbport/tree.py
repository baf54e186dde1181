"""The tree on disk: one sorted-key JSON file per doc plus mbport.json; atomic swap on write, checks on load (load_tree)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import stat
import unicodedata
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import orjson

from .errors import MbportError
from .kind import address_fields

if TYPE_CHECKING:
    from .registry import Registry

FORMAT_VERSION = 1
MANIFEST = "mbport.json"
STAGING = ".mbport-staging"
RETIRED = ".mbport-retired"
JOURNAL = ".mbport-swap.json"
MAX_SLUG = 80
IDENTITY_FIELDS = ("entity_id", "name", "email")  # key fields a doc cannot do without (a table's schema can)
MAX_NAME = 254  # Metabase's name columns (collection, report_card, report_dashboard ...) are varchar(254)


def dumps(doc: Any) -> bytes:
    """The one serialisation of a doc: UTF-8, sorted keys, 2-space indent, trailing newline."""
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


_ASCII_RUNS = re.compile(r"[^a-z0-9]+")


@functools.lru_cache(maxsize=65536)  # an export places its docs more than once (early, then all of them)
def slugify(text: str) -> str:
    """A readable, filesystem-safe file name: lower case, letters and digits of any script, '-' between."""
    text = str(text)
    if text.isascii():  # the same answer as below, where NFKC changes nothing and isalnum() means [a-z0-9]
        return _ASCII_RUNS.sub("-", text.lower()).strip("-")[:MAX_SLUG].strip("-") or "unnamed"
    text = unicodedata.normalize("NFKC", text).lower()
    out, dash = [], False
    for ch in text:
        if ch.isalnum():
            out.append(ch)
            dash = False
        elif not dash and out:
            out.append("-")
            dash = True
    slug = "".join(out).strip("-")
    while len(slug.encode()) > MAX_SLUG:
        slug = slug[:-1]
    return slug.strip("-") or "unnamed"


def short_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:6]


@dataclass
class Tree:
    """A loaded tree: docs by address, where each came from, and the manifest."""

    root: Path
    manifest: dict[str, Any]
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)  # address → relative path
    problems: list[str] = field(default_factory=list)
    refgraph: Any = field(default=None, repr=False, compare=False)  # (registry, graph): mbport.refgraph.of_tree's


# ---------------------------------------------------------------- writing

def is_tree(path: Path) -> bool:
    return (path / MANIFEST).is_file()


def newer_format(manifest: Any) -> int | None:
    """The format of a manifest written by a newer mbport than this one (else None)."""
    found = manifest.get("format") if isinstance(manifest, dict) else None
    return found if isinstance(found, int) and not isinstance(found, bool) and found > FORMAT_VERSION else None


UPGRADE_HINT = "upgrade mbport (pip install --upgrade mbport) and run the command again"


def check_output_dir(out: Path) -> None:
    """Refuse to write into a folder that holds something other than an mbport tree (dotfiles aside), or a tree
    of a newer format (writing it would quietly turn it into this version's older format)."""
    if out.exists() and not out.is_dir():
        raise MbportError(f"{out}: exists and is not a folder", hint="choose another --out")
    manifest = out / MANIFEST
    if manifest.is_file() and not manifest.is_symlink():
        try:
            found = newer_format(orjson.loads(manifest.read_bytes()))
        except orjson.JSONDecodeError:
            found = None  # a broken manifest is replaced by the export
        if found is not None:
            raise MbportError(f"{manifest}: the tree was written by a newer mbport (tree format {found}; this mbport "
                              f"writes format {FORMAT_VERSION}); writing it would rewrite it in the older format",
                              hint=UPGRADE_HINT)
    if out.is_dir() and not is_tree(out):
        foreign = [p.name for p in out.iterdir() if not p.name.startswith(".")]
        if foreign:
            raise MbportError(
                f"{out}: not empty and not an mbport tree (has {', '.join(sorted(foreign)[:3])})",
                hint="export into an empty folder or an existing mbport tree",
            )


def write_tree(out: Path, files: dict[str, bytes], owned: set[str]) -> None:
    """Replace the mbport-owned entries of `out` with `files` (relative path → bytes), atomically."""
    TreeWriter(out, owned).commit(files)


class TreeWriter:
    """Writes a new tree aside, then swaps it in: `stage` early what is known early, `commit` the whole tree.

    The new tree is written into a staging folder, then swapped in entry by entry under a journal, so an
    interrupted run is rolled forward by the next one (`recover`) and a good tree is never left
    half-written. Entries that mbport does not own (.git, a README of the user's) are left alone.
    Files staged early are written by a background thread while the export still reads the server (file
    creation costs as much as the requests on some disks); `commit` takes the complete tree as the truth:
    it writes what was not staged or was staged with other bytes, and removes staged files it lacks.
    """

    def __init__(self, out: Path, owned: set[str]):
        check_output_dir(out)
        self.out, self.owned = out, owned
        self._created = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        recover(out)
        self.staging = out / STAGING
        if self.staging.exists():
            shutil.rmtree(self.staging)
        self.staged: dict[str, bytes] = {}  # relative path → bytes, handed to the writer thread
        self._unchanged: set[str] = set()  # staged paths whose current file has those bytes: not written (yet)
        self._made: set[str] = set()  # staging folders created so far
        self._plain: dict[str, bool] = {"": True}  # current-tree folder → reached without a symbolic link
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []

    def stage(self, files: dict[str, bytes]) -> None:
        """Start writing these files into the staging folder (in the background)."""
        files = {rel: content for rel, content in files.items() if self.staged.get(rel) != content}
        if not files:
            return
        self.staged.update(files)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mbport-stage")
        self._pending.append(self._pool.submit(self._write, files))

    def commit(self, files: dict[str, bytes]) -> None:
        """Make the staged tree exactly `files`, then swap in the entries (kind folders) that changed."""
        self._wait()
        for rel in [rel for rel in self.staged if rel not in files]:
            del self.staged[rel]
            if rel in self._unchanged:
                self._unchanged.discard(rel)
                continue
            os.unlink(os.path.join(self.staging, rel))
            # the folders it leaves empty go, up to the first that still holds something, inside staging only
            # (os.removedirs would go on above it, up to the tree's own folder and its parents when empty), and
            # are made again when a file goes there
            folder = rel.rpartition("/")[0]
            while folder:
                try:
                    os.rmdir(os.path.join(self.staging, folder))
                except OSError:
                    break
                self._made.discard(folder)
                folder = folder.rpartition("/")[0]
        todo = {rel: content for rel, content in files.items() if self.staged.get(rel) != content}
        self.staged.update(todo)
        self._write(todo)
        # `files` holds relative posix paths as place() makes them ("cards/a/b.json"): split, not parsed by pathlib
        # (two PurePosixPath per file cost about 50 ms of CPU at bench-L)
        new_entries = {rel.partition("/")[0] for rel in files}
        changed = self._changed_entries(files)
        for rel in sorted(self._unchanged):
            if rel.partition("/")[0] in changed:  # the entry is swapped: it needs its unchanged files too
                self._link_current(rel)
        present = {p.name for p in self.out.iterdir()}
        entries = [[name, name in new_entries] for name in sorted((self.owned & present) | new_entries)
                   if name in changed or name not in new_entries]
        if entries:
            self.staging.mkdir(exist_ok=True)
            _atomic_write(self.out / JOURNAL, orjson.dumps({"entries": entries}))
            _swap(self.out, entries)
        elif self.staging.exists():
            shutil.rmtree(self.staging)

    def _changed_entries(self, files: dict[str, bytes]) -> set[str]:
        """Top-level entries whose new content differs from the current tree's in any file or folder.

        An entry whose every file has the same bytes in the same place, and nothing more, is left as it is:
        an export of an unchanged instance writes, links and removes nothing.
        """
        wanted: dict[str, set[str]] = {}
        written: set[str] = set()  # entries with a file that is not the current one
        folders: set[str] = set()  # the folders whose own folders are in `wanted` already
        for rel in files:
            top = rel.partition("/")[0]
            shape = wanted.setdefault(top, set())
            shape.add(rel)
            parent = rel.rpartition("/")[0]
            if parent and parent not in folders:  # its folders, once per folder (thousands of files share a few)
                folders.add(parent)
                parts = parent.split("/")
                shape.update("/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1))
            if rel not in self._unchanged:
                written.add(top)
        return {name for name, shape in wanted.items() if name in written or self._current_shape(name) != shape}

    def _current_shape(self, name: str) -> set[str]:
        """Files (as paths) and folders (as paths ending in "/") of one entry of the current tree."""
        top = os.path.join(self.out, name)
        if os.path.islink(top) or not os.path.exists(top):
            return set()
        if not os.path.isdir(top):
            return {name}
        shape = {f"{name}/"}
        for folder, dirs, names in os.walk(top):
            rel = os.path.relpath(folder, self.out).replace(os.sep, "/")
            shape.update(f"{rel}/{d}/" for d in dirs)  # a link to a folder counts, and is not walked
            shape.update(f"{rel}/{n}" for n in names)
        return shape

    def _link_current(self, rel: str) -> None:
        """Put the current tree's file (same bytes) into staging; written where hard links are not possible."""
        target = self._staging_path(rel)
        try:
            os.link(os.path.join(self.out, rel), target)
        except OSError:
            with open(target, "wb") as fh:
                fh.write(self.staged[rel])

    def _staging_path(self, rel: str) -> str:
        """Where `rel` goes in staging, its folder made."""
        parent, _, _ = rel.rpartition("/")
        if parent not in self._made:
            (self.staging / parent).mkdir(parents=True, exist_ok=True)
            self._made.add(parent)
        return os.path.join(self.staging, rel)

    def abort(self) -> None:
        """Forget the staged files (the export failed): the tree is left as it was."""
        with contextlib.suppress(Exception):
            self._wait()
        if self.staging.exists():
            shutil.rmtree(self.staging, ignore_errors=True)
        if self._created:
            with contextlib.suppress(OSError):
                self.out.rmdir()  # only if nothing else was put there meanwhile

    def _wait(self) -> None:
        pending, self._pending = self._pending, []
        try:
            for future in pending:
                future.result()  # a write that failed (disk full) fails the export here
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def _write(self, files: dict[str, bytes]) -> None:
        """Write `files` into staging, except those whose bytes equal the current tree's file (noted as unchanged).

        An export of an unchanged instance would rewrite thousands of identical files otherwise. Unchanged
        files are hard-linked in at commit if their entry is swapped (sharing the inode with the current file,
        which the swap retires: nothing writes into either in place), and left alone if it is not.
        """
        for rel, content in files.items():
            parent, _, _ = rel.rpartition("/")
            if _plain_folder(self.out, parent, self._plain) and _same_bytes(os.path.join(self.out, rel), content):
                self._unchanged.add(rel)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.staging, rel))  # staged before with other bytes
                continue
            self._unchanged.discard(rel)
            _write_file(self._staging_path(rel), content)


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _write_file(path: str, content: bytes) -> None:
    """A file with these bytes, written without a buffered file object: `open()` adds a buffer, an fstat, a
    terminal check and a seek to every one of an export's thousands of files (about 5 µs of CPU each)."""
    fd = os.open(path, _NEW_FILE, 0o666)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _plain_folder(out: Path, rel_dir: str, cache: dict[str, bool]) -> bool:
    """Whether `out/rel_dir` is a real folder of the tree (no component is a link that may lead elsewhere)."""
    if rel_dir not in cache:
        up, _, _ = rel_dir.rpartition("/")
        here = os.path.join(out, rel_dir)
        cache[rel_dir] = _plain_folder(out, up, cache) and os.path.isdir(here) and not os.path.islink(here)
    return cache[rel_dir]


def _same_bytes(path: str, content: bytes) -> bool:
    """A regular file (not a link) holding exactly `content`."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size != len(content):
        return False
    try:
        with open(path, "rb") as fh:
            return fh.read() == content
    except OSError:
        return False


def recover(out: Path) -> None:
    """Finish a swap that an earlier run started (roll forward), then clean up."""
    journal = out / JOURNAL
    if journal.exists():
        entries = _journal_entries(journal)
        _swap(out, entries)
    for leftover in (out / STAGING, out / RETIRED):
        if leftover.exists() and not journal.exists():
            shutil.rmtree(leftover)


def _journal_entries(journal: Path) -> list[list]:
    """The journal's entries, refused unless each names one plain entry of the tree (a journal that came with
    a tree from elsewhere must not move files outside it)."""
    try:
        entries = orjson.loads(journal.read_bytes())["entries"]
        ok = isinstance(entries, list) and all(
            isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) and isinstance(e[1], bool)
            and e[0] not in ("", ".", "..") and "/" not in e[0] and "\\" not in e[0] and "\0" not in e[0]
            for e in entries)
    except (orjson.JSONDecodeError, KeyError, TypeError):
        ok = False
    if not ok:
        raise MbportError(f"{journal}: not a swap journal mbport wrote (it names paths outside the tree)",
                          hint=f"remove {journal.name} if no export was interrupted in this folder")
    return entries


def _swap(out: Path, entries: list[list]) -> None:
    """Move each journalled entry into place; safe to repeat after an interruption at any point."""
    staging, retired = out / STAGING, out / RETIRED
    retired.mkdir(exist_ok=True)
    # The manifest goes last: a tree whose manifest is in place is a complete tree.
    for name, in_new in sorted(entries, key=lambda e: e[0] == MANIFEST):
        new, cur, old = staging / name, out / name, retired / name
        if in_new and not new.exists():
            continue  # swapped in by the interrupted run already
        if cur.exists() or cur.is_symlink():
            if old.exists():
                _remove(old)
            cur.rename(old)
        if new.exists():
            new.rename(cur)
    (out / JOURNAL).unlink(missing_ok=True)
    for leftover in (staging, retired):
        if leftover.exists():
            shutil.rmtree(leftover)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _atomic_write(path: Path, content: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# ---------------------------------------------------------------- reading

def read_manifest(root: Path) -> dict[str, Any]:
    if not root.is_dir():
        raise MbportError(f"{root}: no such folder", hint="give the folder an export wrote")
    path = top_entries(root).get(MANIFEST) or root / MANIFEST
    if path.is_symlink():
        raise MbportError(f"{path}: is a symbolic link; trees hold plain files only")
    if not path.is_file():
        raise MbportError(f"{root}: not an mbport tree (no {MANIFEST})", hint="run `mbport export` first")
    try:
        manifest = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise MbportError(f"{path}: not valid JSON ({exc})") from exc
    if newer_format(manifest) is not None:
        raise MbportError(f"{path}: tree format {manifest['format']} is not supported: a newer mbport wrote it (this "
                          f"mbport reads format {FORMAT_VERSION})", hint=UPGRADE_HINT)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise MbportError(
            f"{path}: tree format {found!r} is not supported (this mbport reads format {FORMAT_VERSION})",
            hint="export the tree again with this version of mbport",
        )
    return manifest


def top_entries(root: Path) -> dict[str, Path]:
    """The tree's top-level entries (dot-names aside) → where to read each from.

    After an interrupted export (a swap journal is there) that is the tree the next export's `recover` will
    finish: entries still staged are read from the staging folder, entries the swap removes are left out.
    Reading never finishes the swap itself: check, plan and diff leave the folder as they found it.
    """
    entries = {p.name: p for p in sorted(root.iterdir()) if not p.name.startswith(".")} if root.is_dir() else {}
    journal = root / JOURNAL
    if journal.exists():
        for name, in_new in _journal_entries(journal):
            staged = root / STAGING / name
            if not in_new:
                entries.pop(name, None)
            elif staged.exists() or staged.is_symlink():
                entries[name] = staged
    return dict(sorted(entries.items()))


def iter_doc_files(root: Path) -> list[tuple[str, Path]]:
    """(relative posix path, path) of every doc file; never follows links out of the tree."""
    found = []
    for top, top_path in top_entries(root).items():
        if top_path.is_symlink() or not top_path.is_dir():
            # A linked folder is not walked into, but reported (as an entry) so the loader can refuse it.
            if top_path.is_symlink() and top_path.is_dir() or (top != MANIFEST and top.endswith(".json")):
                found.append((top, top_path))
            continue
        for dirpath, dirnames, filenames in os.walk(top_path, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel_dir = PurePosixPath(top, Path(dirpath).relative_to(top_path).as_posix())
            linked = [d for d in dirnames if (Path(dirpath) / d).is_symlink()]
            found += [((rel_dir / d).as_posix(), Path(dirpath) / d) for d in linked]
            found += [((rel_dir / name).as_posix(), Path(dirpath) / name)
                      for name in sorted(filenames) if not name.startswith(".")]
    return found


def load_tree(root: Path, registry: Registry) -> Tree:
    """Every doc of the tree by address; problems (one line each, naming the file) in `.problems`."""
    root = Path(root)
    result = Tree(root, read_manifest(root))
    for rel, path in iter_doc_files(root):
        top = PurePosixPath(rel).parts[0]
        if path.is_symlink():
            result.problems.append(f"{rel}: is a symbolic link; trees hold plain files only")
            continue
        if not rel.endswith(".json"):
            result.problems.append(f"{rel}: not a .json file")
            continue
        if top not in registry.kinds:
            result.problems.append(f"{rel}: unknown kind {top!r} (known: {', '.join(sorted(registry.kinds))})")
            continue
        try:
            doc = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            result.problems.append(f"{rel}: not valid JSON ({exc})")
            continue
        if not isinstance(doc, dict):
            result.problems.append(f"{rel}: a doc must be a JSON object")
            continue
        kind = registry[top]
        try:
            addr = kind.address_of(doc)
        except Exception as exc:  # a doc missing its key fields
            result.problems.append(f"{rel}: cannot tell which {top} object this is ({exc})")
            continue
        missing = [f for f in address_fields(kind) if f in IDENTITY_FIELDS and not isinstance(doc.get(f), str | int)]
        if missing:  # else every such doc would get the same address, and the first would stand for all
            result.problems.append(f"{rel}: cannot tell which {top} object this is (no {', '.join(missing)})")
            continue
        if addr in result.docs:
            result.problems.append(f"{rel}: same address {addr} as {result.paths[addr]}")
            continue
        name = doc.get("name")
        if isinstance(name, str) and len(name) > MAX_NAME:
            result.problems.append(f"{rel}: the name is {len(name)} characters long; Metabase keeps names of at most "
                                   f"{MAX_NAME}")
            continue
        result.docs[addr] = doc
        result.paths[addr] = rel
    return result

"""Git-versioned backups: export into a repository's working tree, commit only real changes, read old snapshots."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import git
import orjson
from git.exc import BadName, GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from . import __version__, tree
from .client import redact
from .errors import MbportError, UsageError

if TYPE_CHECKING:  # annotations only: the registry and export load when a backup runs
    from .client import MetabaseClient
    from .export import Progress
    from .registry import Registry

Read = Callable[[str, str], bytes]  # (side "old" | "new", path) → the file's bytes

LOCK_NAME = "mbport-backup.lock"
TEMP_INDEX = "mbport-index.tmp"
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's well-known empty tree object
DEFAULT_AUTHOR = "mbport <mbport@localhost>"
GITIGNORE = """\
# mbport: working files of an interrupted export and import state never belong in a snapshot
.mbport-staging/
.mbport-retired/
.mbport-swap.json
*.mbport-state/
*.new-api-keys.json
*.tmp
"""
_AUTHOR = re.compile(r"^\s*([^<>]+?)\s*<([^<>\s]+)>\s*$")


@dataclass
class Author:
    name: str
    email: str

    @classmethod
    def parse(cls, text: str | None) -> Author:
        m = _AUTHOR.match(text or DEFAULT_AUTHOR)
        if not m:
            raise UsageError(f"--author {text!r}: expected \"Name <email>\"")
        return cls(m.group(1), m.group(2))

    def env(self) -> dict[str, str]:
        return {"GIT_AUTHOR_NAME": self.name, "GIT_AUTHOR_EMAIL": self.email,
                "GIT_COMMITTER_NAME": self.name, "GIT_COMMITTER_EMAIL": self.email}


@dataclass
class Snapshot:
    sha: str
    date: datetime
    summary: str

    @classmethod
    def of(cls, commit: git.Commit) -> Snapshot:
        summary = commit.summary  # bytes when GitPython could not decode the message
        return cls(commit.hexsha, commit.committed_datetime, summary if isinstance(summary, str) else summary.decode())

    def line(self) -> str:
        return f"{self.sha[:8]}  {self.date.strftime('%Y-%m-%d %H:%M %z')}  {self.summary}"


@dataclass
class KindChanges:
    added: int = 0
    modified: int = 0
    deleted: int = 0

    def text(self) -> str:
        parts = [f"{sign}{n}" for sign, n in (("+", self.added), ("~", self.modified), ("-", self.deleted)) if n]
        return " ".join(parts)


@dataclass
class BackupResult:
    commit: str | None  # the new commit, None when nothing changed
    head: str  # the branch tip after the backup
    branch: str
    summary: str
    changed_files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    personal: tuple[int, int] = (0, 0)  # personal collections in the snapshot, objects inside them


SUBJECT_LIMIT = 120  # characters of a snapshot's subject line (what `mbport log` shows)
BODY_CHANGES = 50  # changes listed in a snapshot's message body; the rest are counted
LINE_LIMIT = 200  # characters of one listed change


@dataclass
class Summary:
    """What a snapshot changed: the counts per kind (`cards +3 ~5 -1, dashboards ~2`) and each change in `mbport
    diff`'s words (`card 'Revenue by month': visualization: line → bar`), in a deterministic order."""

    counts: str
    changes: list[str] = field(default_factory=list)

    def subject(self) -> str:
        """The counts, then as many changes in words as fit in SUBJECT_LIMIT characters (`…` when some did not)."""
        text = self.counts
        for i, change in enumerate(self.changes):
            more = "; …" if i + 1 < len(self.changes) else ""
            joined = f"{text}{': ' if i == 0 else '; '}{change}"
            if len(joined + more) > SUBJECT_LIMIT:
                room = SUBJECT_LIMIT - len(text) - 3
                return f"{text}: {change[:room - 1]}…" if i == 0 and room > 20 else text + (": …" if i == 0 else "; …")
            text = joined
        return text

    def body(self) -> str:
        """Every change on a line of its own (the first BODY_CHANGES; the rest counted)."""
        lines = [c if len(c) <= LINE_LIMIT else c[:LINE_LIMIT - 1] + "…" for c in self.changes[:BODY_CHANGES]]
        rest = len(self.changes) - BODY_CHANGES
        return "\n".join(lines + ([f"… and {rest} more (`mbport diff --repo DIR SHA~1 SHA` lists them all)"]
                                  if rest > 0 else []))


def summarize(name_status: list[tuple[str, str]], read: Read | None = None, registry: Registry | None = None,
              context: dict[str, dict] | None = None) -> Summary:
    """What the staged diff's (status letter, path) pairs changed: counts per kind, and with `read` (side "old" |
    "new", path → bytes) and the registry each object's change in words.

    A renamed or moved object changes its file's path: git sees one file deleted and one added. With `read` and the
    registry, the files of a kind are matched by the address of their doc, as `mbport diff` matches objects, and
    compared the way diff compares them: a rename is one change (~1); a file that only moved with its collection
    (same doc), or whose only difference is text derived for readers (a collection's path in a permission grant), is
    no change at all. `context`: the whole new tree's docs, to name what a change refers to.
    """
    per_kind: dict[str, KindChanges] = {}
    compared: dict[str, list[tuple[str, str]]] = {}  # kind → its files, compared by the objects they hold
    words: list[str] = []
    for status, path in name_status:
        parts = PurePosixPath(path).parts
        if len(parts) < 2 or parts[0].startswith("."):
            continue  # the manifest, .gitignore: bookkeeping, not objects
        kind = parts[0]
        if read is not None and registry is not None and kind in registry.kinds and status in "ADM":
            compared.setdefault(kind, []).append((status, path))
            continue
        changes = per_kind.setdefault(kind, KindChanges())
        if status == "A":
            changes.added += 1
        elif status == "D":
            changes.deleted += 1
        else:
            changes.modified += 1
    if compared and read is not None and registry is not None:  # (only then is anything in `compared`)
        words = _count_by_address(compared, read, registry, per_kind, context)
    text = ", ".join(f"{kind} {c.text()}" for kind, c in sorted(per_kind.items()) if c.text())
    return Summary(text or "tree metadata changed", words)


def _count_by_address(moved: dict[str, list[tuple[str, str]]], read: Read, registry: Registry,
                      per_kind: dict[str, KindChanges], context: dict[str, dict] | None) -> list[str]:
    """Count added, deleted and modified files by the objects they hold, through `mbport diff`'s comparison; the
    changes in its words, by kind, name and address."""
    from .diff import diff_docs

    old: dict[str, dict] = {}
    new: dict[str, dict] = {}
    for kind, entries in moved.items():
        for status, path in entries:
            for side_name, side in (("old", old), ("new", new)):
                if status == {"old": "A", "new": "D"}[side_name]:
                    continue  # an added file has no old side, a deleted one no new side
                try:
                    doc = orjson.loads(read(side_name, path))
                    addr = registry[kind].address_of(doc)
                except Exception:  # not a doc mbport can read: counted by its file
                    doc, addr = {"$file": path, "$side": side_name}, f"{kind}/$file:{path}"
                side[addr] = doc
    changes = diff_docs(registry, old, new, context)
    for change in changes:
        counts = per_kind.setdefault(change.kind, KindChanges())
        if change.change == "added":
            counts.added += 1
        elif change.change == "removed":
            counts.deleted += 1
        else:
            counts.modified += 1
    return [c.line() for c in sorted(changes, key=lambda c: (c.kind, c.name, c.address))
            if not c.address.split("/", 1)[1].startswith("$file:")]


class SnapshotRepo:
    """A git repository whose working tree is an mbport tree; every snapshot is one commit."""

    def __init__(self, path: Path, repo: git.Repo):
        self.path = path
        self.repo = repo

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: Path) -> SnapshotRepo:
        """An existing repository (its working tree root); a clear error otherwise."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise MbportError(f"--repo {path}: is a file, not a folder", hint="give a folder for the backup repository")
        if not path.is_dir():
            raise MbportError(f"--repo {path}: no such folder", hint="run `mbport backup --repo ...` first")
        try:
            repo = git.Repo(path)
        except (InvalidGitRepositoryError, NoSuchPathError):
            raise MbportError(f"--repo {path}: not a git repository", hint="run `mbport backup --repo ...` first") from None
        if repo.bare or Path(repo.working_tree_dir or "").resolve() != path.resolve():
            raise MbportError(f"--repo {path}: not the top folder of a git working tree",
                              hint=f"use {repo.working_tree_dir or 'a non-bare repository'}")
        return cls(path, repo)

    @classmethod
    def open_or_init(cls, path: Path, branch: str | None = None) -> SnapshotRepo:
        """Open the repository, or create it (with a .gitignore) in a missing or empty folder."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise MbportError(f"--repo {path}: is a file, not a folder", hint="give a folder for the backup repository")
        if (path / ".git").exists():
            return cls.open(path)
        tree.check_output_dir(path)  # an existing folder must be empty or an mbport tree
        path.mkdir(parents=True, exist_ok=True)
        try:
            options: dict[str, Any] = {"initial_branch": branch} if branch else {}
            repo = git.Repo.init(path, **options)
        except GitCommandError as exc:
            raise MbportError(f"--repo {path}: git init failed: {_git_reason(exc)}") from None
        ignore = path / ".gitignore"
        if not ignore.exists():
            ignore.write_text(GITIGNORE)
        return cls(path, repo)

    # ------------------------------------------------------------------ refs
    @property
    def git_dir(self) -> Path:
        return Path(self.repo.git_dir)

    def current_branch(self) -> str | None:
        try:
            return self.repo.git.symbolic_ref("--short", "-q", "HEAD")
        except GitCommandError:
            return None  # a detached HEAD

    def tip(self, branch: str) -> str | None:
        try:
            return self.repo.git.rev_parse("--verify", "-q", f"refs/heads/{branch}^{{commit}}")
        except GitCommandError:
            return None

    def resolve(self, ref: str) -> git.Commit:
        """A commit, tag or branch name (anything git understands) → its commit; unknown → a usage error (exit 2: the
        ref given is wrong, as a bad flag is)."""
        if not ref or ref.startswith("-"):
            raise UsageError(f"{ref!r} is not a git ref")
        try:
            return self.repo.commit(ref)
        except (BadName, ValueError, GitCommandError):
            raise UsageError(f"{ref}: no such commit, tag or branch in {self.path}",
                              hint=f"list the snapshots with `mbport log --repo {self.path}`") from None

    def snapshots(self, ref: str | None = None, limit: int | None = None) -> list[Snapshot]:
        """Newest first; an empty list for a repository without commits."""
        if ref is None and not self.repo.head.is_valid():
            return []
        start = self.resolve(ref or "HEAD")
        return [Snapshot.of(c) for c in self.repo.iter_commits(start, max_count=limit)]

    def extract(self, ref: str, dest: Path) -> git.Commit:
        """Write the tree of `ref` into `dest` straight from git's objects: the working tree is not touched."""
        commit = self.resolve(ref)
        dest.mkdir(parents=True, exist_ok=True)
        for item in commit.tree.traverse():
            if not isinstance(item, git.Blob):
                continue  # folders come with their files; submodules are not part of a tree
            if stat.S_ISLNK(item.mode):
                raise MbportError(f"{ref}: {item.path} is a symbolic link; mbport trees hold plain files only")
            target = dest / item.path
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as fh:
                shutil.copyfileobj(item.data_stream, fh)
        return commit

    # ------------------------------------------------------------------ locking
    @contextlib.contextmanager
    def lock(self) -> Iterator[Path]:
        """One backup at a time per repository: a lock file in .git holding host and pid."""
        path = self.git_dir / LOCK_NAME
        me = f"{socket.gethostname()} {os.getpid()}"
        for _attempt in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if _stale(path):
                    path.unlink(missing_ok=True)
                    continue
                holder = _read(path) or "unknown process"
                raise MbportError(f"another backup is running on {self.path} (lock {path}, held by {holder})",
                                  hint=f"wait for it to finish; if no backup is running, delete {path}") from None
            with os.fdopen(fd, "w") as fh:
                fh.write(me + "\n")
            break
        else:  # a stale lock came back at once: someone else is starting a backup right now
            raise MbportError(f"another backup is starting on {self.path} (lock {path})", hint="try again later")
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ committing
    def commit_tree(self, pathspecs: list[str], author: Author, branch: str, message_body: str,
                    registry: Registry | None = None, docs: dict[str, dict] | None = None) -> tuple[str | None, str, list]:
        """Stage `pathspecs` in a private index, commit if the tree changed, then move the branch and the index.

        The message says what changed: the counts per kind and the first changes in words on the subject line, every
        change (up to BODY_CHANGES) in the body (`docs`: the new tree's, to name what a change refers to). The real
        index and the branch are only replaced after the commit exists, so any failure before that leaves HEAD and
        the index exactly as they were. Returns (new commit or None, subject, name-status).
        """
        parent = self.tip(branch)
        index = self.git_dir / "index"
        temp = self.git_dir / TEMP_INDEX
        if index.exists():
            shutil.copy2(index, temp)
        else:
            temp.unlink(missing_ok=True)
        try:
            with self.repo.git.custom_environment(GIT_INDEX_FILE=str(temp), **author.env()):
                if parent:
                    self.repo.git.read_tree(parent)  # the index of the branch we commit on
                else:
                    self.repo.git.read_tree("--empty")
                if pathspecs:
                    self.repo.git.add("-A", "--", *pathspecs)
                new_tree = self.repo.git.write_tree()
                base = self.repo.git.rev_parse(f"{parent}^{{tree}}") if parent else EMPTY_TREE
                raw = self.repo.git.diff_tree("-r", "-z", "--no-renames", "--name-status", base, new_tree)
                name_status = _name_status(raw)
                if not name_status:
                    return None, "no changes", []
                if not parent:  # the first snapshot adds everything: a count reads better than 19 kinds
                    objects = sum(1 for _, p in name_status if len(PurePosixPath(p).parts) > 1)
                    message_body = f"{summarize(name_status).counts}\n\n{message_body}"
                    summary = f"first snapshot: {objects} objects"
                else:
                    trees = {"old": base, "new": new_tree}  # blobs read through git's long-running cat-file
                    changed = summarize(name_status, lambda side, path: self.repo.git.get_object_data(
                        f"{trees[side]}:{path}")[3], registry, docs)
                    summary = changed.subject()
                    message_body = "\n\n".join(x for x in (changed.body(), message_body) if x)
                args = [new_tree, "-m", summary, "-m", message_body]
                if parent:
                    args[1:1] = ["-p", parent]
                commit = self.repo.git.commit_tree(*args)
                self.repo.git.update_ref(f"refs/heads/{branch}", commit, parent or "")
            if self.current_branch() == branch:
                os.replace(temp, index)  # the working tree matches the new commit: so does the index now
            return commit, summary, name_status
        except GitCommandError as exc:
            raise MbportError(f"{self.path}: git failed, nothing was committed: {_git_reason(exc)}") from None
        finally:
            temp.unlink(missing_ok=True)

    def push(self, remote: str, branch: str) -> None:
        try:
            self.repo.git.push(remote, f"refs/heads/{branch}:refs/heads/{branch}")
        except GitCommandError as exc:
            raise MbportError(f"push of {branch} to {remote} failed: {_git_reason(exc)}",
                              hint="the snapshot is committed locally; the next backup pushes it again") from None


def _name_status(raw: str) -> list[tuple[str, str]]:
    fields = [f for f in raw.split("\0") if f]
    return [(fields[i][0], fields[i + 1]) for i in range(0, len(fields) - 1, 2)]


def _git_reason(exc: GitCommandError) -> str:
    text = exc.stderr or exc.stdout or str(exc)
    text = " ".join(str(text).replace("stderr:", "").split()).strip(" '")
    return redact(text) or f"exit {exc.status}"


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _stale(path: Path) -> bool:
    """A lock left by a process of this host that no longer runs (a killed backup)."""
    host, _, pid = _read(path).partition(" ")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def run_backup(api: MetabaseClient, registry: Registry, repo_dir: Path, *, branch: str | None = None,
               author: str | None = None, progress: Progress | None = None, include_personal: bool = True) -> BackupResult:
    """Export the instance into the repository's working tree and commit it when it changed. A whole-instance
    backup holds the users' personal collections too, unless `include_personal` is False."""
    from .export import personal_content, run_export

    who = Author.parse(author)
    store = SnapshotRepo.open_or_init(repo_dir, branch)
    current = store.current_branch()
    has_commits = store.repo.head.is_valid()
    if branch and current != branch:
        if has_commits:
            raise MbportError(f"--repo {repo_dir}: the working tree is on branch {current or '(detached)'}, not {branch}",
                              hint=f"run `git -C {repo_dir} switch {branch}` first, or leave out --branch")
        store.repo.git.symbolic_ref("HEAD", f"refs/heads/{branch}")  # no commits yet: just name the branch
        current = branch
    if current is None:
        raise MbportError(f"--repo {repo_dir}: HEAD is detached", hint=f"run `git -C {repo_dir} switch <branch>` first")
    with store.lock():
        result = run_export(api, registry, repo_dir, progress=progress,  # atomic: a failure leaves the old tree
                            options={"include_personal": include_personal})
        owned = sorted(set(registry.kinds) | {tree.MANIFEST, ".gitignore"})
        tracked = set(store.repo.git.ls_files("--", *owned).splitlines()) if has_commits else set()
        tracked_tops = {PurePosixPath(p).parts[0] for p in tracked}
        pathspecs = [p for p in owned if (repo_dir / p).exists() or p in tracked_tops]
        version = result.source_version or "unknown version"
        body = f"Backup of {redact(api.url)} (Metabase {version}) by mbport {__version__}."
        commit, summary, name_status = store.commit_tree(pathspecs, who, current, body, registry, result.docs)
    head = store.tip(current) or ""
    return BackupResult(commit, head, current, summary, [p for _, p in name_status], result.warnings, result.counts,
                        personal_content(result.paths))

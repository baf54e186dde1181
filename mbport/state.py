"""Import state per target (Terraform's state): address → target id, kept durable after every change.

The state is a snapshot (`<file>`, replaced atomically) plus an append-only journal (`<file>.journal`, one
JSON line per change, flushed at once), so recording a change costs one short append however large the
state is, and a killed run loses nothing: the next load replays the journal (a torn last line is ignored).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from .errors import MbportError

try:
    import fcntl
except ImportError:  # Windows has no flock: two imports running at once are not detected there
    fcntl = None  # type: ignore[assignment]

STATE_VERSION = 1


def default_state_path(tree_dir: Path | str, url: str) -> Path:
    """Where imports of `tree_dir` into the instance at `url` keep their state by default: TREE.mbport-state/HOST.json."""
    from .tree import slugify

    return Path(str(tree_dir).rstrip("/") + ".mbport-state") / f"{slugify(url.split('://', 1)[-1])}.json"


@dataclass
class State:
    target: str
    ids: dict[str, Any] = field(default_factory=dict)  # address (whole docs and sub-objects) → target id
    created: set[str] = field(default_factory=set)  # addresses mbport created (only these are ever pruned)
    # address → how an import option matched it (Kind.match_memo: a database's --map-database target), so a later
    # run without that option cannot quietly match it differently (and rewrite the target's database).
    memos: dict[str, str] = field(default_factory=dict)
    # The target's site-uuid when the state was written (Metabase makes it once per instance): ids recorded for one
    # instance point at unrelated objects in another one rebuilt at the same URL.
    instance: str | None = None
    # address → the entity_id the target gave the object (Metabase makes it once per object): where the target does not
    # tell its site-uuid, an id that points at an object with another entity_id says the instance is another one.
    eids: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    _journal: IO[bytes] | None = field(default=None, repr=False)

    @property
    def journal_path(self) -> Path | None:
        return self.path.with_name(self.path.name + ".journal") if self.path else None

    @classmethod
    def load(cls, path: Path, target: str) -> State:
        """The state for `target`; a state written for another target is refused."""
        state = cls(target, path=path)
        if path.exists():
            try:
                data = orjson.loads(path.read_bytes())
            except orjson.JSONDecodeError as exc:
                raise MbportError(f"{path}: the state file is not valid JSON ({exc})",
                                  hint="restore it from a backup, or move it away to start without state") from exc
            if not isinstance(data, dict) or data.get("version") != STATE_VERSION or not isinstance(data.get("ids"), dict):
                raise MbportError(f"{path}: not an mbport state file (version {STATE_VERSION})")
            if data.get("target") != target:
                raise MbportError(
                    f"{path}: this state belongs to {data.get('target')}, not {target}",
                    hint="pass --state with the state file of this target (or a new path)",
                )
            state.ids, state.created = dict(data["ids"]), set(data.get("created", []))
            state.memos = dict(data.get("memos") or {})
            state.instance = data.get("instance") if isinstance(data.get("instance"), str) else None
            state.eids = {a: e for a, e in (data.get("eids") or {}).items() if isinstance(e, str)}
        journal = state.journal_path
        if journal and journal.exists():
            for line in journal.read_bytes().splitlines():
                try:
                    entry = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue  # the torn last line of a killed run
                state._apply(entry)
        return state

    @contextlib.contextmanager
    def claimed(self) -> Iterator[None]:
        """Hold this state file while an import writes (a lock file beside it, removed at the end; the lock itself is
        freed when the process ends, even killed). Refused: a second import using the same state while one runs,
        and one whose plan was read before another import wrote the state (it would create again what that one
        created)."""
        if self.path is None or fcntl is None:
            yield
            return
        lock = self.path.with_name(self.path.name + ".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = self._lock(lock)
        try:
            on_disk = State.load(self.path, self.target)
            if (on_disk.ids, on_disk.created, on_disk.memos) != (self.ids, self.created, self.memos):
                raise MbportError(f"{self.path}: another import into {self.target} wrote this state after this run "
                                  "read it; nothing was written",
                                  hint="run the command again: its plan then sees what that import did")
            yield
        finally:
            lock.unlink(missing_ok=True)  # while still held: a run opening it now makes a new file
            os.close(fd)

    def _lock(self, lock: Path) -> int:
        """The open, flock-ed lock file; refused when another process holds it."""
        assert fcntl is not None
        for _attempt in range(3):
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
                os.close(fd)
                raise MbportError(f"another import into {self.target} is running with the state {self.path} "
                                  f"({holder}); nothing was written",
                                  hint="wait for it to finish, then run this command again") from None
            try:
                same = os.stat(lock).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:  # else the run that held it removed it meanwhile: lock the file that is there now
                os.ftruncate(fd, 0)
                os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode())
                return fd
            os.close(fd)
        raise MbportError(f"another import into {self.target} is starting with the state {self.path}; nothing "
                          "was written", hint="wait for it to finish, then run this command again")

    def bind_instance(self, site_uuid: str | None) -> None:
        """Refuse a state that holds ids of another instance (`site_uuid`: the target's; None when it does not
        tell), else remember the target's, so a later run meets a rebuilt instance before it writes anything."""
        if site_uuid is None or site_uuid == self.instance:
            return
        if self.of_another_instance(site_uuid):
            raise self.other_instance("its site-uuid changed")
        entry = {"instance": site_uuid}
        self._apply(entry)
        self._append(entry)

    def check_object(self, address: str, raw: dict[str, Any]) -> None:
        """Refuse the state when the target object its id for `address` points at (`raw`) is not the one recorded (its
        entity_id differs): the instance was rebuilt or replaced, and its ids name unrelated objects."""
        recorded, now = self.eids.get(address), raw.get("entity_id")
        if recorded and isinstance(now, str) and now != recorded:
            raise self.other_instance(f"{address}'s id {raw.get('id')} names another object there: its entity_id "
                                      "changed")

    def of_another_instance(self, site_uuid: str | None) -> bool:
        """Whether this state holds the ids of another instance than the one whose site-uuid this is."""
        return (site_uuid is not None and self.instance is not None and site_uuid != self.instance
                and bool(self.ids or self.created))

    def other_instance(self, why: str) -> MbportError:
        return MbportError(
            f"{self.path or 'the state'}: this state holds the ids of another Metabase instance than the one at "
            f"{self.target} now ({why}: the instance was rebuilt or replaced); nothing was written",
            hint="move the state file away (or pass --state with a new path): the import then finds its objects "
                 "by their names again")

    def _apply(self, entry: dict[str, Any]) -> None:
        if "instance" in entry:
            self.instance = entry["instance"]
        elif "memo" in entry:
            if entry["memo"] is None:
                self.memos.pop(entry["a"], None)
            else:
                self.memos[entry["a"]] = entry["memo"]
        elif entry.get("forget"):
            self.ids.pop(entry["a"], None)
            self.created.discard(entry["a"])
            self.memos.pop(entry["a"], None)
            self.eids.pop(entry["a"], None)
        else:
            if self.ids.get(entry["a"]) != entry["id"]:
                self.eids.pop(entry["a"], None)  # another object: what was recorded of the last one is not its
            self.ids[entry["a"]] = entry["id"]
            if entry.get("c"):
                self.created.add(entry["a"])
            if isinstance(entry.get("e"), str):
                self.eids[entry["a"]] = entry["e"]

    def _append(self, entry: dict[str, Any]) -> None:
        journal = self.journal_path
        if journal is None:
            return
        if self._journal is None:
            journal.parent.mkdir(parents=True, exist_ok=True)
            self._journal = open(journal, "ab")  # noqa: SIM115 - kept open for the whole run
        self._journal.write(orjson.dumps(entry) + b"\n")
        self._journal.flush()  # in the OS's hands now: survives a killed process

    def record(self, address: str, target_id: Any, created: bool = False, entity_id: Any = None) -> None:
        """`entity_id`: the one the target object has (see `eids`), when known."""
        entity_id = entity_id if isinstance(entity_id, str) and entity_id else None
        if self.ids.get(address) == target_id and (not created or address in self.created) and (
                entity_id is None or self.eids.get(address) == entity_id):
            return
        entry = {"a": address, "id": target_id, **({"c": True} if created else {}), **({"e": entity_id} if entity_id
                                                                                         else {})}
        self._apply(entry)
        self._append(entry)

    def remember(self, address: str, memo: str | None) -> None:
        """Record how `address` was matched (None: the default way)."""
        if self.memos.get(address) != memo:
            entry = {"a": address, "memo": memo}
            self._apply(entry)
            self._append(entry)

    def forget(self, address: str) -> None:
        if address in self.ids or address in self.created:
            entry = {"a": address, "forget": True}
            self._apply(entry)
            self._append(entry)

    def save(self) -> None:
        """Write the snapshot atomically (temp file, fsync, rename), then start a fresh journal."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": STATE_VERSION, "target": self.target, "ids": dict(sorted(self.ids.items())),
                "created": sorted(self.created), **({"memos": dict(sorted(self.memos.items()))} if self.memos else {}),
                **({"instance": self.instance} if self.instance else {}),
                **({"eids": dict(sorted(self.eids.items()))} if self.eids else {})}
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        journal = self.journal_path
        if journal is not None and journal.exists():
            journal.unlink()

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "ids": dict(self.ids), "created": sorted(self.created), "memos": dict(self.memos)}

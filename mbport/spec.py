"""Field specs (Metabase serdes' `make-spec`): one declaration per raw field, and one `Match`, from which a kind's
normalize, payload, match keys, address and "no field forgotten" check are generated.

A kind declares `fields = {raw field: declaration}` with one of

- `copy()`          the value goes into the doc as it is (and back into the payload under the same name);
- `skip(reason)`    never in the doc; the reason says why (checked to be non-empty);
- `ref(kind)`       a plain numeric id of `kind` → a portable `{"$ref"}` (payload: the target's id);
- `walk(shape)`     a structure where ids hide (`query`, `viz`, `parameters`, `parameter_mappings`, `sql`,
                    `template_tags`), walked with the ref walker (mbport.refs) both ways;
- `custom(reason)`  read by the kind's own code (`normalize_more`/`payload`); the reason says what it becomes
                    (`late=fn`, also on `copy`: `fn(value)` gives the refs in it the second pass fills in);
- `each(fields)`    a list of nested objects (a dashboard's dashcards, a subscription's channels), each described by
                    its own field declarations: exported item by item (defaults and nulls left out), sent back item
                    by item, and covered by the same "no field forgotten" check (`dashcards[].row`).

Options shared by copy, ref and walk: `as_` (the doc field's name, default the raw field's), `default` (a doc value
that means Metabase's default and is left out of the doc; `FALSY`: any false value), `send` (False: never in the
payload; a function `(value, doc) -> value` to shape it, returning `OMIT` to leave it out), `send_as` (the payload
field's name), `read` (a function `raw -> value` for a value that is not the raw field itself); on `copy`, `post=False`
(POST does not take the field: the default `create` leaves it out and PUTs it right after, unless it holds its
default, or with no default a false value); on `copy` and `ref`, `put=False` (PUT cannot change it: the default
`update` leaves it out); `ref(late=True)`: a
ref the second pass fills in (null in the first payload); `ref(container=True)`: the doc lives in the folder of the doc
this ref names (a card in its collection's), which is placed before it (one field per kind); with `under="@snippets"`,
the tree folder that container's folder sits in is left out of the doc's path (a snippet folder is a collection under
`@snippets`; in the snippets tree that says nothing). `each` also takes `sort` (a key ordering the exported items)
and `more` (a function `(item doc, raw item, ctx) -> item doc or None` for what the nested declarations cannot say;
None leaves the item out).

Two more options say what the target must be able to do with a field: `needs=Needs(...)` (a doc holding the field
needs a Metabase version or an Enterprise feature: plan refuses it on a target without, by name; a tuple of them,
each with its own `when`, for values that arrived in different releases; `droppable=True`: the object is whole
without the field, so `--skip-unsupported` writes it without the field instead of leaving the object out) and, on `copy`,
`unwritable="reason"` (exported, never sent: no API request writes it; plan and import say so by name whenever the
target's value is not the tree's, instead of reporting an update nothing can make).

`Match("name", within="collection")` names the doc fields that identify an object on the target (refs resolved to
target ids); `locate` adopts a target object whose raw fields give the same key. With `address=True` the same fields
also form the doc's address (`users/<email>`) instead of its entity_id; `address="instance"` is the one address of a
kind with one doc per instance (`settings/instance`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

from . import body_types
from .canonical import canonical_query
from .client import Shape
from .refs import REF, Walker, is_ref, late_bound_refs, split_address

OMIT: Any = type("Omit", (), {"__repr__": lambda self: "OMIT"})()  # "nothing here": not in the doc / not sent
FALSY: Any = type("Falsy", (), {"__repr__": lambda self: "FALSY"})()  # default: any false value is left out

WALKS = {"query": {}, "viz": {}, "parameters": [], "parameter_mappings": [], "sql": "", "template_tags": {}}
# The structures whose raw form carries Metabase's query noise (mbport.kindutil.canonical_query strips it).
CANONICAL = frozenset({"query", "parameters", "parameter_mappings"})

Send = bool | Callable[[Any, dict[str, Any]], Any]


def common(*names: str) -> dict[str, Field]:
    """Skip declarations that read the same in every kind that has the field (`fields = {**common(...), ...}`)."""
    return {n: skip(COMMON_REASONS[n]) for n in names}


def skips(reason: str, *names: str) -> dict[str, Field]:
    """The same `skip(reason)` for several raw fields (`fields = {**skips("server timestamp", "a", "b"), ...}`)."""
    return {n: skip(reason) for n in names}


def flag(value: Any, doc: dict[str, Any]) -> bool:
    """`send=flag`: an absent boolean is sent as false (PUT writes an omitted flag as false anyway)."""
    return bool(value)


def present(value: Any, doc: dict[str, Any]) -> Any:
    """`send=present`: sent only when the doc has a value (an absent or null one is left out of the payload)."""
    return OMIT if value is None else value


@dataclass(frozen=True)
class Field:
    """One raw field's declaration (see the module docstring for the kinds of declaration)."""

    how: str  # copy | skip | ref | walk | custom | each
    reason: str = ""
    kind: str | None = None  # ref: the kind the id points at; walk: the structure
    as_: str | None = None
    default: Any = OMIT
    send: Send = True
    send_as: str | None = None
    read: Callable[[dict[str, Any]], Any] | None = None
    empty: Any = None  # walk: what a null raw value stands for (None: it stays null)
    # ref: may have no target id yet (sent as null then); walk("viz"): its click behaviours and link cards may point
    # at content written later. In a DeferredRefs kind both are its deferred refs: the second pass fills them in.
    late: bool | Callable[[Any], set[str]] = False  # custom: a function giving the value's late refs
    many: bool = False  # ref: a list of ids; nested: a list (each), not one object (one)
    nested: Spec | None = None  # each: the items' declarations
    sort: Callable[[dict[str, Any]], Any] | None = None  # each: orders the exported items
    more: Callable[[dict[str, Any], dict[str, Any], Any], dict[str, Any] | None] | None = None  # each
    # what a target needs to hold a doc with this field (version, Enterprise feature); several: each for its values
    needs: Needs | tuple[Needs, ...] | None = None
    container: bool = False  # ref: names the doc whose folder this doc lives in (a card's collection)
    under: str = ""  # ref(container=True): the tree folder the container's folder sits in, left out of the doc's path
    unwritable: str = ""  # copy: no API request writes it (why); never sent, never compared, named in plan
    post: bool = True  # copy: POST takes it (False: create PUTs it right after, unless it holds its default)
    put: bool = True  # copy, ref: PUT takes it (False: the default update leaves it out; it is fixed once created)

    def out(self, name: str) -> str | None:
        """The doc field this raw field becomes (None: none)."""
        return (self.as_ or name) if self.how in ("copy", "ref", "walk", "each") else None

    def raw_value(self, raw: dict[str, Any], name: str) -> Any:
        """The raw value this declaration reads (`read`, else the raw field; None when absent)."""
        return self.read(raw) if self.read is not None else raw.get(name)

    def payload(self, doc: dict[str, Any], name: str, resolve: Any, walker: Walker) -> Any:
        if not self.send or self.how in ("skip", "custom") or name == "entity_id":
            return OMIT  # entity_id: the target makes its own (a restore finds the object by it instead)
        out = self.out(name) or name
        value = doc.get(out, None if self.default in (OMIT, FALSY) else self.default)
        if self.how == "ref":  # through the walker: a deferred ref (lenient walker) may have no id yet
            def target_id(v: Any) -> Any:
                return resolve.optional(v) if self.late else walker.id(self.kind or "", v)

            value = [target_id(v) for v in value or []] if self.many else target_id(value)
        elif self.how == "each":
            assert self.nested is not None
            if not self.many:  # one()
                value = self.nested.payload(value or {}, resolve, walker)
            else:
                value = [self.nested.payload(item, resolve, walker) for item in value or []]
        elif self.how == "walk":
            shape = self.kind or ""
            value = getattr(walker, shape)(value if value is not None else WALKS[shape])
        return self.send(value, doc) if callable(self.send) else value

    def is_default(self, value: Any) -> bool:
        if self.default is FALSY:
            return not value
        return self.default is not OMIT and value == self.default


def copy(*, as_: str | None = None, default: Any = OMIT, send: Send = True, send_as: str | None = None,
         read: Callable[[dict[str, Any]], Any] | None = None, needs: Needs | tuple[Needs, ...] | None = None,
         unwritable: str = "", late: Callable[[Any], set[str]] | None = None, post: bool = True,
         put: bool = True) -> Field:
    """The raw value, as it is, in the doc (and back in the payload). `unwritable`: why no API request can write
    it (it is exported, never sent, and plan names it when the target's value differs). `late`: as on `custom`.
    `post=False`: POST does not take it; the default `create` PUTs it right after when it is not the default.
    `put=False`: PUT cannot change it; the default `update` leaves it out."""
    return Field("copy", as_=as_, default=default, send=False if unwritable else send, send_as=send_as, read=read,
                 needs=needs, unwritable=unwritable, late=late or False, post=post, put=put)


def skip(reason: str) -> Field:
    """Never in the doc, for `reason` (server bookkeeping, a hydrated copy, the reading user's permission ...)."""
    return Field("skip", reason=reason)


def custom(reason: str, *, as_: str | None = None, late: Callable[[Any], set[str]] | None = None,
           needs: Needs | tuple[Needs, ...] | None = None) -> Field:
    """Read by the kind's own code; `reason` says what it becomes. `as_`: the doc field the kind's code writes it
    as (default the raw field's name; `check` flags any doc field no declaration names). `late`: a function giving
    the addresses in the value that the second pass fills in (a DeferredRefs kind's deferred refs, like
    `ref(late=True)`). `needs`: as on `copy`, of the doc field's value."""
    return Field("custom", reason=reason, as_=as_, late=late or False, needs=needs)


def ref(kind: str, *, as_: str | None = None, default: Any = OMIT, send: Send = True, send_as: str | None = None,
        read: Callable[[dict[str, Any]], Any] | None = None, late: bool = False, many: bool = False,
        needs: Needs | None = None, container: bool = False, under: str = "", put: bool = True) -> Field:
    """A plain id of `kind` → `{"$ref": address}` in the doc; the target's id in the payload (`late`: null while
    the target has none yet, for refs the second pass fills in; `many`: a list of ids; `container`: the doc lives in
    the folder of the doc it names, leaving out the tree folder `under` that one sits in; `put=False`: fixed once
    created, the default `update` leaves it out)."""
    return Field("ref", kind=kind, as_=as_, default=default, send=send, send_as=send_as, read=read, late=late,
                 many=many, needs=needs, container=container or bool(under), under=under, put=put)


def walk(shape: str, *, as_: str | None = None, default: Any = OMIT, send: Send = True, send_as: str | None = None,
         read: Callable[[dict[str, Any]], Any] | None = None, empty: Any = OMIT, late: bool = False) -> Field:
    """A structure where ids hide (one of WALKS), canonicalized and walked into refs; walked back on import.
    `empty`: what a null or empty raw value stands for (default: the shape's empty value; None: null stays null).
    `late` (viz only): the content its click behaviours and link cards point at is filled in by the second pass."""
    if shape not in WALKS:
        raise ValueError(f"walk({shape!r}): one of {', '.join(WALKS)}")
    if late and shape != "viz":
        raise ValueError(f"walk({shape!r}, late=True): only viz settings hold late-bound refs")
    return Field("walk", kind=shape, as_=as_, default=default, send=send, send_as=send_as, read=read,
                 empty=WALKS[shape] if empty is OMIT else empty, late=late)


def each(fields: Mapping[str, Field], *, as_: str | None = None, default: Any = OMIT, send: Send = True,
         send_as: str | None = None, read: Callable[[dict[str, Any]], Any] | None = None,
         sort: Callable[[dict[str, Any]], Any] | None = None,
         more: Callable[[dict[str, Any], dict[str, Any], Any], dict[str, Any] | None] | None = None,
         extras: Mapping[str, type | None] | None = None, writes: tuple[str, ...] = ()) -> Field:
    """A list of nested objects, each declared by `fields` like a kind's raw object: exported item by item (then
    `more`, then sorted by `sort`), sent back item by item, covered by the "no field forgotten" check. `extras`: the
    item fields `more` adds besides the declared ones, with their JSON type (a Python type; None: any), so that
    `check` knows them. `writes`: where the kind's own code writes each item, when it is not the parent's body under
    the field's name: an operation (`"PUT /api/field/{id}"`: a table's field) or a place in its body (`"PUT
    /api/dashboard/{id} dashcards[]"`); `check` judges the items' plain values by those bodies (mbport.body_types.body)."""
    return Field("each", as_=as_, default=default, send=send, send_as=send_as, read=read,
                 nested=Spec(fields, extras=extras, writes=writes), sort=sort, more=more, many=True)


def one(fields: Mapping[str, Field], *, as_: str | None = None, send: Send = True, send_as: str | None = None,
        read: Callable[[dict[str, Any]], Any] | None = None) -> Field:
    """One nested object (an alert's payload), declared by `fields` like `each`'s items."""
    return Field("each", as_=as_, send=send, send_as=send_as, read=read, nested=Spec(fields))


@dataclass(frozen=True)
class Needs:
    """What a target needs to hold a doc whose field has a value `when` accepts (default: any non-empty value):
    Metabase `since` (major, minor) on, and/or an Enterprise token with `premium_feature`. `what` names the content
    in plan's refusal ("library collections"). `droppable`: the object is whole without the field (a table's owner),
    so an import with --skip-unsupported writes it without the field rather than leaving the object out."""

    what: str
    since: tuple[int, int] | None = None
    premium_feature: str | None = None
    when: Callable[[Any], bool] | None = None
    droppable: bool = False

    def applies(self, value: Any) -> bool:
        return self.when(value) if self.when is not None else value not in (None, "", [], {}, False)

    def unmet(self, version: Any, features: dict[str, bool] | None) -> str | None:
        """Why a target of this version (None: unknown) and token features cannot hold it; None: it can."""
        if self.since and version is not None and version < self.since:
            return f"Metabase {version.tag} has no {self.what} (they exist from {self.since[0]}.{self.since[1]} on)"
        if self.premium_feature and features is not None and not features.get(self.premium_feature):
            return f"its token has no {self.premium_feature} feature, which {self.what} need (Metabase Pro or Enterprise)"
        return None


class Spec:
    """A kind's field declarations, with what the engine needs generated from them."""

    def __init__(self, fields: Mapping[str, Field], *, extras: Mapping[str, type | None] | None = None,
                 writes: tuple[str, ...] = ()):
        self.fields = dict(fields)
        self.extras = dict(extras or {})  # doc fields a nested item's `more` adds → their JSON type (None: any)
        self.writes = writes  # the operations a nested item is written with on its own (`each(writes=)`)
        self.by_out: dict[str, tuple[str, Field]] = {
            out: (name, f) for name, f in self.fields.items() if (out := f.out(name))}
        self._with_default = [(out, f) for out, (_, f) in self.by_out.items() if f.default is not OMIT]
        containers = [out for out, (_, f) in self.by_out.items() if f.container]
        if len(containers) > 1:
            raise ValueError(f"ref(container=True) on {', '.join(containers)}: a doc lives in one folder")
        # The doc field whose ref names the container this doc's folder is in (placed before it); None: flat.
        self.container: str | None = containers[0] if containers else None
        self.under = self.by_out[self.container][1].under if self.container else ""
        # payload field → declaration, of the fields POST does not take (`copy(post=False)`)
        self._put_only = {f.send_as or name: f for name, f in self.fields.items() if not f.post}
        self._post_only = {f.send_as or name for name, f in self.fields.items() if not f.put}  # `put=False`

    def folder(self, doc: dict[str, Any], folders: Any) -> tuple[str, ...]:
        """The folder of the container this doc sits in (without its `under` folder); () when flat."""
        folder = folders.folder_of(doc.get(self.container)) if self.container else ()
        return folder[1:] if self.under and folder[:1] == (self.under,) else folder

    def container_ref(self, doc: dict[str, Any]) -> str | None:
        """The address of the container this doc sits in (`ref(container=True)`), if it names one."""
        value = doc.get(self.container) if self.container else None
        return value[REF] if isinstance(value, dict) and is_ref(value) else None

    @property
    def reasons(self) -> dict[str, str]:
        """Raw field → why it is not copied as it is (skip and custom declarations, nested ones as `dashcards[].id`)."""
        out = {name: f.reason for name, f in self.fields.items() if f.how in ("skip", "custom")}
        for name, f in self.fields.items():
            if f.nested is not None:
                out.update({f"{name}{'[]' if f.many else ''}.{n}": r for n, r in f.nested.reasons.items()})
        return out

    def uncovered(self, raw: Iterable[str], volatile: Iterable[str] = ()) -> set[str]:
        """Raw fields neither declared nor known to be volatile: should be empty (serdes' models test). Given the raw
        object itself, the items of `each` fields are checked too (`dashcards[].row`)."""
        missing = set(raw) - set(self.fields) - set(volatile)
        if isinstance(raw, dict):
            for name, f in self.fields.items():
                if f.how == "each" and f.nested is not None:
                    items = f.raw_value(raw, name)
                    items = items if f.many else [items]
                    for item in items if isinstance(items, list) else []:
                        if isinstance(item, Mapping):
                            missing |= {f"{name}{'[]' if f.many else ''}.{n}" for n in f.nested.uncovered(item)}
        return missing

    @cached_property
    def doc_fields(self) -> frozenset[str]:
        """The doc fields these declarations may write: every copy/ref/walk/each field's doc name, and the name of
        every custom field (the kind's own code writes it under that name)."""
        return frozenset(self.by_out) | {f.as_ or name for name, f in self.fields.items() if f.how == "custom"}

    @cached_property
    def known_fields(self) -> frozenset[str]:
        """The doc fields an item of these declarations may hold: `doc_fields` and the `extras` its `more` adds."""
        return self.doc_fields | set(self.extras)

    def unknown(self, doc: Mapping[str, Any], extra: Iterable[str] = ()) -> list[str]:
        """The doc's fields no declaration names (a typo in a hand-edited tree), nested items' as `dashcards[].rwo`
        (what an item's `more` adds is declared with `each(extras=)`); `extra`: top-level doc fields the kind's own
        code writes besides."""
        known = self.known_fields | set(extra)
        found = sorted(k for k in doc if k not in known)
        for out, (_, f) in sorted(self.by_out.items()):
            if f.how != "each" or f.nested is None or out not in doc:
                continue
            items = doc[out] if f.many else [doc[out]]
            for item in items if isinstance(items, list) else []:
                if isinstance(item, Mapping):
                    found += [f"{out}{'[]' if f.many else ''}.{n}" for n in f.nested.unknown(item)
                              if f"{out}{'[]' if f.many else ''}.{n}" not in found]
        return found

    def mistyped(self, doc: Mapping[str, Any], body: body_types.Node | None = None) -> list[tuple[str, str, Any]]:
        """(doc field, what it should be, its value) of each field whose JSON type the declaration gives and the value
        lacks: a ref (an object `{"$ref": ...}`), a walked structure, nested items, a flag with a true/false default,
        a type `each(extras=)` gives; and of each plain copied value whose form as sent has a JSON type none of the
        write bodies (`body`: their merged node, mbport.body_types) takes for its field. A null is any field's "absent"."""
        found = []
        for out, (name, f) in self.by_out.items():
            value = doc.get(out)
            if value is None:
                continue
            expected = _json_type(f)
            if expected is None:
                if f.how == "copy" and body is not None:
                    what = _unsendable(f, name, doc, body_types.field(body, f.send_as or name))
                    found += [(out, what, value)] if what else []
                continue
            what, ok = expected
            if not ok(value):
                found.append((out, what, value))
            elif f.how == "each" and f.nested is not None:
                nested = f.nested.body(body_types.field(body, f.send_as or name) if f.send else None, f.many)
                for item in value if f.many else [value]:
                    found += [(f"{out}{'[]' if f.many else ''}.{n}", w, v) for n, w, v in f.nested.mistyped(item, nested)]
        for out, t in self.extras.items():
            if t is not None and doc.get(out) is not None and not isinstance(doc[out], t):
                found.append((out, _SHAPES[t][0] if t in _SHAPES else f"a {t.__name__}", doc[out]))
        return found

    def body(self, inside: body_types.Node | None, many: bool) -> body_types.Node | None:
        """The node a nested item is judged by: its own operations' bodies (`writes`), else its place in the
        parent's body (`inside`, the items of a list)."""
        if self.writes:
            return body_types.body(self.writes)
        return body_types.items(inside) if many else inside

    def export(self, raw: dict[str, Any], ctx: Any) -> dict[str, Any]:
        """raw → the doc fields the declarations give (the kind's own code adds the rest)."""
        return self._compiled[0](raw, ctx)

    def export_item(self, raw: dict[str, Any], ctx: Any, more: Any = None) -> dict[str, Any] | None:
        """A nested raw object → its doc (`more` adds what the declarations cannot say); defaults and nulls left out."""
        if more is None:
            return self._compiled[1](raw, ctx)
        doc = more(self._compiled[0](raw, ctx), raw, ctx)
        return None if doc is None else {k: v for k, v in self.omit_defaults(doc).items() if v is not None}

    @cached_property
    def _compiled(self) -> tuple[Callable[[dict[str, Any], Any], dict[str, Any]],
                                 Callable[[dict[str, Any], Any], dict[str, Any]]]:
        """(export, export_item without `more`), each a function generated from the declarations once: export runs
        for every object and nested item (bench-L: 7,500 docs, 15,000 dashcards and fields), and walking the
        declarations for each cost more than the copies they make."""
        return _compile(self, item=False), _compile(self, item=True)

    def omit_defaults(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The doc without the fields that hold their declared default."""
        for out, f in self._with_default:  # a field without a default never holds it
            if out in doc and f.is_default(doc[out]):
                del doc[out]
        return doc

    def payload(self, doc: dict[str, Any], resolve: Any, walker: Walker | None = None) -> dict[str, Any]:
        """The API body of every sent field (refs resolved, structures walked back into target ids)."""
        walker = walker or resolve.walker()
        body: dict[str, Any] = {}
        for name, f in self.fields.items():
            value = f.payload(doc, name, resolve, walker)
            if value is not OMIT:
                body[f.send_as or name] = value
        return body

    def post_body(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A create's POST body: the payload without the fields POST does not take (`post=False`)."""
        return {k: v for k, v in payload.items() if k not in self._put_only}

    def put_after_post(self, payload: dict[str, Any]) -> dict[str, Any]:
        """What a create PUTs right after its POST: the `post=False` fields not at their default (none: a true value)."""
        put = self._put_only
        return {k: v for k, v in payload.items() if k in put and (v if put[k].default is OMIT else not put[k].is_default(v))}

    def put_body(self, payload: dict[str, Any]) -> dict[str, Any]:
        """An update's PUT body: the payload without the fields PUT cannot change (`put=False`)."""
        return {k: v for k, v in payload.items() if k not in self._post_only}

    def late_refs(self, doc: dict[str, Any]) -> set[str]:
        """The addresses of the doc's `late` refs (nested items' too): a DeferredRefs kind's deferred refs."""
        found: set[str] = set()
        for name, f in self.fields.items():
            if not f.late and f.nested is None:
                continue
            value = doc.get(f.out(name) or f.as_ or name)  # a custom field: the doc field it is written as
            if value is None:
                continue
            if f.how == "ref" and f.late:
                found |= {v[REF] for v in (value if f.many else [value]) if is_ref(v)}
            elif f.how == "walk" and f.late:
                found |= late_bound_refs(value)
            elif f.how == "each" and f.nested is not None:
                for item in value if f.many else [value]:
                    if isinstance(item, dict):
                        found |= f.nested.late_refs(item)
            elif callable(f.late):
                found |= f.late(value)
        return found

    def nested(self, name: str) -> Spec:
        """The item declarations of the `each` field `name`."""
        nested = self.fields[name].nested
        if nested is None:
            raise KeyError(f"{name} is not declared with each()")
        return nested

    def shape(self, leave_out: Iterable[str]) -> Shape:
        """How to decode a raw object of these declarations leaving out the raw fields named (`param_fields`, nested
        ones as `dashcards[].card`): each must be declared `skip`, and no code may read it (a `skip` field a `read`
        function reads, such as `ordered_cards`, must stay). Every declared field is kept; an answer with a field no
        declaration names is decoded whole (mbport.client.Shape)."""
        top: list[str] = []
        nested: dict[str, list[str]] = {}
        for name in leave_out:
            head, sep, rest = name.partition("[].")
            if sep:
                nested.setdefault(head, []).append(rest)
            elif getattr(self.fields.get(name), "how", None) != "skip":
                raise ValueError(f"only a field declared skip() can be left out while decoding: {name!r}")
            else:
                top.append(name)
        return Shape(self.fields, top, {head: self.nested(head).shape(rest) for head, rest in nested.items()})

    def unmet_needs(self, doc: dict[str, Any], version: Any, features: dict[str, bool] | None) -> str | None:
        """Why a target cannot hold this doc because of a field it holds (`needs`, not droppable); None: it can."""
        return next((why for _, why, droppable in self._unmet(doc, version, features) if not droppable), None)

    def unmet_parts(self, doc: dict[str, Any], version: Any, features: dict[str, bool] | None) -> dict[str, str]:
        """Doc field → why a target cannot hold it, of the fields the doc is whole without (`Needs(droppable=True)`)."""
        return {out: why for out, why, droppable in self._unmet(doc, version, features) if droppable}

    def _unmet(self, doc: dict[str, Any], version: Any, features: dict[str, bool] | None) -> Iterable[tuple[str, str, bool]]:
        for out, f in self._with_needs:
            for needs in (f.needs if isinstance(f.needs, tuple) else (f.needs,)) if out in doc else ():
                reason = needs.unmet(version, features) if needs is not None and needs.applies(doc[out]) else None
                if reason:
                    yield out, reason, bool(needs and needs.droppable)

    @cached_property
    def _with_needs(self) -> list[tuple[str, Field]]:
        """(doc field, declaration) of the fields declared with `needs` (custom ones too)."""
        return [(f.out(name) or f.as_ or name, f) for name, f in self.fields.items() if f.needs is not None]

    @cached_property
    def unwritable(self) -> dict[str, str]:
        """Doc field → why no API request writes it (plan asks for every field of every doc it compares)."""
        return {out: f.unwritable for out, (_, f) in self.by_out.items() if f.unwritable}

    def unrestorable(self, doc: dict[str, Any], current: dict[str, Any] | None) -> list[str]:
        """`field (why)` of each unwritable field whose tree value the target (`current`, None: an object to be
        created) will not hold."""
        out = []
        for name, why in self.unwritable.items():
            wanted = doc.get(name)
            if wanted in (None, [], {}) or (current is not None and current.get(name) == wanted):
                continue
            out.append(f"{name} ({why})")
        return out

    def field_of(self, out: str) -> tuple[str, Field] | None:
        """(raw name, declaration) of the doc field `out`."""
        return self.by_out.get(out)


def _compile(spec: Spec, item: bool) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The function `raw, ctx → doc` that `spec`'s declarations describe, as Python source compiled once: each field
    read, converted (ref, walk, nested items) and stored in its own lines, the declaration's options (read, default,
    sort) fixed in the code instead of looked up for every object. `item`: defaults and nulls are left out as the
    fields are stored (an `each` item's doc, without `more`); else every field is stored (the kind's own code and
    Kind.normalize come after)."""
    env: dict[str, Any] = {"canonical_query": canonical_query}
    lines = ["def export(raw, ctx):", "    doc = {}"]
    if any(f.how == "ref" for _, _, f in _exported(spec)):
        lines.append("    ref = ctx.ref")
    if any(f.how == "walk" for _, _, f in _exported(spec)):
        lines.append("    walker = ctx.walker")  # one per object, not one per structure walked
    outs = [out for _, out, _ in _exported(spec)]
    if item and len(set(outs)) < len(outs):  # two fields into one doc field: the last one written decides
        generic = _compile(spec, item=False)
        return lambda raw, ctx: {k: v for k, v in spec.omit_defaults(generic(raw, ctx)).items() if v is not None}
    for i, (name, out, f) in enumerate(_exported(spec)):
        env[f"f{i}"] = f
        key, dest = repr(name), f"doc[{out!r}]"
        if f.read is not None:
            env[f"read{i}"] = f.read
            get = [f"v = read{i}(raw)"]
        elif f.how == "copy":  # an absent field stays absent (a null one is dropped with every top-level null)
            get = [f"if {key} in raw:", f"    v = raw[{key}]"]
        else:
            get = [f"v = raw[{key}] if {key} in raw else None"]
        body: list[str] = []
        if f.how == "ref":
            # (no call for a null one: most cards are on no dashboard and in no document)
            body.append(f"v = [ref({f.kind!r}, x) for x in v or []]" if f.many else
                        f"if v is not None: v = ref({f.kind!r}, v)")
        elif f.how == "walk":
            body += _walk_lines(f, i, env)
        elif f.how == "each":
            assert f.nested is not None
            env[f"item{i}"] = (f.nested._compiled[1] if f.more is None
                               else lambda raw, ctx, nested=f.nested, more=f.more: nested.export_item(raw, ctx, more))
            if not f.many:  # one()
                body.append(f"v = item{i}(v, ctx) if isinstance(v, dict) else None")
            else:
                body.append(f"v = [item{i}(x, ctx) for x in v or []]")
                if f.more is not None:  # `more` may leave an item out
                    body.append("v = [x for x in v if x is not None]")
                if f.sort is not None:
                    env[f"sort{i}"] = f.sort
                    body.append(f"v = sorted(v, key=sort{i})")
        if not item:
            body.append(f"{dest} = v")
        elif f.default is FALSY:
            body += ["if v:", f"    {dest} = v"]
        elif f.default is OMIT or f.default is None:
            body += ["if v is not None:", f"    {dest} = v"]
        else:
            env[f"default{i}"] = f.default
            body += [f"if v is not None and not v == default{i}:", f"    {dest} = v"]
        indent = "        " if get[0].startswith("if ") else "    "
        lines += ["    " + line for line in get] + [indent + line for line in body]
    lines.append("    return doc")
    exec("\n".join(lines), env)  # noqa: S102 - source made above from the declarations alone
    return env["export"]


def _walk_lines(f: Field, i: int, env: dict[str, Any]) -> list[str]:
    """The lines of `_compile` that make a walked field's doc value out of its raw value `v`: canonical, its ids
    turned into refs by `walker`."""
    if f.kind == "query":
        walk = "walker.canonical_query(v)"  # the canonical copy and the walk in one pass
    elif f.kind in CANONICAL:
        walk = f"walker.canonical({f.kind!r}, v)"
    elif f.kind == "template_tags":
        walk = 'walker.template_tags(canonical_query({"template-tags": v})["template-tags"])'
    else:
        walk = f"walker.{f.kind}(v)"
    test = "isinstance(v, str)" if f.kind == "sql" else "v is not None"
    if f.empty is None:  # `empty=None`: null stays null
        return [f"if {test}: v = {walk}"]
    if f.empty:  # (an empty value standing for a structure that is not empty: walked)
        env[f"empty{i}"] = f.empty
        return [f"if not v: v = empty{i}", f"if {test}: v = {walk}"]
    # Null and any empty value mean the empty structure, and the walk of an empty structure is a new empty one (a
    # card's parameters and mappings are mostly empty: no walk set up for them).
    return ["if not v:", f"    v = {type(f.empty)()!r}", f"elif {test}:", f"    v = {walk}"]


def _exported(spec: Spec) -> list[tuple[str, str, Field]]:
    """(raw name, doc name, declaration) of the fields a doc holds, in declaration order."""
    return [(name, out, f) for name, f in spec.fields.items() if (out := f.out(name)) is not None]


_SHAPES: dict[type, tuple[str, Callable[[Any], bool]]] = {
    dict: ("a JSON object", lambda v: isinstance(v, dict)), list: ("a JSON list", lambda v: isinstance(v, list)),
    str: ("a string", lambda v: isinstance(v, str)), bool: ("true or false", lambda v: isinstance(v, bool))}


def _unsendable(f: Field, name: str, doc: Mapping[str, Any], node: body_types.Node | None) -> str | None:
    """What a plain copied value must be, when the form its declaration sends has a JSON type the body field (`node`)
    does not take; None: it is taken (or nothing says)."""
    if node is None or "t" not in node:
        return None
    try:
        sent = f.payload(doc if isinstance(doc, dict) else dict(doc), name, None, cast(Walker, None))  # a copy reads neither
    except (TypeError, ValueError, AttributeError, KeyError):  # its `send` function cannot shape it either
        return body_types.describe(node)
    return None if sent is OMIT or body_types.accepts(node, sent) else body_types.describe(node)


def _ref_like(value: Any) -> bool:
    return value is None or isinstance(value, bool) or is_ref(value)


def _json_type(f: Field) -> tuple[str, Callable[[Any], bool]] | None:
    """What JSON value a declaration's doc field holds, when the declaration says: (its name, a test)."""
    if f.how == "ref":  # a boolean passes through export as it is (ExportContext.ref)
        return ("a list of refs", lambda v: isinstance(v, list) and all(_ref_like(x) for x in v)) if f.many else \
            ('a ref {"$ref": "<kind>/<key>"}', _ref_like)
    if f.how == "each":
        if f.many:
            return "a JSON list of objects", lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v)
        return _SHAPES[dict]
    if f.how == "walk" and f.kind != "sql":  # a native query's text; its null/empty forms vary by release
        return _SHAPES[type(WALKS[f.kind or ""])]
    if f.how == "copy" and isinstance(f.default, bool):
        return _SHAPES[bool]
    return None


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Match:
    """Which doc fields identify an object on the target (a natural key), scoped by a parent ref (`within`).

    `fold`: doc field → a function applied to its value on both sides (case, an absent value's meaning);
    `raw`: doc field → a function reading it off a target raw object, when no single raw field holds it;
    `address`: the same fields (plain values, or the referenced doc's key) form the doc's address; a string is the
    one address key of a kind with a single doc per instance.
    """

    fields: tuple[str, ...] = ()
    fold: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    raw: dict[str, Callable[[dict[str, Any]], Any]] = field(default_factory=dict)
    address: bool | str = False

    def __init__(self, *fields: str, within: str | None = None, fold: dict[str, Callable[[Any], Any]] | None = None,
                 raw: dict[str, Callable[[dict[str, Any]], Any]] | None = None, address: bool | str = False):
        object.__setattr__(self, "fields", ((within,) if within else ()) + fields)
        object.__setattr__(self, "fold", dict(fold or {}))
        object.__setattr__(self, "raw", dict(raw or {}))
        object.__setattr__(self, "address", address)

    def doc_key(self, spec: Spec, doc: dict[str, Any], resolve: Any) -> tuple:
        out = []
        for name in self.fields:
            value = doc.get(name)
            declared = spec.field_of(name)
            if declared is not None and declared[1].how == "ref":
                value = resolve(value)
            out.append(self.fold.get(name, _same)(value))
        return tuple(out)

    def raw_key(self, spec: Spec, raw: dict[str, Any]) -> tuple:
        out = []
        for name in self.fields:
            if name in self.raw:
                value = self.raw[name](raw)
            else:
                declared = spec.field_of(name)
                raw_name, f = declared if declared is not None else (name, None)
                value = f.read(raw) if f is not None and f.read is not None else raw.get(raw_name)
            out.append(self.fold.get(name, _same)(value))
        return tuple(out)

    def key_parts(self, spec: Spec, raw_or_doc: dict[str, Any]) -> tuple:
        """The address parts of a doc (a ref field gives the referenced doc's key parts) or of a raw object."""
        if isinstance(self.address, str):
            return (self.address,)
        out: list[Any] = []
        for name in self.fields:
            value = raw_or_doc.get(name)
            if isinstance(value, dict) and "$ref" in value:
                out.extend(split_address(value["$ref"])[1])
            else:
                out.append(self.fold.get(name, _same)(value))
        return tuple(out)


COMMON_REASONS = {
    "created_at": "server timestamp",
    "updated_at": "server timestamp",
    "can_write": "the reading user's permission",
    "can_delete": "the reading user's permission",
    "can_restore": "the reading user's permission",
    "creator_id": "who created it; not content",
    "creator": "hydrated creator",
    "is_remote_synced": "EE remote-sync bookkeeping",
    "entity_id_translated": "hydration",
    "dependency_analysis_version": "server bookkeeping",
}

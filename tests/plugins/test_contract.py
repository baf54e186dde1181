"""The contract every plugin meets, checked on the realistic seeds (serdes' "no field forgotten" test).

The seeds are `enterprise` on an emulated Enterprise build (the OSS `sample` instance plus the objects only a premium
token allows: sandboxes), `current` on a 0.65 Enterprise build (the kinds only a current instance holds) and
`enterprise` on 0.50 (legacy metrics, pulse-shaped alerts), so that every kind has objects to check.
"""

from __future__ import annotations

import pytest

from mbport.capabilities import contains, skipped, stages
from mbport.export import build_index, extract, normalize
from mbport.import_options import ImportOptions
from mbport.kind import ExportContext
from mbport.refs import address_kind
from mbport.resolve import Resolver
from mbport.testing import numeric_ids_left, uncovered_fields
from tests.e2e.conftest import registry, seeded_current, seeded_ee, seeded_old  # noqa: F401  (fixtures)

SEEDS = ("seeded_ee", "seeded_current", "seeded_old")


def _exported(request, seed: str):
    registry_ = request.getfixturevalue("registry")
    from mbport.client import MetabaseClient

    emu, session = request.getfixturevalue(seed)
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as client:
        ctx = ExportContext()
        extract(client, registry_, sorted(registry_.kinds), ctx)
        build_index(registry_, ctx)
        docs = normalize(registry_, ctx)
    return registry_, ctx, docs


@pytest.fixture(scope="module", params=SEEDS)
def exported_ctx(request):
    return _exported(request, request.param)


def test_every_kind_has_objects_in_the_seeds(request):
    registry_ = request.getfixturevalue("registry")
    held = {k for seed in SEEDS for k, raws in _exported(request, seed)[1].raw.items() if raws}
    empty = sorted(set(registry_.kinds) - held)
    assert not empty, f"none of the seeds has objects of: {empty}"


def test_every_raw_field_is_kept_translated_or_dropped_with_a_reason(exported_ctx):
    registry_, ctx, _ = exported_ctx
    problems = []
    for name, raws in ctx.raw.items():
        kind = registry_[name]
        for raw in raws:
            for field in sorted(uncovered_fields(kind, raw)):
                problems.append(f"{name}.{field}")
    assert not sorted(set(problems)), sorted(set(problems))
    for kind in registry_.kinds.values():
        assert all(reason.strip() for reason in kind.spec.reasons.values()), kind.name


def test_no_numeric_id_left_in_any_doc(exported_ctx):
    _, _, docs = exported_ctx
    left = {addr: numeric_ids_left(doc) for addr, doc in docs.items()}
    assert not {a: p for a, p in left.items() if p}


def test_every_id_the_payload_needs_is_declared_by_refs(exported_ctx):
    """payload() must not need an address that refs() does not declare (the import graph relies on it)."""
    registry_, _, docs = exported_ctx
    failures = []
    for addr, doc in sorted(docs.items()):
        kind = registry_[address_kind(addr)]
        if skipped(kind, ImportOptions()) is not None:
            continue
        declared = kind.refs(doc) | contains(kind, doc)
        resolver = Resolver({a: 1000 + i for i, a in enumerate(sorted(declared))}, {})
        for stage in stages(kind):
            try:
                kind.payload(doc, resolver, stage)
            except Exception as exc:  # an undeclared ref, or a payload that cannot be built from the doc
                failures.append(f"{addr} [{stage}]: {exc}")
    assert not failures, failures[:10]

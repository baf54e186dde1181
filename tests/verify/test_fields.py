"""Every field a GET returns is either compared or in the one list of volatile fields (with its reason), on every
seed and version profile; an unknown field and an integer nobody can classify are reported, never ignored."""

from __future__ import annotations

import pytest

from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap, seeds
from mbport.verify import run_verify
from mbport.verify.canon import Canon, Tokens
from mbport.verify.fields import VOLATILE, VOLATILE_IN
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.plugins.test_import_content import build_content


def instance(profile, seed, premium=None) -> MetabaseClient:
    emu = Emulator(profile, premium_features=premium)
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    api = MetabaseClient("http://a.test", session_token=session, transport=emu.transport())
    if seed == "content":  # the import tests' content: the sample seed needs measures (>= 0.57)
        build_content(api)
    else:
        seeds.load(emu, seed, session)
    emu.wait_idle()
    return api


@pytest.mark.parametrize(("profile", "seed", "premium"), [
    (None, "sample", None), ("0.56", "content", None), ("0.63", "sample", None), (None, "enterprise", "all"),
    (None, "handmade", None),
])
def test_every_field_is_compared_or_listed_and_an_instance_equals_itself(profile, seed, premium):
    api = instance(profile, seed, premium)
    result = run_verify(api, api, queries=False, include_personal=True)
    assert result.unknown_fields == set(), "fields neither compared nor listed in mbport/verify/fields.py"
    assert [d.line() for d in result.differences] == []
    assert result.counts["fields"].paired > 0 and result.counts["groups"].paired > 0


def test_an_unknown_field_and_an_unclassified_integer_are_reported():
    tokens = Tokens("source")
    out = Canon(tokens, "cards", "card 'X'").doc({"name": "X", "brand_new": "x", "mystery_count": 12,
                                                   "visualization_settings": {"graph.series_id": 4}})
    assert ("cards", "brand_new") in tokens.unknown_fields and out["brand_new"] == "x"
    assert ("card 'X'", "mystery_count", 12) in tokens.unclassified
    assert ("card 'X'", "visualization_settings.graph.series_id", 4) in tokens.unclassified


def test_every_volatile_field_says_why():
    reasons = list(VOLATILE.values()) + [r for kind in VOLATILE_IN.values() for r in kind.values()]
    assert all(isinstance(r, str) and len(r) > 10 for r in reasons)


def test_a_fields_dimensions_read_as_its_remapping_a_cards_as_dimensions():
    """A field's `dimensions` are its remapping; a metric card's are its dimensions (0.60+), which verify called a
    "remapping" too."""
    from mbport.verify.canon import Difference

    field = Difference("fields", "field 'orders.product_id'", "dimensions", [1], None, "missing on target")
    card = Difference("cards", "card 'Total fare'", "dimensions", [1], None, "missing on target")
    assert field.line().startswith("field 'orders.product_id': remapping: ")
    assert card.line().startswith("card 'Total fare': dimensions: "), card.line()


def test_a_target_with_transforms_turned_off_is_said_so():
    """0.65 Enterprise has transforms, turned off until `transforms-enabled`: verify's note said the target does not
    have them because it is "an older version, or an open-source build"."""
    def client(profile: str) -> MetabaseClient:
        emu = Emulator(profile, premium_features="all")
        session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
        return MetabaseClient(f"http://v{profile.replace('.', '')}.test", session_token=session,
                              transport=emu.transport())

    with client("0.61") as source, client("0.65") as target:
        notes = run_verify(source, target, queries=False).notes
    said = [n for n in notes if n.startswith("transform-tags:")]
    assert said and "transforms-enabled" in said[0] and "older version" not in said[0], notes

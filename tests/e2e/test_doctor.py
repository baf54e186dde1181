"""`mbport doctor`: one line per check, a fix for every failure, exit 1 when one fails."""

from __future__ import annotations

import json

import httpx
import pytest

from mbport import client as client_module
from mbport.emulator import Emulator, bootstrap
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.e2e.instances import Instance, mbport, routed_instances

ADMIN_KEY = "mb_ADMINdoctorkey0001"
ANALYST_KEY = "mb_ANALYSTdoctorkey01"


@pytest.fixture
def instances(monkeypatch):
    monkeypatch.setattr("mbport.client._sleep", lambda s: None)
    return routed_instances(monkeypatch)


@pytest.fixture
def seeded(instances):
    inst = instances.add("doc", seed="sample")
    bootstrap.add_api_key(inst.emu, inst.session, "doctor admin", key=ADMIN_KEY)
    bootstrap.add_api_key(inst.emu, inst.session, "doctor analyst", group="Analysts", key=ANALYST_KEY)
    return inst


def lines(run) -> dict[str, str]:
    """check name → its line (and fix line, if any)."""
    out: dict[str, str] = {}
    last = None
    for line in run.out.splitlines():
        if line.startswith("["):
            last = line.split("] ", 1)[1].split(":", 1)[0]
            out[last] = line
        elif line.strip().startswith("fix:") and last:
            out[last] += "\n" + line.strip()
    return out


def test_an_admin_key_passes_every_check(seeded):
    run = mbport("doctor", "--url", seeded.url, "--api-key", ADMIN_KEY)
    assert run.code == 0, run.out + run.err
    checks = lines(run)
    assert list(checks) == ["reachable", "TLS", "version", "kinds", "known quirks", "authentication", "admin rights",
                            "API key scope", "permission graphs"]
    assert all(line.startswith("[ok  ]") for line in checks.values())
    assert "key 'doctor admin' in group Administrators" in checks["API key scope"]
    assert "Metabase v0.61.4: queries are MBQL 5" in checks["version"]
    assert ADMIN_KEY not in run.out + run.err


def test_a_key_of_another_group_fails_with_the_fix(seeded):
    run = mbport("doctor", "--url", seeded.url, "--api-key", ANALYST_KEY)
    checks = lines(run)
    assert run.code == 1 and "checks failed" in run.err
    assert checks["authentication"].startswith("[ok  ]")
    assert checks["admin rights"].startswith("[FAIL]") and "fix: use an API key of the Administrators group" in checks["admin rights"]
    assert checks["API key scope"].startswith("[FAIL]") and "fix:" in checks["API key scope"]
    assert checks["permission graphs"].startswith("[FAIL]")


def test_a_wrong_key_and_an_unreachable_host(seeded):
    wrong = mbport("doctor", "--url", seeded.url, "--api-key", "mb_notthekeynotthekey")
    checks = lines(wrong)
    assert wrong.code == 1 and checks["authentication"].startswith("[FAIL] authentication: the API key from --api-key was refused (401)")
    assert "fix: check the key" in checks["authentication"] and checks["admin rights"].startswith("[skip]")
    assert "mb_notthekeynotthekey" not in wrong.out + wrong.err
    gone = mbport("doctor", "--url", "http://127.0.0.1:9", "--api-key", ADMIN_KEY)
    checks = lines(gone)
    assert gone.code == 1 and checks["reachable"].startswith("[FAIL] reachable: cannot connect")
    assert "fix: check the URL" in checks["reachable"] and checks["authentication"].startswith("[skip]")


def test_a_url_that_is_not_a_metabase(monkeypatch):
    real = client_module.MetabaseClient.__init__

    def html_site(self, url, *a, **kw):
        kw["transport"] = httpx.MockTransport(lambda req: httpx.Response(404, html="<html><body>nope</body></html>"))
        real(self, url, *a, **kw)

    monkeypatch.setattr(client_module.MetabaseClient, "__init__", html_site)
    run = mbport("doctor", "--url", "http://intranet.test/metabase", "--api-key", ADMIN_KEY)
    checks = lines(run)
    assert run.code == 1 and "answered HTTP 404, but not like a Metabase" in checks["reachable"]
    assert "fix: give Metabase's address as you open it in a browser, with the path it is served under" in checks["reachable"]


@pytest.mark.parametrize("profile, meaning", [
    ("0.56", "queries are MBQL 4 (< 0.57)"),
    ("0.63", "native template tags come as lists (≥ 0.63)"),
])
def test_the_version_line_says_what_it_means_for_mbport(instances, profile, meaning):
    emu = Emulator(profile)
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    inst = Instance(f"http://v{profile.replace('.', '')}.test", emu, session)
    instances.by_url[inst.url] = inst
    run = mbport("--json", "doctor", "--url", inst.url, "--username", ADMIN_EMAIL, "--password", ADMIN_PASSWORD)
    events = [json.loads(line) for line in run.out.splitlines()]
    version = next(e for e in events if e["type"] == "check" and e["name"] == "version")
    assert run.code == 0 and meaning in version["detail"]
    auth = next(e for e in events if e["type"] == "check" and e["name"] == "authentication")
    assert "(username and password)" in auth["detail"]
    assert events[-1]["type"] == "summary" and events[-1]["failed"] == []


def test_version_meaning_of_old_releases():
    from mbport.client import MetabaseVersion
    from mbport.doctor import version_meaning

    notes = " ".join(version_meaning(MetabaseVersion.parse("v1.53.2")))
    assert "MBQL 4" in notes and "alerts are written through /api/alert" in notes and "Enterprise" in notes


def test_doctor_uses_a_named_instance(seeded, tmp_path, monkeypatch):
    (tmp_path / "mbport.toml").write_text(f'[instances.prod]\nurl = "{seeded.url}"\napi_key_env = "DOC_KEY"\n')
    monkeypatch.delenv("METABASE_API_KEY", raising=False)
    monkeypatch.delenv("METABASE_SITE_URL", raising=False)
    monkeypatch.setenv("DOC_KEY", ADMIN_KEY)
    run = mbport("--config", tmp_path / "mbport.toml", "doctor", "--instance", "prod")
    assert run.code == 0 and "key 'doctor admin'" in run.out
    monkeypatch.delenv("DOC_KEY")
    unset = mbport("--config", tmp_path / "mbport.toml", "doctor", "--instance", "prod")
    assert unset.code == 2 and "DOC_KEY" in unset.err


@pytest.mark.parametrize(("profile", "premium", "not_here", "quirk"), [
    ("0.56", None, ["measures (Metabase v0.56.13 has no measures (they exist from 0.59 on))"],
     "a tree exported from 0.57 or later (MBQL 5) is written as MBQL 4"),
    ("0.61", None, [], "a classic query carrying them is stored EMPTY"),
    ("0.62", None, [], "a classic query carrying MBQL 5 field-filter refs is refused"),
    ("0.65", "all", [], "template tags are a list"),
])
def test_doctor_lists_the_kinds_this_version_holds_and_the_quirks_mbport_works_around(instances, profile, premium,
                                                                                   not_here, quirk):
    emu = Emulator(profile, premium_features=premium)
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    inst = Instance(f"http://k{profile.replace('.', '')}.test", emu, session)
    instances.by_url[inst.url] = inst
    run = mbport("doctor", "--url", inst.url, "--username", ADMIN_EMAIL, "--password", ADMIN_PASSWORD)
    checks = lines(run)
    assert run.code == 0, run.out + run.err
    kinds = checks["kinds"]
    assert kinds.startswith("[ok  ] kinds: ") and all(n in kinds for n in not_here)
    if profile == "0.56":
        assert "documents" not in kinds or "no documents" in kinds  # whatever kinds exist, each is named with why
    if premium is None:
        assert "token has no" in kinds  # an OSS build: the premium kinds are named with the feature they need
    assert quirk in checks["known quirks"]
    if profile != "0.61":
        assert "stored EMPTY" not in checks["known quirks"]

"""A Metabase served under a path (https://example.com/metabase, behind a proxy): every URL option and variable
takes it, and a URL without the path says what is missing."""

from __future__ import annotations

import pytest

from mbport.client import MetabaseClient
from tests.e2e.instances import mbport, routed_instances, write_secrets
from tests.served import serve, stop

API_KEY = "mb_BaSePaThKeY0123456789abcdefghijklmnop"


@pytest.fixture
def instances(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    for var in ("METABASE_SITE_URL", "METABASE_API_KEY", "METABASE_SESSION_TOKEN", "METABASE_USERNAME",
                "METABASE_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    return routed_instances(monkeypatch)


def test_every_url_option_and_variable_takes_a_base_path(instances, tmp_path, monkeypatch):
    source = instances.add("prod", seed="sample", base_path="/metabase")
    target = instances.add("staging", base_path="/tools/metabase")
    assert source.url == "http://prod.test/metabase"
    tree = tmp_path / "tree"
    exported = mbport("export", "--url", source.url + "/", "--session-token", source.session, "--out", tree)
    assert exported.code == 0, exported.err
    assert (tree / "cards").is_dir()

    monkeypatch.setenv("METABASE_SITE_URL", target.url)
    monkeypatch.setenv("METABASE_SESSION_TOKEN", target.session)
    secrets = write_secrets(tmp_path / "secrets.json")
    planned = mbport("plan", tree, "--secrets", secrets)
    assert planned.code == 0 and "to create" in planned.out, planned.err
    monkeypatch.delenv("METABASE_SITE_URL")
    monkeypatch.delenv("METABASE_SESSION_TOKEN")

    config = tmp_path / "mbport.toml"
    config.write_text(f'[instances.staging]\nurl = "{target.url}"\nsession_token_env = "STAGING_TOKEN"\n')
    monkeypatch.setenv("STAGING_TOKEN", target.session)
    imported = mbport("--config", config, "import", tree, "--instance", "staging", "--secrets", secrets)
    assert imported.code == 0, imported.err
    with target.api() as api:
        assert "Revenue by month" in [c["name"] for c in api.get("/api/card").json()]
    doctor = mbport("--config", config, "doctor", "--instance", "staging")
    assert doctor.code in (0, 3) and "answers as a Metabase" in doctor.out, doctor.out + doctor.err

    migrated = mbport("migrate", "--from", source.url, "--from-session-token", source.session, "--to", target.url,
                      "--to-session-token", target.session, "--secrets", secrets)
    assert migrated.code == 0, migrated.err


def test_a_url_without_the_base_path_says_so(instances, tmp_path, monkeypatch):
    """Only the proxy answers outside the path (its 404 page): the error names the fix, not just `404`."""
    source = instances.add("prod", seed="sample", base_path="/metabase")
    instances.by_url["http://prod.test"] = source  # the same server, asked at its root
    monkeypatch.setattr("mbport.client._sleep", lambda s: None)
    run = mbport("export", "--url", "http://prod.test", "--session-token", source.session, "--out", tmp_path / "t")
    assert run.code == 1
    error, hint = run.err.splitlines()
    assert error.startswith("Error: GET /api/") and " 404 " in error
    assert hint.startswith("Hint: no Metabase API at this URL:") and "https://example.com/metabase" in hint
    doctor = mbport("doctor", "--url", "http://prod.test", "--session-token", source.session)
    assert doctor.code == 1 and "served under if any" in doctor.out, doctor.out


def test_a_plain_not_found_on_a_path_every_metabase_serves_has_the_hint():
    """A proxy that answers `Not found.` in plain text (no HTML page) on /api/session/properties."""
    import httpx

    transport = httpx.MockTransport(lambda request: httpx.Response(404, text="Not found."))
    with MetabaseClient("http://example.test", api_key=API_KEY, transport=transport) as api:
        with pytest.raises(Exception) as info:
            api.version  # noqa: B018
    assert "404 Not found." in str(info.value) and "with the path it is served under" in info.value.hint


def test_a_served_emulator_under_a_path(tmp_path):
    proc, url = serve(tmp_path / "serve.log", "--seed", "sample", "--api-key", API_KEY, base_path="/metabase")
    try:
        assert url.endswith("/metabase")
        assert "listening on " + url in (tmp_path / "serve.log").read_text()
        run = mbport("export", "--url", url, "--api-key", API_KEY, "--out", tmp_path / "tree")
        assert run.code == 0, run.err
        assert (tmp_path / "tree" / "dashboards").is_dir()
        import httpx

        outside = httpx.get(url.removesuffix("/metabase") + "/api/session/properties", timeout=5)
        assert outside.status_code == 404 and outside.headers["content-type"].startswith("text/html")
    finally:
        stop(proc)

"""mbport.toml: named instances, secrets refused, and precedence flags > environment > file."""

from __future__ import annotations

import pytest

from mbport import config
from mbport.errors import UsageError
from tests.e2e.instances import mbport, routed_instances

GOOD = """
concurrency = 6

[instances.prod]
url = "http://prod.test"
api_key_env = "PROD_MB_KEY"

[instances.staging]
url = "http://staging.test"
username_env = "STAGING_USER"
password_env = "STAGING_PASSWORD"
concurrency = 2
secrets_file = "staging-secrets.json"

[instances.staging.map_database]
"Warehouse" = "Warehouse (staging)"
"""


def write(tmp_path, text):
    path = tmp_path / "mbport.toml"
    path.write_text(text)
    return path


def test_instances_are_read_with_mappings_and_secrets_sources(tmp_path):
    cfg = config.load(write(tmp_path, GOOD))
    assert cfg.concurrency == 6 and sorted(cfg.instances) == ["prod", "staging"]
    staging = cfg.instance("staging")
    assert staging.url == "http://staging.test" and staging.concurrency == 2
    assert staging.map_database == {"Warehouse": "Warehouse (staging)"}
    assert staging.secrets_file == tmp_path / "staging-secrets.json"
    assert staging.credentials({"STAGING_USER": "a@b.c", "STAGING_PASSWORD": "pw-1234"}) == {
        "api_key": None, "username": "a@b.c", "password": "pw-1234", "session_token": None}
    assert config.find(None, cwd=tmp_path) == tmp_path / "mbport.toml"
    assert config.find(None, cwd=tmp_path / "elsewhere") is None


@pytest.mark.parametrize("text, where", [
    ('[instances.prod]\nurl = "http://x"\napi_key = "abc"\n', "instances.prod.api_key"),
    ('[instances.prod]\nurl = "http://x"\npassword = "hunter22"\n', "instances.prod.password"),
    ('[instances.prod]\nurl = "http://x"\nsession_token = "0f5e"\n', "instances.prod.session_token"),
    ('[instances.prod]\nurl = "http://x"\napi_key_env = "mb_AbCdEfGhIjKlMnOp"\n', "instances.prod.api_key_env"),
    ('[instances.prod]\nurl = "http://x"\n[instances.prod.map_database]\nW = "mb_AbCdEfGhIjKlMnOp"\n', "map_database.W"),
])
def test_a_secret_written_in_the_file_is_refused_with_an_explanation(tmp_path, text, where):
    with pytest.raises(UsageError) as info:
        config.load(write(tmp_path, text))
    assert where in str(info.value) and "refused" in str(info.value)
    assert "_env" in info.value.hint
    assert "abc" not in str(info.value) and "hunter22" not in str(info.value) and "AbCd" not in str(info.value)


@pytest.mark.parametrize("text, message", [
    ('[instances.prod]\nurl = "http://x"\napi_kye_env = "K"\n', "unknown setting instances.prod.api_kye_env"),
    ('[instances.prod]\napi_key_env = "K"\n', "[instances.prod] has no url"),
    ('concurrency = 0\n', "concurrency must be between 1 and 64"),
    ('concurrency = "8"\n', "concurrency must be a int"),
    ('[instances\n', "not valid TOML"),
])
def test_mistakes_in_the_file_are_usage_errors(tmp_path, text, message):
    with pytest.raises(UsageError) as info:
        config.load(write(tmp_path, text))
    assert message in str(info.value)


def test_unknown_instance_and_unset_variable_name_what_to_do(tmp_path):
    cfg = config.load(write(tmp_path, GOOD))
    with pytest.raises(UsageError) as info:
        cfg.instance("qa")
    assert "no such instance" in str(info.value) and "prod, staging" in info.value.hint
    with pytest.raises(UsageError) as info:
        cfg.instance("prod").credentials({})
    assert "PROD_MB_KEY" in str(info.value) and "export PROD_MB_KEY" in info.value.hint


@pytest.fixture
def prod(monkeypatch, tmp_path):
    """An emulator at http://prod.test with an admin API key in PROD_MB_KEY, and an mbport.toml naming it."""
    from mbport.emulator import bootstrap

    instances = routed_instances(monkeypatch)
    inst = instances.add("prod")
    key = bootstrap.add_api_key(inst.emu, inst.session, "mbport", key="mb_prodkeyprodkey0001")
    for var in ("METABASE_SITE_URL", "METABASE_API_KEY", "METABASE_USERNAME", "METABASE_PASSWORD",
                "METABASE_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PROD_MB_KEY", key)
    monkeypatch.chdir(tmp_path)
    write(tmp_path, GOOD)
    return inst


def test_instance_from_the_working_directory_and_precedence(prod, monkeypatch, tmp_path):
    ok = mbport("doctor", "--instance", "prod")
    assert ok.code == 0, ok.err + ok.out
    assert "authentication: signed in as" in ok.out and "(API key)" in ok.out
    # environment beats the file: a wrong METABASE_API_KEY is used (and refused) although the file names a good one
    monkeypatch.setenv("METABASE_API_KEY", "mb_wrongwrongwrong01")
    env_wins = mbport("doctor", "--instance", "prod")
    assert env_wins.code == 1 and "authentication: the API key from METABASE_API_KEY was refused" in env_wins.out
    # a flag beats the environment
    flag_wins = mbport("doctor", "--instance", "prod", "--api-key", "mb_prodkeyprodkey0001")
    assert flag_wins.code == 0, flag_wins.out
    # --config elsewhere, and an instance it does not have
    other = tmp_path / "other.toml"
    other.write_text('[instances.qa]\nurl = "http://qa.test"\napi_key_env = "QA_KEY"\n')
    missing = mbport("--config", other, "doctor", "--instance", "prod")
    assert missing.code == 2 and "no such instance" in missing.err and "qa" in missing.err


def test_a_secret_in_the_file_stops_the_command_before_any_request(prod, tmp_path):
    write(tmp_path, '[instances.prod]\nurl = "http://prod.test"\napi_key = "mb_prodkeyprodkey0001"\n')
    before = len(prod.emu.request_log)
    run = mbport("export", "--instance", "prod", "--out", tmp_path / "tree")
    assert run.code == 2 and "instances.prod.api_key" in run.err and "refused" in run.err
    assert "mb_prodkeyprodkey0001" not in run.err + run.out
    assert len(prod.emu.request_log) == before


def test_the_refusal_names_a_variable_for_that_instance(tmp_path):
    """The hint proposed `api_key_env = "PROD_MB_KEY"` for every instance's key, staging's too."""
    with pytest.raises(UsageError) as info:
        config.load(write(tmp_path, '[instances.staging]\nurl = "http://x"\napi_key = "abc"\n'))
    assert 'api_key_env = "STAGING_MB_API_KEY"' in info.value.hint and "PROD" not in info.value.hint

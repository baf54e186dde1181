"""User mistakes get one clear line on stderr, the documented exit code, and no traceback."""

from __future__ import annotations

import pytest

from mbport.cli import main


def run(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.mark.parametrize("argv, code, message", [
    (["export", "--out", "x"], 2, "no Metabase URL"),
    (["export", "--url", "localhost:3000", "--api-key", "k", "--out", "x"], 2, "must start with http:// or https://"),
    (["export", "--url", "http://mb.test", "--api-key", "mb_secretvalue123", "--out", "x", "--kinds", "nope"], 2, "--kinds: unknown kind 'nope'"),
    (["check", "/nonexistent/tree"], 1, "/nonexistent/tree: no such folder"),
    (["export", "--bogus"], 2, "No such option '--bogus'"),
    (["plan", "/nonexistent/tree", "--url", "http://mb.test", "--api-key", "mb_secretvalue123"], 1, "no such folder"),
])
def test_bad_input_is_one_line_with_exit_code(argv, code, message, capsys):
    got, out, err = run(argv, capsys)
    assert got == code
    assert message in err
    assert "Traceback" not in err and "mb_secretvalue123" not in err + out


def test_unreachable_url(capsys, monkeypatch):
    monkeypatch.setattr("mbport.client._sleep", lambda s: None)
    code, _, err = run(["export", "--url", "http://127.0.0.1:9", "--api-key", "mb_secretvalue123", "--out", "x"], capsys)
    assert code == 1 and "cannot reach http://127.0.0.1:9" in err and "mb_secretvalue123" not in err


def test_debug_shows_the_traceback(capsys):
    code, _, err = run(["--debug", "check", "/nonexistent/tree"], capsys)
    assert code == 1 and "Traceback" in err


def test_help_lists_exit_codes(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and "Exit codes:" in out and "130 interrupted" in out

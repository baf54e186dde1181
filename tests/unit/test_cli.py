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


def _leaf_commands(group, prefix=()):
    import click

    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _leaf_commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def test_every_command_takes_the_output_flags_after_its_name():
    """`mbport export ... -q` was a usage error: -q and --json worked only before the command name."""
    from mbport.cli import cli

    for path, command in _leaf_commands(cli):
        opts = {opt for param in command.params for opt in param.opts}
        assert {"-q", "--quiet", "--json"} <= opts, f"mbport {' '.join(path)} lacks {({'-q', '--json'} - opts)}"


def test_json_and_quiet_after_the_command_name(tmp_path, capsys):
    import json

    code, out, err = run(["check", str(tmp_path / "missing"), "--json", "-q"], capsys)
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and events[-1]["type"] == "summary" and events[-1]["command"] == "check"
    assert any(e["type"] == "error" for e in events)
    code, out, _ = run(["plugins", "-q", "--json"], capsys)
    assert code == 0 and json.loads(out.splitlines()[-1])["plugins"]
    code, out, err = run(["export", "--out", "x", "--json"], capsys)  # an error before the command ran: still JSON
    assert code == 2 and json.loads(out.splitlines()[-1])["exit_code"] == 2


def test_diff_keeps_its_own_json_flag(tmp_path, capsys):
    """`diff --json` after the name stays diff's older form (bare objects, no summary line)."""
    (tmp_path / "a").mkdir()
    code, out, err = run(["diff", str(tmp_path / "a"), str(tmp_path / "a"), "--json"], capsys)
    assert '"type": "summary"' not in out


def test_invoked_as_names_a_program_that_runs(tmp_path, monkeypatch):
    """The demo's next steps said a bare `mbport`, which is not on PATH after the README's venv step."""
    import subprocess
    import sys

    from mbport import cli

    script = tmp_path / ".venv" / "bin" / "mbport"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(sys, "argv", [".venv/bin/mbport", "demo"])
    assert cli.invoked_as() == ".venv/bin/mbport"
    monkeypatch.setenv("PATH", str(script.parent))
    assert cli.invoked_as() == "mbport"
    monkeypatch.setattr(sys, "argv", ["/usr/lib/python3/pytest"])
    fallback = cli.invoked_as()
    assert fallback.endswith(" -m mbport")
    done = subprocess.run([sys.executable, "-m", "mbport", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "mbport" in done.stdout


def test_the_readme_links_only_to_what_a_clone_has():
    """The README linked `../shared/...`, outside the repository."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    text = (root / "README.md").read_text()
    assert "../shared" not in text
    for target in re.findall(r"\]\(([^)#\s]+)\)", text):
        if not re.match(r"[a-z]+://|mailto:", target):
            assert (root / target).exists(), f"README.md links {target}, which the repository lacks"

"""Every command the README shows runs as written (issue 24): scripts/readme_commands.py's blocks
on the tiny exports, one test per README block (blocks that continue one another share a test),
with only the model path and the user's input pictures substituted. A failure names the README
line, the command, its exit code and the end of its stderr."""
import pytest

import readme_commands as readme

GROUPS = readme.groups(readme.readme_blocks())


@pytest.mark.parametrize("group", GROUPS, ids=[f"README:{g[0].line}" for g in GROUPS])
def test_readme_block_runs(group, vsp_bin, tiny_model, sd1_model, tmp_path):
    commands = [c for block in group for c in block.commands]
    if all(c.skip for c in commands):
        pytest.skip("; ".join(sorted({c.skip for c in commands})))
    results = readme.run_group(group, tmp_path / "checkout")
    failures = [r for r in results if not r.ok]
    assert not failures, "\n\n".join(
        f"README:{r.command.line}: {r.command.run}\nexit code {r.code} (expected {r.command.expect}); stderr ends:\n"
        + "\n".join(r.stderr.strip().splitlines()[-8:]) for r in failures)


def test_every_skip_names_a_readme_command():
    """A skip whose command left the README would hide nothing; drop it."""
    shown = " ".join(c.text for block in readme.readme_blocks() for c in block.commands)
    stale = [piece for piece, _ in readme.SKIP if piece not in shown]
    stale += [option for option in readme.SLOW_OPTIONS if option not in shown]
    assert not stale, f"scripts/readme_commands.py skips commands the README no longer shows: {stale}"


def test_every_command_is_run_or_skipped_with_a_reason():
    for block in readme.readme_blocks():
        for command in block.commands:
            assert command.run and (command.skip or "..." not in command.run.split("#")[0]), (
                f"README:{command.line}: '...' is a placeholder, not a command: {command.text}")

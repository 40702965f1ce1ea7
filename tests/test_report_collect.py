"""What a report suggests to run is safe to copy: paths are shell-quoted; what it embeds is the
run's own: nothing reached through a symbolic link."""

from __future__ import annotations

import base64
import shlex


def test_suggested_commands_quote_a_crafted_folder_name(cli, tmp_path):
    run = tmp_path / "r $(touch X)"
    assert cli(["train", "--steps", "20", "--out", run, "-q"]).exit_code == 0
    assert cli(["report", run]).exit_code == 0
    text = (run / "report.html").read_text()
    quoted = shlex.quote(str(run)).replace("'", "&#x27;")
    assert f"pointgan animate {quoted}" in text
    assert f"pointgan animate {run}`" not in text


def test_files_linked_from_elsewhere_are_never_embedded(cli, tmp_path):
    """A crafted run folder whose animation or diagnose picture links to another file does not
    put that file into the page (a report is one file that gets shared; a linked diagnose
    folder is refused as a place to write)."""
    run = tmp_path / "r"
    assert cli(["train", "--steps", "20", "--out", run, "-q"]).exit_code == 0
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"SECRET-SECRET-SECRET")
    (run / "animation.gif").symlink_to(secret)
    (run / "diagnose").mkdir()
    (run / "diagnose" / "stability.png").symlink_to(secret)
    assert cli(["report", run]).exit_code == 0
    text = (run / "report.html").read_text()
    assert base64.b64encode(secret.read_bytes()).decode()[:20] not in text
    assert "No animation yet" in text


def test_a_failed_members_diagnosis_counts_sign_flips_in_its_games_words():
    """The report's table of failed members names what changes sign in the game's words."""
    from pointgan_cli.report.collect import compact_diagnosis

    member = {"reason": "r", "evidence": {"final_distance": 0.5, "window_max_distance": 0.7,
                                          "sign_changes_in_window": 3}}
    assert compact_diagnosis(member) == "dist 0.5; window max 0.7; 3 sign flips of b - real"
    assert compact_diagnosis(member, "psi") == "dist 0.5; window max 0.7; 3 sign flips of psi"

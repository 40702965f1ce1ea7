"""What a report suggests to run is safe to copy: paths are shell-quoted."""

from __future__ import annotations

import shlex


def test_suggested_commands_quote_a_crafted_folder_name(cli, tmp_path):
    run = tmp_path / "r $(touch X)"
    assert cli(["train", "--steps", "20", "--out", run, "-q"]).exit_code == 0
    assert cli(["report", run]).exit_code == 0
    text = (run / "report.html").read_text()
    quoted = shlex.quote(str(run)).replace("'", "&#x27;")
    assert f"pointgan animate {quoted}" in text
    assert f"pointgan animate {run}`" not in text

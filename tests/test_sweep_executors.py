"""The executors' failure messages: one line that names the fix (no Ray needed here)."""

from __future__ import annotations

from pointgan_cli.sweep.executors import RAY_TOKEN_FIX, ray_start_error


class AuthenticationError(Exception):
    pass


def test_joining_a_cluster_without_token_mode_names_the_fix():
    exc = ConnectionError("Failed to connect to GCS at 10.0.0.5:6379. Timed out after 60 s.")
    msg = ray_start_error(exc, "10.0.0.5:6379", {})
    assert "\n" not in msg and "RAY_AUTH_MODE=token" in msg and RAY_TOKEN_FIX in msg
    assert msg.startswith("--ray-address: cannot start or reach Ray: Failed to connect")
    assert "Timed out" not in msg  # Ray's first sentence only


def test_token_mode_set_leaves_the_hint_out_unless_ray_says_auth():
    exc = ConnectionError("Failed to connect to GCS")
    assert "RAY_AUTH_MODE" not in ray_start_error(exc, "h:1", {"RAY_AUTH_MODE": "token"})
    assert "RAY_AUTH_MODE" not in ray_start_error(exc, None, {})  # a local Ray of our own
    auth = AuthenticationError("Authentication failed: invalid token.\nEnsure that...")
    assert RAY_TOKEN_FIX in ray_start_error(auth, None, {})
    assert "\n" not in ray_start_error(auth, None, {})

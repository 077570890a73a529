"""Bad command-line arguments of the standalone server are one clear line, not a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "99999"], "port must be between 0 and 65535, got 99999"),
        (["--port", "abc"], "not a port number: 'abc'"),
        (["--log-level", "LOUD"], "invalid choice: 'LOUD'"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(args, message):
    done = subprocess.run(
        [sys.executable, "-m", "pytest_sequin.server", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr

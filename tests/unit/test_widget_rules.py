"""The widgets' pure rules (popup targeting, frequency, triggers; countdown arithmetic), run by Node's test runner."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.support import ROOT


def test_widget_rules_pass_under_node() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed for the widget rule tests (tests/js/)")
    # On the readable sources, then on the served build of them (widgets/dist).
    for widgets in ("source", "dist"):
        run = subprocess.run(
            [node, "--test", "tests/js/"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "BECKON_WIDGETS": widgets},
        )
        assert run.returncode == 0, widgets + ": " + run.stdout + run.stderr

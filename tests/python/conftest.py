"""Shared fixtures for the Python cross-checks.

The C++ build is found through ANEC_BINARY_DIR (default /work/main/build). A missing tool is a
test failure, never a skip: these checks must run in CI.
"""
import json
import os
import subprocess

import pytest


def binary_dir():
    return os.environ.get("ANEC_BINARY_DIR", "/work/main/build")


def tool_path(relative):
    path = os.path.join(binary_dir(), relative)
    if not os.path.isfile(path):
        pytest.fail(
            f"{path} not found: build it first (cmake --build {binary_dir()} "
            f"--target {os.path.basename(relative)}) or set ANEC_BINARY_DIR to the build folder"
        )
    return path


@pytest.fixture(scope="session")
def mil_packages(tmp_path_factory):
    """Runs anec_write_test_packages once; returns (output folder, manifest dict)."""
    out = tmp_path_factory.mktemp("mil_packages")
    tool = tool_path(os.path.join("src", "mil", "anec_write_test_packages"))
    result = subprocess.run([tool, str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{tool} failed:\n{result.stdout}\n{result.stderr}"
    with open(out / "manifest.json") as f:
        manifest = json.load(f)
    return out, manifest

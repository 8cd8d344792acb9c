"""HF_TOKEN never leaks (issue 16, item 5): `anec convert --model-id` downloads a gated
repository from the loopback fake Hub (tests/hub_server/fake_hub.py, which answers 401 without
the token) with HF_TOKEN set, converts it, and the token appears in no output line, no error,
no meta.yaml and no file written (output folder, work folder, Hub cache). A refused token (wrong
one) must not be echoed in the error either."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import tool_path

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TOKEN = "hf_anecSecretToken0123456789abcdef"


@pytest.fixture
def hub(tmp_path):
    repos = tmp_path / "repos"
    shutil.copytree(os.path.join(ROOT, "tests", "fixtures", "parity", "llama_untied"),
                    repos / "org" / "gated-llama",
                    ignore=shutil.ignore_patterns("model.gguf", "reference.json"))
    server = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tests", "hub_server", "fake_hub.py"), "--root",
         str(repos), "--token", TOKEN], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        server.kill()
        server.wait()


def convert(endpoint, home, out, token):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(home), HF_TOKEN=token)
    cmd = [tool_path(os.path.join("src", "cli", "anec")), "convert", "--model-id",
           "org/gated-llama", "--output", str(out), "--context", "64", "--batch-size", "8",
           "--chunks", "1", "--lut", "4", "--skip-check"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


def files_containing(root, needle):
    hits = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.islink(path) and not os.path.exists(path):
                continue
            with open(path, "rb") as f:
                if needle in f.read():
                    hits.append(path)
    return hits


def test_the_token_is_used_and_never_written_or_printed(hub, tmp_path):
    home, out = tmp_path / "hf-home", tmp_path / "out"
    r = convert(hub, home, out, TOKEN)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out / "meta.yaml").exists()
    assert os.path.isdir(home / "hub" / "models--org--gated-llama")  # it did download
    assert TOKEN not in r.stdout and TOKEN not in r.stderr
    secret = TOKEN.encode()
    assert files_containing(out, secret) == []
    assert files_containing(home, secret) == []
    assert TOKEN not in (out / "meta.yaml").read_text()


def test_a_refused_token_is_not_echoed(hub, tmp_path):
    wrong = "hf_wrongSecret9876543210fedcba"
    r = convert(hub, tmp_path / "hf-home", tmp_path / "out", wrong)
    assert r.returncode != 0
    assert "gated" in r.stderr or "401" in r.stderr, r.stderr
    assert wrong not in r.stdout and wrong not in r.stderr
    assert not (tmp_path / "out" / "meta.yaml").exists()

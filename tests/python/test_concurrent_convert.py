"""Two `anec convert` runs into one output folder at once (issue 16, item 4): the second fails at
once naming the folder (the first holds OUT/.anec-work/lock), and the first completes unharmed
and answers its test prompt."""
import os
import subprocess
import time

from conftest import tool_path
from test_smollm2 import gguf_path


def test_second_conversion_into_the_same_folder_fails_at_once(tmp_path):
    anec = tool_path(os.path.join("src", "cli", "anec"))
    out = tmp_path / "out"
    cmd = [anec, "convert", "--model", gguf_path(), "--output", str(out), "--context", "256",
           "--chunks", "1", "--lut", "6"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (out / ".anec-work" / "options.json").exists():
            assert first.poll() is None, "the first conversion ended before it started writing"
            assert time.time() < deadline
            time.sleep(0.02)
        start = time.time()
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert second.returncode != 0
        assert time.time() - start < 30  # refused before any work, not after
        assert "another anec conversion is writing" in second.stderr, second.stderr
        assert str(out) in second.stderr
        assert first.poll() is None, "the refused run must not have waited for the first"
    finally:
        stdout, stderr = first.communicate(timeout=600)
    assert first.returncode == 0, stderr[-3000:]
    assert "step 8:" in stderr, stderr[-2000:]
    assert (out / "meta.yaml").exists()

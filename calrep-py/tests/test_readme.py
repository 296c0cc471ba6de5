"""The README's Python example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has no Python example"
    # A process of its own: the example configures logging for itself.
    done = subprocess.run([sys.executable, "-c", blocks[0]], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert " mailboxes\n" in done.stdout, done.stdout
    claimed = blocks[0].rsplit("# ", 1)[1].strip()
    assert done.stdout.strip().splitlines()[-1] == claimed

"""The README's API tour runs as written (its ```python blocks, in order)."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    with open(os.path.join(ROOT, "README.md")) as stream:
        blocks = re.findall(r"```python\n(.*?)```", stream.read(), flags=re.S)
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    assert (tmp_path / "runs" / "readme" / "spectrum.png").stat().st_size > 0
    assert namespace["probe"].accuracy > 0.5

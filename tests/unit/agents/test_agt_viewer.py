"""The rollout viewer's page: every episode under its prompt, model and inserted tokens told apart, text
escaped; and, where Debian's Chromium is installed, the page as a real headless browser renders it."""

import shutil
import subprocess

import pytest

from maxrl.agents.records import write_episodes
from maxrl.agents.viewer import main, render_page

EPISODES = [
    {"uid": "3-0", "prompt": "<|im_start|>user\nWhat is 347*582?<|im_end|>", "reward": 1.0, "assistant_turns": 2,
     "user_turns": 1, "tool_calls": 1, "truncated": 0, "errors_timeout": 0, "segments": [
         {"text": '<tool_call>{"name": "calculator", "arguments": {"expression": "347*582"}}</tool_call><|im_end|>',
          "trained": True, "tokens": 20},
         {"text": "\n<|im_start|>user\n<tool_response>\n201954\n</tool_response><|im_end|>\n<|im_start|>assistant\n",
          "trained": False, "tokens": 12},
         {"text": "#### 201954<|im_end|>", "trained": True, "tokens": 8}]},
    {"uid": "3-0", "prompt": "<|im_start|>user\nWhat is 347*582?<|im_end|>", "reward": 0.0, "assistant_turns": 1,
     "user_turns": 0, "tool_calls": 0, "truncated": 1, "errors_timeout": 2, "segments": [
         {"text": "#### 200000<script>", "trained": True, "tokens": 9}]},
]


def test_the_page_groups_episodes_by_prompt_and_marks_the_mask():
    page = render_page(EPISODES, "run: episodes of step 3")
    assert page.count('class="episode"') == 2 and "1 of 2 episodes rewarded" in page
    assert page.count('class="trained"') == 3 + 1 and page.count('class="inserted"') == 1 + 1  # + the legend's
    assert "&lt;script&gt;" in page and "<script>" not in page
    assert "errors timeout 2" in page and "truncated at the response budget" in page
    assert "<tr><th>trained / inserted tokens</th><td>37 / 12</td></tr>" in page


def test_the_command_writes_the_page_of_a_recorded_step(tmp_path):
    write_episodes(tmp_path, 3, EPISODES)
    out = main([str(tmp_path), "--step", "3"])
    assert out == tmp_path / "episodes" / "step_3.html" and "347*582" in out.read_text()
    with pytest.raises(FileNotFoundError, match=r"no episodes recorded for step 4; recorded steps: \[3\]"):
        main([str(tmp_path), "--step", "4"])


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_a_headless_browser_renders_the_page(tmp_path):
    write_episodes(tmp_path, 3, EPISODES)
    page = main([str(tmp_path), "--step", "3"])
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(["chromium", *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count('class="episode"') == 2 and "201954" in dom.stdout
    shot = tmp_path / "page.png"
    subprocess.run(["chromium", *flags, f"--screenshot={shot}", "--window-size=1000,800", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000

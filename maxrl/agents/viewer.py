"""The rollout viewer: one static HTML page of a training step's episodes.

    python -m maxrl.agents.viewer RUN_DIR --step S [--out page.html]

Reads ``RUN_DIR/episodes/step_S.jsonl`` (written by every multi-turn run) and shows each prompt with its
episodes: every turn as the tokens were recorded, the model's tokens (trained, mask 1) apart from the
tokens the environment inserted (tool results, feedback, template delimiters; mask 0), the reward and the
episode's counters. The page has no scripts and loads nothing; open it in any browser.
"""

from __future__ import annotations

import argparse
import html
import logging
import sys
from collections import defaultdict
from pathlib import Path

from maxrl.agents.records import read_episodes

__all__ = ["render_page", "main"]

logger = logging.getLogger(__name__)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #1d1d1f; max-width: 70em; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; border-top: 1px solid #ccc; padding-top: 1em; }
.legend span, .tokens span { white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 0.9em; }
.trained { background: #d9f2d9; border-bottom: 2px solid #2e8b57; }
.inserted { background: #ececec; color: #555; border-bottom: 2px dashed #999; }
.prompt { background: #f6f6fb; padding: 0.5em; white-space: pre-wrap; font-family: ui-monospace, monospace;
          font-size: 0.85em; max-height: 12em; overflow: auto; }
.episode { border: 1px solid #ddd; border-radius: 6px; padding: 0.6em; margin: 0.8em 0; }
.meta { font-size: 0.85em; color: #444; margin-bottom: 0.4em; }
.ok { color: #2e8b57; font-weight: bold; } .fail { color: #b22222; font-weight: bold; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { border: 1px solid #ddd; padding: 0.2em 0.6em; }
"""


def _counters(episode: dict) -> str:
    errors = {key.removeprefix("errors_"): value for key, value in episode.items() if key.startswith("errors_") and value}
    parts = [f"turns {episode.get('assistant_turns', 1)} (+{episode.get('user_turns', 0)} environment)",
             f"tool calls {episode.get('tool_calls', 0)}"]
    if errors:
        parts.append("errors " + ", ".join(f"{kind} {count}" for kind, count in errors.items()))
    if episode.get("truncated"):
        parts.append("truncated at the response budget")
    return " · ".join(parts)


def _episode(index: int, episode: dict) -> str:
    verdict = "ok" if episode["reward"] > 0 else "fail"
    tokens = "".join(
        f'<span class="{"trained" if s["trained"] else "inserted"}" title="{s["tokens"]} token(s), '
        f'{"generated" if s["trained"] else "inserted"}">{html.escape(s["text"])}</span>'
        for s in episode["segments"]
    )
    return (f'<div class="episode"><div class="meta">episode {index} · reward <span class="{verdict}">'
            f'{episode["reward"]:g}</span> · {html.escape(_counters(episode))}</div>'
            f'<div class="tokens">{tokens}</div></div>')


def _summary(episodes: list[dict]) -> str:
    count = len(episodes)
    rows = {
        "episodes": count,
        "mean reward": sum(e["reward"] for e in episodes) / count,
        "mean model turns": sum(e.get("assistant_turns", 1) for e in episodes) / count,
        "episodes with a tool call": sum(e.get("tool_calls", 0) > 0 for e in episodes) / count,
        "truncated": sum(bool(e.get("truncated")) for e in episodes) / count,
        "trained / inserted tokens": "{} / {}".format(
            sum(s["tokens"] for e in episodes for s in e["segments"] if s["trained"]),
            sum(s["tokens"] for e in episodes for s in e["segments"] if not s["trained"]),
        ),
    }
    cells = "".join(f"<tr><th>{name}</th><td>{value:.3g}</td></tr>" if isinstance(value, float)
                    else f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows.items())
    return f"<table>{cells}</table>"


def render_page(episodes: list[dict], title: str) -> str:
    """The HTML page of `episodes` (records of `maxrl.agents.records`), grouped by prompt."""
    by_prompt: dict[str, list[dict]] = defaultdict(list)
    for episode in episodes:
        by_prompt[episode["uid"]].append(episode)
    sections = []
    for number, (uid, group) in enumerate(by_prompt.items(), start=1):
        solved = sum(e["reward"] > 0 for e in group)
        sections.append(
            f"<h2>prompt {number} (uid {html.escape(uid)}): {solved} of {len(group)} episodes rewarded</h2>"
            f'<div class="prompt">{html.escape(group[0]["prompt"])}</div>'
            + "".join(_episode(i, e) for i, e in enumerate(group, start=1))
        )
    legend = ('<p class="legend"><span class="trained">model tokens (trained)</span> '
              '<span class="inserted">inserted by the environment (not trained)</span></p>')
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{legend}{_summary(episodes)}"
            + "".join(sections) + "</body></html>")


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description="Write one HTML page of a training step's episodes.")
    parser.add_argument("run_dir", type=Path, help="a run folder (trainer.default_local_dir)")
    parser.add_argument("--step", type=int, required=True, help="the training step to show")
    parser.add_argument("--out", type=Path, help="the page to write (default RUN_DIR/episodes/step_S.html)")
    args = parser.parse_args(argv)
    episodes = read_episodes(args.run_dir, args.step)
    out = args.out or args.run_dir / "episodes" / f"step_{args.step}.html"
    out.write_text(render_page(episodes, f"{args.run_dir.name}: episodes of step {args.step}"), encoding="utf-8")
    logger.info("wrote %s (%d episodes)", out, len(episodes))
    return out


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        main()
    except FileNotFoundError as error:
        raise SystemExit(str(error)) from None

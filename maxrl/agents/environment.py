"""The environment's side of an episode: tool calls and interaction replies, as chat messages.

After each model turn, an episode whose turn holds tool calls gets one ``tool`` message per call; one
without calls gets its interaction's reply as a ``user`` message (when the row has an interaction), else
it ends. The calls of all episodes of a turn run concurrently in the `CallPool`. Every failure becomes the
tool message the model reads (``Error: ...``) and one count of its kind (`ERROR_KINDS`): a call that is not
valid JSON (``bad_json``), names no configured tool (``unknown_tool``), exceeds ``max_parallel_calls``
(``too_many_calls``), raises (``exception``) or outlives ``call_timeout_s`` (``timeout``).
"""

from __future__ import annotations

from maxrl.agents.call_pool import OK, TIMEOUT, CallOutcome, CallPool
from maxrl.agents.config_files import load_interaction_specs, load_tool_specs
from maxrl.agents.episode import Episode
from maxrl.agents.settings import MultiTurnSettings
from maxrl.agents.tool_calls import CALL_PARSERS, MalformedCall

__all__ = ["Environment", "cut_text"]

TRUNCATION_MARK = "...(truncated)..."


def cut_text(text: str, limit: int, side: str) -> str:
    """`text` cut to at most `limit` characters plus a mark: ``left`` keeps the beginning, ``right`` the
    end, ``middle`` both ends (verl's ``tool_response_truncate_side``)."""
    if len(text) <= limit:
        return text
    if side == "left":
        return text[:limit] + TRUNCATION_MARK
    if side == "right":
        return TRUNCATION_MARK + text[-limit:]
    head = limit // 2
    return text[:head] + TRUNCATION_MARK + text[len(text) - (limit - head):]


class Environment:
    """Tools and interactions of a run (from ``multi_turn``'s config files), and the pool that runs them."""

    def __init__(self, settings: MultiTurnSettings):
        self.settings = settings
        tools = load_tool_specs(settings.tool_config_path) if settings.tool_config_path else []
        interactions = load_interaction_specs(settings.interaction_config_path) if settings.interaction_config_path else []
        self.tool_schemas = [spec.schema for spec in tools]
        self.tool_names = [spec.name for spec in tools]
        self.interaction_names = [spec.name for spec in interactions]
        self.parse = CALL_PARSERS[settings.format]
        self.pool = CallPool(tools, interactions, settings.call_workers, settings.call_timeout_s)

    def interaction_of(self, extra_info: dict) -> tuple[str | None, dict]:
        """The interaction a row asks for (``extra_info.interaction_kwargs.name``, or the only one
        configured) and the keyword arguments it starts with."""
        if not self.interaction_names:
            return None, {}
        kwargs = dict((extra_info or {}).get("interaction_kwargs") or {})
        name = kwargs.pop("name", None)
        if name is None and len(self.interaction_names) == 1:
            name = self.interaction_names[0]
        if name not in self.interaction_names:
            raise ValueError(
                f"extra_info.interaction_kwargs.name={name!r} is not one of the configured interactions "
                f"{self.interaction_names} (multi_turn.interaction_config_path={self.settings.interaction_config_path})"
            )
        return name, kwargs

    # ------------------------------------------------------------------ episode life
    def start(self, episodes: list[Episode], interaction_kwargs: list[dict]) -> None:
        """Start the interaction of every episode that has one."""
        chosen = [(e, kwargs) for e, kwargs in zip(episodes, interaction_kwargs) if e.interaction is not None]
        outcomes = self.pool.run([("interaction", e.interaction, "start_interaction", None, (), kwargs)
                                  for e, kwargs in chosen])
        for (episode, _), outcome in zip(chosen, outcomes):
            self._count(episode, outcome)
            episode.interaction_state = outcome.state

    def finish(self, episodes: list[Episode]) -> None:
        """Release every tool state and finalize every interaction (failures are counted, nothing more)."""
        calls, owners = [], []
        for episode in episodes:
            for name, state in episode.tool_states.items():
                calls.append(("tool", name, "release", state, (), {}))
                owners.append(episode)
            if episode.interaction is not None:
                calls.append(("interaction", episode.interaction, "finalize_interaction", episode.interaction_state, (), {}))
                owners.append(episode)
        for episode, outcome in zip(owners, self.pool.run(calls)):
            self._count(episode, outcome)

    def close(self) -> None:
        self.pool.close()

    # ------------------------------------------------------------------ turns
    def respond(self, episodes: list[Episode]) -> list[list[dict] | None]:
        """For each episode (each has just added a model turn, the last of its `messages`): the messages
        that answer it, or None when nothing does and the episode ends. Rewards of the answers are credited
        to the model turn."""
        parsed = [self.parse(e.messages[-1]["content"]) if self.tool_names else [] for e in episodes]
        replies: list[list[dict] | None] = [None] * len(episodes)
        tool_users = [i for i, calls in enumerate(parsed) if calls]
        talkers = [i for i, calls in enumerate(parsed) if not calls and episodes[i].interaction is not None]
        for i, messages in zip(tool_users, self._tool_messages([episodes[i] for i in tool_users],
                                                               [parsed[i] for i in tool_users])):
            replies[i] = messages
        for i, message in zip(talkers, self._interaction_messages([episodes[i] for i in talkers])):
            replies[i] = message
        return replies

    def _tool_messages(self, episodes: list[Episode], parsed: list[list]) -> list[list[dict]]:
        """One ``tool`` message per call of each episode. The calls of one episode run one after another
        (a call sees the state the previous one left); those of different episodes run concurrently."""
        texts = [[self._refusal(e, call, index) for index, call in enumerate(calls)] for e, calls in zip(episodes, parsed)]
        queues = [[(index, call) for index, call in enumerate(calls) if texts[row][index] is None]
                  for row, calls in enumerate(parsed)]
        for episode, calls in zip(episodes, parsed):
            episode.tool_calls += len(calls)
        for position in range(max((len(queue) for queue in queues), default=0)):
            turn = [(row, *queue[position]) for row, queue in enumerate(queues) if position < len(queue)]
            unstarted = [(row, call.name) for row, _, call in turn if call.name not in episodes[row].tool_states]
            failures = self._create_states(episodes, list(dict.fromkeys(unstarted)))
            outcomes = self.pool.run([
                ("tool", call.name, "execute", episodes[row].tool_states.get(call.name), (call.arguments,),
                 self._tool_kwargs(episodes[row], call.name, "execute"))
                for row, _, call in turn if call.name in episodes[row].tool_states
            ])
            outcomes.reverse()
            for row, index, call in turn:
                started = call.name in episodes[row].tool_states
                outcome = outcomes.pop() if started else failures[(row, call.name)]
                texts[row][index] = self._tool_text(episodes[row], call.name, outcome, started)
        limit, side = self.settings.max_tool_response_length, self.settings.tool_response_truncate_side
        return [[{"role": "tool", "content": cut_text(text, limit, side)} for text in row] for row in texts]

    def _refusal(self, episode: Episode, call, index: int) -> str | None:
        """The error text of a call that will not run, or None for one that will."""
        limit = self.settings.max_parallel_calls
        if index >= limit:
            episode.errors["too_many_calls"] += 1
            return f"Error: at most {limit} tool call(s) per turn; this call was not run."
        if isinstance(call, MalformedCall):
            episode.errors["bad_json"] += 1
            return f"Error: {call.reason}."
        if call.name not in self.tool_names:
            episode.errors["unknown_tool"] += 1
            return f"Error: there is no tool named {call.name!r}; the tools are {', '.join(self.tool_names)}."
        return None

    def _create_states(self, episodes: list[Episode], pairs: list[tuple[int, str]]) -> dict[tuple[int, str], CallOutcome]:
        """Create the state of each (episode row, tool) pair; returns the failures by pair."""
        outcomes = self.pool.run([
            ("tool", name, "create", None, (), self._tool_kwargs(episodes[row], name, "create")) for row, name in pairs
        ])
        failures = {}
        for (row, name), outcome in zip(pairs, outcomes):
            if outcome.status == OK:
                episodes[row].tool_states[name] = outcome.state
                episodes[row].call_seconds += outcome.seconds
            else:
                failures[(row, name)] = outcome
        return failures

    def _tool_text(self, episode: Episode, name: str, outcome: CallOutcome, started: bool) -> str:
        """The model's view of one call's outcome (counted when it failed); a success's reward is credited."""
        self._count(episode, outcome)
        if outcome.status != OK:
            what = "timed out" if outcome.status == TIMEOUT else "failed" if started else "could not start"
            return f"Error: tool {name!r} {what}: {outcome.message}"
        episode.tool_states[name] = outcome.state
        episode.reward_last_turn(outcome.value.reward)
        return outcome.value.text

    def _interaction_messages(self, episodes: list[Episode]) -> list[list[dict] | None]:
        outcomes = self.pool.run([
            ("interaction", e.interaction, "generate_response", e.interaction_state, (list(e.messages),), {})
            for e in episodes
        ])
        messages: list[list[dict] | None] = []
        for episode, outcome in zip(episodes, outcomes):
            self._count(episode, outcome)
            if outcome.status != OK:
                messages.append([{"role": "user", "content": f"Error: the environment failed: {outcome.message}"}])
                continue
            episode.interaction_state = outcome.state
            episode.reward_last_turn(outcome.value.score)
            messages.append(None if outcome.value.done else [{"role": "user", "content": outcome.value.text}])
        return messages

    @staticmethod
    def _tool_kwargs(episode: Episode, name: str, which: str) -> dict:
        """``extra_info.tools_kwargs.<name>.<which>_kwargs`` of the episode's row (verl's layout)."""
        return dict((episode.tools_kwargs.get(name) or {}).get(f"{which}_kwargs") or {})

    @staticmethod
    def _count(episode: Episode, outcome: CallOutcome) -> None:
        episode.call_seconds += outcome.seconds
        if outcome.status != OK:
            episode.errors[outcome.status] += 1

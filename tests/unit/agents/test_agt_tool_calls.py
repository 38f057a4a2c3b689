"""The hermes tool-call parser: every call of a turn, in order; unreadable calls become reasons, not drops."""

from maxrl.agents.tool_calls import MalformedCall, ToolCall, parse_hermes


def test_calls_are_read_in_order_with_their_arguments():
    text = ('I will add. <tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>\n'
            '<tool_call>\n{"name": "echo", "arguments": {"text": "hi"}}\n</tool_call>')
    assert parse_hermes(text) == [ToolCall("add", {"a": 1, "b": 2}), ToolCall("echo", {"text": "hi"})]


def test_arguments_written_as_a_json_string_are_accepted_and_missing_ones_are_empty():
    text = '<tool_call>{"name": "add", "arguments": "{\\"a\\": 1}"}</tool_call><tool_call>{"name": "now"}</tool_call>'
    assert parse_hermes(text) == [ToolCall("add", {"a": 1}), ToolCall("now", {})]


def test_text_without_calls_has_none():
    assert parse_hermes("The answer is 3.") == []


def test_malformed_calls_say_why():
    calls = parse_hermes(
        '<tool_call>{"name": "add", "arguments": {"a": 1}</tool_call>'  # a brace short
        '<tool_call>["add"]</tool_call>'
        '<tool_call>{"name": "add", "arguments": [1, 2]}</tool_call>'
        '<tool_call>{"name": "add", "arguments": {}}'  # never closed
    )
    assert all(isinstance(call, MalformedCall) for call in calls)
    reasons = [call.reason for call in calls]
    assert reasons[0].startswith("the tool call is not valid JSON")
    assert reasons[1] == 'a tool call must be a JSON object with a string "name"'
    assert reasons[2] == 'the "arguments" of a tool call must be a JSON object'
    assert reasons[3] == "the <tool_call> is never closed"

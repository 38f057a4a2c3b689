"""A user's scorer loaded from a Python file (config ``custom_reward_function.path`` / ``.name``, as in verl).

The file is imported and the function checked when the run starts, so a wrong path or name fails before any
rollout. The returned scorer pickles as (path, name) and re-imports the file in each reward worker process:
a function from a file that is not an importable module could not be sent to a worker otherwise.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path

_VERL_ARGUMENTS = {"data_source": "", "solution_str": "", "ground_truth": "", "extra_info": None}


def _config_hint(path, name) -> str:
    return f"custom_reward_function.path={path} custom_reward_function.name={name}"


def _import_file(path: Path):
    """Import a Python file as a module of its own (a unique name per file, so two files never collide)."""
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    module_name = f"maxrl_custom_reward_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def _load_function(path: str, name: str):
    hint = _config_hint(path, name)
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise FileNotFoundError(f"custom reward file {file} does not exist; fix {hint}")
    try:
        module = _import_file(file)
    except Exception as error:
        raise ImportError(f"importing custom reward file {file} failed ({error!r}); fix {hint}") from error
    if not hasattr(module, name):
        functions = sorted(
            n for n, v in vars(module).items() if inspect.isfunction(v) and not n.startswith("_")
        )
        raise AttributeError(f"{file} has no function {name!r} (functions in it: {functions}); fix {hint}")
    function = getattr(module, name)
    if not callable(function):
        raise TypeError(f"{file}: {name!r} is a {type(function).__name__}, not a function; fix {hint}")
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # builtins without a signature: nothing to check
        return function
    try:
        signature.bind(**_VERL_ARGUMENTS)
    except TypeError as error:
        raise TypeError(
            f"{file}: {name}{signature} cannot be called as "
            f"{name}(data_source=, solution_str=, ground_truth=, extra_info=) ({error}); fix {hint}"
        ) from error
    return function


class FileScorer:
    """A scorer function read from a file; callable with verl's scorer signature, picklable by location."""

    def __init__(self, path: str, name: str):
        self.path = str(path)
        self.name = name
        self._function = _load_function(self.path, name)

    def __call__(self, data_source, solution_str, ground_truth, extra_info=None):
        return self._function(
            data_source=data_source,
            solution_str=solution_str,
            ground_truth=ground_truth,
            extra_info=extra_info,
        )

    def warm_up(self) -> None:
        """Forward to the user function's own ``warm_up`` attribute, if it has one."""
        warm_up = getattr(self._function, "warm_up", None)
        if callable(warm_up):
            warm_up()

    def __reduce__(self):
        return FileScorer, (self.path, self.name)

    def __repr__(self) -> str:
        return f"FileScorer(path={self.path!r}, name={self.name!r})"


def load_custom_score(path: str, name: str = "compute_score") -> FileScorer:
    """Load and check ``name`` from the Python file ``path``; errors name the config keys to fix."""
    if not path:
        raise ValueError(f"custom_reward_function.path is empty; {_config_hint('<file.py>', name)}")
    if not name:
        raise ValueError(f"custom_reward_function.name is empty; {_config_hint(path, '<function>')}")
    return FileScorer(path, name)

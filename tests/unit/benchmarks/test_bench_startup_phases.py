"""`benchmarks.startup_phases`: the ``-X importtime`` log is summed per top-level package, nested imports
counting to the package that pulled them in (Python lists them, indented, before it)."""

from benchmarks.startup_phases import import_times

LOG = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |   _io
import time:       400 |        500 | _frozen_importlib_external
import time:      2000 |       5000 |   torch._C
import time:      1000 |    1500000 | torch
import time:       300 |     250000 | torch.nn
import time:        50 |        800 |   ray._private
import time:       700 |     700000 | ray
not an importtime line
"""


def test_import_times_sum_top_level_imports_by_package_largest_first():
    assert import_times(LOG) == {"torch": 1.75, "ray": 0.7, "_frozen_importlib_external": 0.0005}
    assert list(import_times(LOG)) == ["torch", "ray", "_frozen_importlib_external"]
    assert import_times("") == {}

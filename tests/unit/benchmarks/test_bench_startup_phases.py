"""`benchmarks.startup_phases`: the ``-X importtime`` log's self times summed per root package, so that a
package's cost is not charged to whichever module imported it first."""

from benchmarks.startup_phases import import_times

LOG = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |   _io
import time:       400 |        500 | _frozen_importlib_external
import time:      2000 |       5000 |   torch._C
import time:      1000 |    1500000 |     torch
import time:    300000 |     305000 |   tensordict
import time:       300 |     250000 | torch.nn
import time:        50 |        800 |   ray._private
import time:       700 |     700000 | ray
not an importtime line
"""


def test_import_times_sum_self_time_by_root_package_largest_first():
    times = import_times(LOG)
    assert times == {"tensordict": 0.3, "torch": 0.0033, "ray": 0.00075, "_frozen_importlib_external": 0.0004,
                     "_io": 0.0001}
    assert list(times) == ["tensordict", "torch", "ray", "_frozen_importlib_external", "_io"]
    assert import_times("") == {}

"""The data loaders are built without torchdata's 'set_vital' deprecation warning, and only it is silenced."""

import warnings

from torchdata.stateful_dataloader import StatefulDataLoader

from maxrl.utils.stateful_loader import stateful_dataloader


def caught(build) -> list[str]:
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        build()
    return [str(record.message) for record in records]


def test_the_wrapper_drops_exactly_the_set_vital_warning():
    # If this first assertion fails, torchdata no longer calls torch.set_vital: delete the wrapper.
    assert any("'set_vital' is deprecated" in message for message in caught(lambda: StatefulDataLoader([1, 2])))
    assert not any("set_vital" in message for message in caught(lambda: stateful_dataloader([1, 2])))
    assert [batch.tolist() for batch in stateful_dataloader([1, 2, 3, 4], batch_size=2)] == [[1, 2], [3, 4]]


def test_other_warnings_still_pass():
    def build():
        stateful_dataloader([1, 2])
        warnings.warn("unrelated", UserWarning, stacklevel=2)

    assert caught(build) == ["unrelated"]

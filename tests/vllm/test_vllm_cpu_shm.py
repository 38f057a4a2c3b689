"""Stale shared memory of vLLM's CPU tensor-parallel engines is removed; files a live process maps are kept.
(No vLLM needed: the files and the process table are stand-ins in a temporary folder.)"""

from maxrl.workers.rollout.vllm_cpu_shm import remove_stale_cpu_shm


def test_only_files_no_process_maps_are_removed(tmp_path):
    shm, proc = tmp_path / "shm", tmp_path / "proc"
    shm.mkdir()
    live, stale, other = shm / "-tp:0-[0-1]-cpushm_0", shm / "-tp:0-[0-1]-cpushm_1", shm / "psm_1234"
    for path in (live, stale, other):
        path.write_bytes(b"\0" * 8)
    (proc / "4242").mkdir(parents=True)
    (proc / "4242" / "maps").write_text(
        "7f0000000000-7f0000400000 rw-s 00000000 00:1a 123    " + str(live) + "\n"
        "7f0000400000-7f0000401000 r-xp 00000000 00:00 0 \n"
    )
    (proc / "self").mkdir()  # not a pid: ignored

    assert remove_stale_cpu_shm(shm, proc) == [stale]
    assert live.exists() and other.exists() and not stale.exists()
    assert remove_stale_cpu_shm(shm, proc) == []


def test_nothing_to_do_without_such_files(tmp_path):
    assert remove_stale_cpu_shm(tmp_path, tmp_path) == []

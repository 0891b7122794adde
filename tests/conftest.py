"""Shared test fixtures: where the real data lives; torch's thread count kept per test."""

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LATENTBRIDGE_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA} (set LATENTBRIDGE_DATA)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def torch_threads_kept():
    """Put torch's thread count back after each test. A command's ``main`` run in this process
    (``training.export``, ``training.import_magenta``: two threads) sets it for the whole
    process; the tiny models of the tests after it would then run on a thread pool that only
    adds contention on a 2-core machine (the note-event continue test: 84 s instead of 17).
    Nothing is imported: tests that never load torch stay without it."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    yield
    if before is not None and torch.get_num_threads() != before:
        torch.set_num_threads(before)

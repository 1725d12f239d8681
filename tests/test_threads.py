"""tests/conftest.py pins the thread count of the tests marked ``trains``, and every test, marked or not, leaves the
process's thread count as it found it."""

import os

import pytest
import torch
from threadpoolctl import threadpool_info

AT_IMPORT = torch.get_num_threads()  # collection time: before any test ran, so nothing pinned


@pytest.mark.trains
def test_a_training_test_runs_with_the_pinned_threads():
    expected = int(os.environ.get("GENLAB_TEST_THREADS", "1"))
    assert torch.get_num_threads() == expected
    assert all(pool["num_threads"] == expected for pool in threadpool_info() if pool["user_api"] == "blas")


def test_a_test_that_sets_the_threads_itself_and_forgets_them():
    torch.set_num_threads(AT_IMPORT + 1)  # as `genlab docs --threads N` does when a test runs it in-process
    assert torch.get_num_threads() == AT_IMPORT + 1


def test_after_it_the_other_tests_have_the_threads_of_the_process_again():
    assert torch.get_num_threads() == AT_IMPORT

"""tests/conftest.py pins the thread count of the tests marked ``trains`` and gives the others theirs back."""

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


def test_after_it_the_other_tests_have_the_threads_of_the_process_again():
    assert torch.get_num_threads() == AT_IMPORT

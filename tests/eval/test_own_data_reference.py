"""A prepared data folder (or a run on one) as the evaluation reference, and the default extractor for it."""

from __future__ import annotations

import numpy as np
from own_data_helpers import pictures, write_folder

from genlab.config import TrainConfig
from genlab.data import DataOptions, prepare
from genlab.eval.evaluate import default_extractor, load_reference, run_reference


def test_a_prepared_folder_and_a_train_config_give_the_test_split(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    x = pictures(40, channels=3, size=64)
    write_folder(tmp_path / "d", x, np.arange(40) % 2)
    prepared = prepare(tmp_path / "d", DataOptions(image_size=32))
    test = load_reference(str(prepared.folder))
    train = load_reference(f"{prepared.folder}:train", n=5)
    assert test.images.shape == (4, 3, 32, 32) and train.images.shape == (5, 3, 32, 32)
    np.testing.assert_array_equal(test.images, prepared.split("test")[0])
    by_run = run_reference(TrainConfig(dataset=str(tmp_path / "d"), image_size=32))
    np.testing.assert_array_equal(by_run.images, test.images)
    assert run_reference(TrainConfig(dataset=str(tmp_path / "d"))).images.shape[1:] == (3, 64, 64)


def test_default_extractor_is_random_projection_for_a_path():
    assert default_extractor("/data/photos", (1, 28, 28)) == "random-projection"
    assert default_extractor("mnist", (1, 28, 28)) == "digits"
    assert default_extractor("shapes64", (3, 64, 64)) == "shapes"
    assert default_extractor(None, (3, 64, 64)) == "shapes"

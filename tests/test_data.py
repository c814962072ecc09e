import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from cnnbook import data
from cnnbook.data import (
    CLASSES,
    DataFormatError,
    DataNotFoundError,
    Split,
    augment_batch,
    load_cifar10,
    resize_batch,
)

pytest_plugins = ["pytester"]


def test_real_cifar_splits_have_the_right_sizes_dtypes_and_no_overlap(cifar):
    assert (len(cifar.train), len(cifar.val), len(cifar.test)) == (45_000, 5_000, 10_000)
    assert cifar.train.images.dtype == torch.uint8 and cifar.train.images.shape[1:] == (3, 32, 32)
    assert cifar.train.labels.dtype == torch.int64
    assert torch.bincount(cifar.test.labels).tolist() == [1000] * 10
    assert cifar.classes == CLASSES
    # train and validation come from disjoint images
    train_keys = {bytes(img.numpy()) for img in cifar.train.images[:2000]}
    assert not train_keys & {bytes(img.numpy()) for img in cifar.val.images}


def test_validation_split_is_fixed_by_the_seed():
    a, _ = data.split_indices(100, 10, seed=0)
    b, _ = data.split_indices(100, 10, seed=0)
    c, _ = data.split_indices(100, 10, seed=1)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_subset_takes_that_many_and_rejects_too_many(tiny_split):
    assert len(tiny_split.take(10)) == 10
    assert len(tiny_split.take_up_to(10)) == 10 and len(tiny_split.take_up_to(1000)) == len(tiny_split)
    assert torch.equal(tiny_split.take_up_to(10, seed=3).images, tiny_split.take(10, seed=3).images)
    with pytest.raises(ValueError, match="between 1 and 64"):
        tiny_split.take(65)


def test_augmentation_is_deterministic_under_a_seed_and_does_something(tiny_split):
    x = tiny_split.images
    a = augment_batch(x, torch.Generator().manual_seed(3))
    b = augment_batch(x, torch.Generator().manual_seed(3))
    c = augment_batch(x, torch.Generator().manual_seed(4))
    assert a.dtype == torch.uint8 and a.shape == x.shape
    assert torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, x)


def test_augmentation_is_a_crop_or_a_mirrored_crop_of_the_padded_image():
    x = torch.arange(3 * 32 * 32, dtype=torch.int64).view(1, 3, 32, 32).remainder(251).to(torch.uint8)
    x = x.expand(50, -1, -1, -1).contiguous()
    out = augment_batch(x, torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x[0], (4, 4, 4, 4))
    windows = {bytes(padded[:, i : i + 32, j : j + 32].numpy()) for i in range(9) for j in range(9)}
    windows |= {
        bytes(torch.flip(padded[:, i : i + 32, j : j + 32], dims=[2]).numpy()) for i in range(9) for j in range(9)
    }
    assert all(bytes(img.numpy()) in windows for img in out)


def test_batches_are_normalised_channels_last_floats(tiny_split):
    x, y = next(tiny_split.batches(16, shuffle=True, seed=0))
    assert x.dtype == torch.float32 and x.shape == (16, 3, 32, 32)
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert abs(x.mean().item()) < 1.0 and y.shape == (16,)
    assert sum(len(b[1]) for b in tiny_split.batches(10, drop_last=True)) == 60


def test_missing_data_names_the_folders_and_the_fix(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        load_cifar10(tmp_path, download=False)
    msg = str(err.value)
    assert "cifar-10-batches-py" in msg and "cifar10" in msg and "CNNBOOK_DATA" in msg


def test_failed_download_gives_one_clear_error(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("<urlopen error [Errno -2] Name or service not known>")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(DataNotFoundError, match="download into .* failed"):
        load_cifar10(tmp_path, download=True)


def test_data_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNBOOK_DATA", str(tmp_path))
    assert data.data_root() == tmp_path
    monkeypatch.delenv("CNNBOOK_DATA")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    assert data.data_root() == tmp_path / "home" / "cnnbook"


def make_tree(root, per_class=2):
    rng = np.random.default_rng(0)
    for split, n in (("train", per_class), ("test", 1)):
        for cls in CLASSES:
            folder = root / "cifar10" / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return root


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNBOOK_CACHE", str(tmp_path / "cache"))
    return make_tree(tmp_path / "data")


def test_image_folder_tree_is_decoded_and_cached_outside_it(tree, tmp_path):
    d = load_cifar10(tree, val_size=5)
    assert (len(d.train), len(d.val), len(d.test)) == (15, 5, 10)
    assert d.variant == "jpeg-image-folder"
    assert list((tmp_path / "cache").glob("cifar10-*.pt"))
    assert not list(tree.rglob("*.pt"))


def test_a_changed_source_is_decoded_again_not_served_stale(tree):
    before = load_cifar10(tree, val_size=5)
    img = tree / "cifar10" / "test" / "airplane" / "0.png"
    Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(img)
    after = load_cifar10(tree, val_size=5)
    assert not torch.equal(before.test.images, after.test.images)
    assert after.test.images[0].sum() == 0


def test_a_corrupt_cache_is_rebuilt(tree, tmp_path):
    load_cifar10(tree, val_size=5)
    cache = next((tmp_path / "cache").glob("cifar10-*.pt"))
    cache.write_bytes(b"garbage")
    assert len(load_cifar10(tree, val_size=5).test) == 10


def test_a_missing_class_folder_is_named(tree):
    for f in (tree / "cifar10" / "train" / "cat").iterdir():
        f.unlink()
    (tree / "cifar10" / "train" / "cat").rmdir()
    with pytest.raises(DataFormatError, match=r"Missing: \['cat'\]"):
        load_cifar10(tree, val_size=5)


def test_an_extra_class_folder_is_named(tree):
    (tree / "cifar10" / "train" / "unicorn").mkdir()
    with pytest.raises(DataFormatError, match=r"unexpected: \['unicorn'\]"):
        load_cifar10(tree, val_size=5)


def test_an_empty_class_is_named(tree):
    for f in (tree / "cifar10" / "test" / "dog").iterdir():
        f.unlink()
    with pytest.raises(DataFormatError, match="dog is empty"):
        load_cifar10(tree, val_size=5)


def test_a_truncated_image_is_named(tree):
    bad = tree / "cifar10" / "train" / "frog" / "1.png"
    bad.write_bytes(bad.read_bytes()[:40])
    with pytest.raises(DataFormatError, match=r"cannot decode .*frog.1\.png"):
        load_cifar10(tree, val_size=5)


def test_a_corrupt_canonical_copy_fails_its_checksum(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]:
        (folder / name).write_bytes(b"not cifar")
    with pytest.raises(DataFormatError, match="integrity check"):
        load_cifar10(tmp_path, download=False)


def test_split_rejects_inconsistent_arrays():
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        Split(torch.zeros(3, 3, 32, 32, dtype=torch.uint8), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="uint8"):
        Split(torch.zeros(3, 3, 32, 32), torch.zeros(3, dtype=torch.long))


def test_a_cache_from_another_version_is_rebuilt(tree, tmp_path, monkeypatch):
    load_cifar10(tree, val_size=5)
    monkeypatch.setattr(data, "CACHE_VERSION", data.CACHE_VERSION + 1)
    calls = []
    real = data._read_image_folder
    monkeypatch.setattr(data, "_read_image_folder", lambda folder: calls.append(folder) or real(folder))
    load_cifar10(tree, val_size=5)
    load_cifar10(tree, val_size=5)
    assert len(calls) == 1  # rebuilt once for the new version, then reused


def test_an_unusable_cache_warns_once_naming_cnnbook_cache_and_loading_goes_on(tree, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CNNBOOK_CACHE", str(blocker / "cache"))
    with pytest.warns(UserWarning, match=r"cannot cache the decoded CIFAR-10 in .*a-file.cache.*Set CNNBOOK_CACHE"):
        d = load_cifar10(tree, val_size=5)
    assert len(d.train) == 15
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_cifar10(tree, val_size=5).test) == 10  # decoded again, without a second warning


@pytest.mark.parametrize("ci, outcome", [("true", {"errors": 1}), ("", {"skipped": 1})])
def test_in_ci_missing_cifar_is_an_error_not_a_skip(pytester, monkeypatch, ci, outcome):
    root = Path(__file__).resolve().parent.parent
    assert "export CI=true" in (root / ".ci" / "run").read_text().splitlines()  # CI runs in CI mode
    pytester.makeconftest((root / "tests" / "conftest.py").read_text())
    pytester.makepyfile("def test_needs_data(cifar):\n    pass\n")
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("CNNBOOK_DATA", str(pytester.path / "no-data-here"))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(**outcome)


def test_resize_batch_scales_uint8_images_and_keeps_their_range():
    x = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    x[:, :, :, 16:] = 255  # left half black, right half white
    small = resize_batch(x, 24)
    assert small.shape == (2, 3, 24, 24) and small.dtype == torch.uint8
    assert small[..., 0].max() == 0 and small[..., -1].min() == 255  # the edges keep their colour
    assert resize_batch(x, 32) is x  # already that size: untouched


def test_a_sample_for_a_grid_spreads_over_the_classes_of_a_sorted_split():
    sorted_split = Split(torch.zeros(100, 3, 4, 4, dtype=torch.uint8), torch.arange(100) // 10)  # 10 per class
    sample = sorted_split.sample(16, seed=3)
    assert sample.labels[:10].tolist() == list(range(10)) and sample.labels[10:].tolist() == list(range(6))
    idx = sorted_split.sample_indices(16, seed=3)
    assert len(set(idx.tolist())) == 16 and torch.equal(sorted_split.labels[idx], sample.labels)
    assert not torch.equal(idx, sorted_split.sample_indices(16, seed=4))
    with pytest.raises(ValueError, match="between 1 and 100"):
        sorted_split.sample(0)


def test_recompressed_images_change_more_at_lower_quality_and_keep_their_labels(tiny_split):
    def change(quality):
        again = tiny_split.recompressed(quality)
        assert again.images.dtype == torch.uint8 and again.images.shape == tiny_split.images.shape
        assert torch.equal(again.labels, tiny_split.labels)
        return (again.images.float() - tiny_split.images.float()).abs().mean().item()

    assert 0 < change(95) < change(50) < change(10)

"""CIFAR-10 as uint8 tensors: find it, decode it once, split it, batch and augment it.

Where the data comes from, in order:

1. ``CNNBOOK_DATA`` (or the ``root`` argument): a folder holding torchvision's canonical
   ``cifar-10-batches-py/`` or an image-folder tree ``cifar10/{train,test}/<class>/``.
2. Unset: a per-user folder (``$XDG_DATA_HOME/cnnbook``, else ``~/.local/share/cnnbook``)
   into which torchvision downloads CIFAR-10 when the network is there.

Decoded arrays are cached in ``CNNBOOK_CACHE`` (default ``~/.cache/cnnbook``), never in the
data folder, keyed by the source's files (names, sizes, times) so a changed source is re-decoded.
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import settings
from .storage import CheckpointError, atomic_save, safe_load

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# Per-channel statistics of the CIFAR-10 training images (canonical release).
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
CACHE_VERSION = 1
CANONICAL_DIR = "cifar-10-batches-py"
IMAGE_FOLDER_DIR = "cifar10"


class DataNotFoundError(FileNotFoundError):
    """CIFAR-10 is neither where we looked nor downloadable."""


class DataFormatError(ValueError):
    """The data folder exists but does not hold a valid CIFAR-10 copy."""


def data_root() -> Path:
    """Where CIFAR-10 is looked for: ``CNNBOOK_DATA``, else ``$XDG_DATA_HOME/cnnbook`` (:mod:`cnnbook.settings`)."""
    return settings.current().data


def cache_dir() -> Path:
    """Folder for decoded-array caches: ``CNNBOOK_CACHE``, else ``$XDG_CACHE_HOME/cnnbook``."""
    return settings.current().cache


@dataclass
class Split:
    """Images ``(N, 3, 32, 32)`` uint8 and labels ``(N,)`` int64 of one split."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device | str) -> Split:
        return Split(self.images.to(device), self.labels.to(device))

    def take(self, n: int | None, seed: int = 0) -> Split:
        """A random subset of ``n`` examples (all of them when ``n`` is None)."""
        if n is None:
            return self
        if not 0 < n <= len(self):
            raise ValueError(f"subset must be between 1 and {len(self)} (the split's size), got {n}")
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        idx = idx.to(self.images.device)
        return Split(self.images[idx], self.labels[idx])

    def sample_indices(self, n: int, seed: int = 0) -> torch.Tensor:
        """Indices of ``n`` examples spread over the classes: one random example of each class in
        label order, then another of each, and so on (a class-sorted split, like CIFAR-10's test
        set, would otherwise show one class in its first images)."""
        if not 0 < n <= len(self):
            raise ValueError(f"a sample must hold between 1 and {len(self)} examples, got {n}")
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))
        labels = self.labels.cpu()[order]
        per_class = [order[labels == c] for c in labels.unique().tolist()]
        rounds = max(len(members) for members in per_class)
        interleaved = [members[i] for i in range(rounds) for members in per_class if i < len(members)]
        return torch.stack(interleaved[:n])

    def sample(self, n: int, seed: int = 0) -> Split:
        """``n`` examples spread over the classes (:meth:`sample_indices`), for grids of example images."""
        idx = self.sample_indices(n, seed).to(self.images.device)
        return Split(self.images[idx], self.labels[idx])

    def take_up_to(self, n: int, seed: int = 0) -> Split:
        """A random subset of ``n`` examples, or all of them when the split has fewer (a small budget's)."""
        return self.take(min(n, len(self)), seed)

    def recompressed(self, quality: int) -> Split:
        """The same examples with every image JPEG-encoded once more at ``quality`` (Pillow) and decoded:
        how much a model's accuracy moves under compression artefacts it was not trained on."""
        import io

        from PIL import Image

        def roundtrip(image: torch.Tensor) -> torch.Tensor:
            buffer = io.BytesIO()
            Image.fromarray(image.permute(1, 2, 0).cpu().numpy()).save(buffer, format="JPEG", quality=quality)
            return torch.from_numpy(np.array(Image.open(buffer).convert("RGB"))).permute(2, 0, 1)

        return Split(torch.stack([roundtrip(image) for image in self.images]), self.labels.clone())

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        augment: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        shard: tuple[int, int] = (0, 1),
        size: int | None = None,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield float batches and labels on the split's device.

        ``transform`` turns a uint8 batch into the model's input (default :func:`normalize`);
        ``size`` scales every (augmented) batch to ``size`` x ``size`` pixels first (:func:`resize_batch`).
        ``shard=(rank, world_size)`` yields this process's share of every batch (every
        ``world_size``-th image of it): all processes draw the same order, so together they
        see each batch exactly once, and each augments its share with its own random stream.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        rank, world_size = shard
        if not 0 <= rank < world_size or batch_size % world_size:
            raise ValueError(
                f"cannot split batches of {batch_size} into shard {rank} of {world_size}: "
                "the batch size must be a multiple of the number of processes"
            )
        gen = torch.Generator(device="cpu").manual_seed(seed)
        n = len(self)
        order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
        order = order.to(self.images.device)
        if world_size > 1:
            gen = torch.Generator(device="cpu").manual_seed(seed * world_size + rank + 1)
        stop = n - n % batch_size if drop_last and n >= batch_size else n
        for start in range(0, stop, batch_size):
            idx = order[start : start + batch_size][rank::world_size]
            x = self.images[idx]
            if augment:
                x = augment_batch(x, gen)
            if size is not None:
                x = resize_batch(x, size)
            yield (transform or normalize)(x), self.labels[idx]

    def num_batches(self, batch_size: int, drop_last: bool = False) -> int:
        n = len(self)
        return n // batch_size if drop_last and n >= batch_size else -(-n // batch_size)


@dataclass
class CIFAR10:
    """Train / validation / test splits and class names."""

    train: Split
    val: Split
    test: Split
    classes: tuple[str, ...]
    variant: str  # "canonical" or "jpeg-image-folder"
    source: str

    def to(self, device: torch.device | str) -> CIFAR10:
        return CIFAR10(
            self.train.to(device), self.val.to(device), self.test.to(device), self.classes, self.variant, self.source
        )

    def __repr__(self) -> str:
        return (
            f"CIFAR10(train={len(self.train)}, val={len(self.val)}, test={len(self.test)}, "
            f"variant={self.variant!r}, source={self.source!r})"
        )


def normalize(x: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, 3, H, W)`` -> float32, per-channel standardised, channels-last."""
    mean, std = _mean_std_255(x.device)
    x = (x.float() - mean) / std
    return x.contiguous(memory_format=torch.channels_last)


@functools.cache
def _mean_std_255(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10's channel mean and std on the 0-255 scale, made on ``device`` once: a training step
    that built them would copy them from the host, and wait for that copy, every time."""
    with torch.inference_mode(False):  # usable in and out of inference mode
        mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1) * 255
        std = torch.tensor(STD, device=device).view(1, 3, 1, 1) * 255
    return mean, std


def augment_batch(x: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Random ``padding``-pixel crop (zero padding) and horizontal flip of a whole uint8 batch.

    One gather per batch, no per-image Python: each image gets its own offset and flip.
    """
    n, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    dy, dx, flip = torch.stack([dy, dx, flip.long()]).to(x.device)  # one host-to-device copy, not three
    flip = flip.bool()
    rows = dy[:, None] + torch.arange(h, device=x.device)  # (n, h)
    cols = torch.arange(w, device=x.device).expand(n, w)
    cols = torch.where(flip[:, None], cols.flip(1), cols) + dx[:, None]  # (n, w)
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (n, h, w, c)
    return out.permute(0, 3, 1, 2)


def resize_batch(x: torch.Tensor, size: int) -> torch.Tensor:
    """A uint8 batch scaled to ``size`` x ``size`` pixels (bilinear, antialiased), still uint8."""
    if x.shape[-2:] == (size, size):
        return x
    scaled = F.interpolate(x.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return scaled.round().clamp(0, 255).to(torch.uint8)


def split_indices(n: int, val_size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed random train/validation partition of ``range(n)``."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[val_size:], perm[:val_size]


VAL_IMAGES = 5000  # CIFAR-10's 50,000 training images less these are the training split
TRAIN_IMAGES = 50000 - VAL_IMAGES


def load_cifar10(
    root: str | Path | None = None,
    *,
    subset: int | None = None,
    val_size: int = VAL_IMAGES,
    val_subset: int | None = None,
    test_subset: int | None = None,
    seed: int = 0,
    download: bool = True,
) -> CIFAR10:
    """Load CIFAR-10 as :class:`CIFAR10` splits (45k train / 5k validation / 10k test).

    ``subset``, ``val_subset`` and ``test_subset`` keep random parts of the splits for short
    runs. The validation split itself is fixed by ``seed``.
    """
    if val_size < 1 or val_size >= 50000:
        raise ValueError(f"val_size must be between 1 and 49999, got {val_size}")
    arrays, variant, source = _load_arrays(Path(root).expanduser() if root else data_root(), download)
    train_idx, val_idx = split_indices(len(arrays["train_labels"]), val_size, seed)
    train = Split(arrays["train_images"][train_idx], arrays["train_labels"][train_idx])
    val = Split(arrays["train_images"][val_idx], arrays["train_labels"][val_idx])
    test = Split(arrays["test_images"], arrays["test_labels"])
    return CIFAR10(
        train.take(subset, seed), val.take(val_subset, seed), test.take(test_subset, seed), CLASSES, variant, source
    )


def _load_arrays(root: Path, download: bool) -> tuple[dict, str, str]:
    canonical, folder = root / CANONICAL_DIR, root / IMAGE_FOLDER_DIR
    if canonical.is_dir():
        return _cached(canonical, "canonical", _read_canonical), "canonical", str(canonical)
    if folder.is_dir():
        return _cached(folder, "jpeg-image-folder", _read_image_folder), "jpeg-image-folder", str(folder)
    if download:
        try:
            import torchvision

            torchvision.datasets.CIFAR10(root, train=True, download=True)
        except Exception as exc:  # offline, DNS, permission...
            raise _not_found(root, f"the download into {root} failed ({type(exc).__name__}: {exc})") from None
        return _cached(canonical, "canonical", _read_canonical), "canonical", str(canonical)
    raise _not_found(root, "download=False")


def _not_found(root: Path, why: str) -> DataNotFoundError:
    return DataNotFoundError(
        f"CIFAR-10 not found. Looked for {root / CANONICAL_DIR} (torchvision's files) and "
        f"{root / IMAGE_FOLDER_DIR}/{{train,test}}/<class>/ (image folders); {why}. "
        "Fix: set CNNBOOK_DATA to a folder holding one of these "
        "(e.g. export CNNBOOK_DATA=../shared/data), or run once with network access so "
        f"torchvision can download it into {root}."
    )


def _source_key(folder: Path) -> str:
    """Hash of every file's relative path, size and mtime below ``folder``."""
    h = hashlib.sha256(f"v{CACHE_VERSION}".encode())
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            st = os.stat(os.path.join(dirpath, name))
            rel = os.path.relpath(os.path.join(dirpath, name), folder)
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _cached(folder: Path, variant: str, reader) -> dict:
    """Decode ``folder`` with ``reader`` once; reuse the cache while the source's key matches."""
    key = _source_key(folder)
    path = cache_dir() / f"cifar10-{variant}-{hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:12]}.pt"
    try:
        cached = safe_load(path) if path.is_file() else None
        if cached.get("source_key") == key and cached.get("version") == CACHE_VERSION:
            return cached["arrays"]
    except Exception:
        pass  # no, corrupt, unreadable or foreign cache: decode again below
    arrays = reader(folder)
    try:
        atomic_save({"version": CACHE_VERSION, "source_key": key, "arrays": arrays}, path)
    except (OSError, CheckpointError) as exc:
        _warn_cache_unusable(path.parent, exc)  # an unwritable cache only costs time on the next load
    return arrays


_warned_caches: set[Path] = set()


def _warn_cache_unusable(folder: Path, exc: Exception) -> None:
    """Say once per folder that decoded images cannot be cached there, and how to fix it."""
    if folder in _warned_caches:
        return
    _warned_caches.add(folder)
    reason = str(exc).split(": ", 1)[-1] if isinstance(exc, CheckpointError) else (exc.strerror or str(exc))
    warnings.warn(
        f"cannot cache the decoded CIFAR-10 in {folder} ({reason.split('. ')[0]}); loading continues, but every "
        "load decodes the images again. Set CNNBOOK_CACHE to a writable folder to keep them",
        stacklevel=4,
    )


def _read_canonical(folder: Path) -> dict:
    import torchvision

    out = {}
    for train, prefix in ((True, "train"), (False, "test")):
        try:
            ds = torchvision.datasets.CIFAR10(folder.parent, train=train, download=False)
        except RuntimeError as exc:
            raise DataFormatError(
                f"{folder} failed torchvision's integrity check ({exc}). Delete it and download "
                "again, or point CNNBOOK_DATA at a good copy."
            ) from None
        out[f"{prefix}_images"] = torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)))
        out[f"{prefix}_labels"] = torch.tensor(ds.targets, dtype=torch.int64)
    return out


def _read_image_folder(folder: Path) -> dict:
    from PIL import Image

    out = {}
    for split in ("train", "test"):
        split_dir = folder / split
        if not split_dir.is_dir():
            raise DataFormatError(f"{split_dir} is missing; expected {folder}/{{train,test}}/<class>/")
        found = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
        if tuple(found) != CLASSES:
            missing = sorted(set(CLASSES) - set(found))
            extra = sorted(set(found) - set(CLASSES))
            raise DataFormatError(
                f"{split_dir} must hold exactly the 10 CIFAR-10 class folders. "
                f"Missing: {missing or 'none'}; unexpected: {extra or 'none'}."
            )
        images, labels = [], []
        for label, cls in enumerate(CLASSES):
            files = sorted(p for p in (split_dir / cls).iterdir() if p.is_file())
            if not files:
                raise DataFormatError(f"class folder {split_dir / cls} is empty")
            for path in files:
                try:
                    with Image.open(path) as img:
                        arr = np.asarray(img.convert("RGB"))
                except Exception as exc:
                    raise DataFormatError(f"cannot decode {path}: {exc}. Remove or replace the file.") from None
                if arr.shape != (32, 32, 3):
                    raise DataFormatError(f"{path} is {arr.shape[1]}x{arr.shape[0]}, expected 32x32 RGB")
                images.append(arr)
                labels.append(label)
        out[f"{split}_images"] = torch.from_numpy(np.stack(images).transpose(0, 3, 1, 2).copy())
        out[f"{split}_labels"] = torch.tensor(labels, dtype=torch.int64)
    return out

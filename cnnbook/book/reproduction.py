"""The papers' CIFAR-10 test errors beside published reimplementations and the book's stored runs."""

from __future__ import annotations

from dataclasses import dataclass

from ..analysis.spread import Spread
from ..runs.reference import stored_seeds


@dataclass(frozen=True)
class Published:
    """A network's CIFAR-10 test error (%) as published: the paper's, and reimplementations'."""

    network: str  # the registry name of our closest model
    paper: str  # the paper's figure with its source, e.g. "8.75 (He et al., Table 6)"
    others: str  # reimplementations, e.g. "8.27 (Idelbayev)"
    runs: dict[str, str]  # budget -> the reference run that measures it


# He et al. 2016, Table 6 (augmented CIFAR-10, 64k steps); UvA Tutorial 5 (180 epochs, 45k/5k split);
# Idelbayev's reimplementation (akamaster/pytorch_resnet_cifar10, 200 epochs). The quick side runs train on a
# 2,000-image subset, so only their full-budget twins measure test error on the paper's terms.
BOTH = ("quick", "full")
PUBLISHED = (
    Published(
        "resnet20",
        "8.75 (He et al., Table 6)",
        "8.27 (Idelbayev); 8.94 (UvA ResNet)",
        dict.fromkeys(BOTH, "resnet20"),
    ),
    Published(
        "resnet56",
        "6.97 (He et al., Table 6)",
        "6.61 (Idelbayev); about 7.6 ± 0.6 (independent reruns)",
        {"full": "side-resnet56"},
    ),
    Published(
        "plain56",
        "not given (Fig. 6: training error only)",
        "—",
        {"full": "side-plain56"},
    ),
    Published(
        "googlenet_cifar",
        "— (ImageNet network)",
        "10.30 (UvA GoogleNet)",
        dict.fromkeys(BOTH, "googlenet_cifar"),
    ),
    Published(
        "densenet_cifar",
        "— (no paper network of this size)",
        "9.77 (UvA DenseNet)",
        dict.fromkeys(BOTH, "densenet_cifar"),
    ),
)


def reproduction_rows(budgets: tuple[str, ...] = ("quick", "full")) -> list[dict]:
    """One row per network: published test errors and ours (mean ± sd over the stored seeds) at each
    budget; a cell without a stored run names the command that fills it."""
    rows = []
    for p in PUBLISHED:
        row = {"network": p.network, "paper (% error)": p.paper, "reimplementations (% error)": p.others}
        for budget in budgets:
            run = p.runs.get(budget)
            column = f"ours, {budget} (% error)"
            if run is None:
                row[column] = "— (the quick runs of this network train on a 2,000-image subset)"
                continue
            seeds = stored_seeds(run, budget)
            if not seeds:
                row[column] = f"`python -m cnnbook reproduce --budget {budget} --only {run}`"
                continue
            error = Spread.of([1 - r.test["accuracy"] for r in seeds])
            row[column] = f"{error.format()} ({error.n} seed{'s' * (error.n > 1)}, {len(seeds[0].history)} epochs)"
        rows.append(row)
    return rows

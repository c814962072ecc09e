"""Which Inception branches a trained GoogLeNet uses: each branch's mean activation, and the accuracy
lost when it outputs zeros (an ablation)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import normalize
from ..models.base import evaluation_mode
from ..models.inception import GoogLeNet, InceptionModule
from ..training.device import autocast, resolve_precision
from ..training.loop import progress_bar
from . import probe


@dataclass
class BranchContributions:
    """Per module (rows) and branch (columns, ``InceptionModule.branches``) of a trained network."""

    modules: list[str]  # the modules' names in the network, e.g. "body.inception3a"
    mean_activation: torch.Tensor  # mean output of the branch's channels on the probe images
    accuracy_drop: torch.Tensor  # accuracy lost (fraction) when the branch outputs zeros
    baseline: float  # accuracy of the intact network


@torch.inference_mode()
def branch_contributions(
    model: GoogLeNet,
    split,
    activation_images: int = 256,
    batch_size: int = 100,
    precision: str = "auto",
    progress: bool = True,
) -> BranchContributions:
    """Describe (mean activation) and ablate (zero one branch at a time) every Inception branch.

    ``split`` is a ``cnnbook.data.Split``; the ablation classifies all of it once per branch, the
    mean activation uses its first ``activation_images`` images. A module's input is computed once
    per batch, and each of its ablations reruns the network from that module on; ``progress`` shows
    a bar over the batches (none where ``TQDM_DISABLE`` is set, as in a book build).
    """
    if not isinstance(model, GoogLeNet):
        raise TypeError(f"branch_contributions needs a GoogLeNet, got {type(model).__name__}")
    layers = enumerate(model.body.named_children())
    modules = {k: f"body.{name}" for k, (name, layer) in layers if isinstance(layer, InceptionModule)}
    paths = {k: [f"{module}.{branch}" for branch in InceptionModule.branches] for k, module in modules.items()}
    outputs = probe.feature_maps(model, normalize(split.images[:activation_images]), sum(paths.values(), []))
    mean_activation = torch.tensor([[outputs[p].mean().item() for p in row] for row in paths.values()])
    device = next(model.parameters()).device
    precision = resolve_precision(precision, device)
    correct, ablated_correct = 0, {k: torch.zeros(len(InceptionModule.branches)) for k in paths}
    bar = progress_bar(split.num_batches(batch_size), "branch ablation", progress)
    with evaluation_mode(model):
        for x, y in split.to(device).batches(batch_size):
            with autocast(device, precision):
                h = model.stem(x)
                for k, layer in enumerate(model.body):
                    for j, path in enumerate(paths.get(k, [])):
                        with probe.zero_output(model, path):
                            ablated_correct[k][j] += (model.forward_from(h, k).argmax(1) == y).sum().item()
                    h = layer(h)
                correct += (model.classify(h).argmax(1) == y).sum().item()
            bar.update()
    bar.close()
    drop = (correct - torch.stack(list(ablated_correct.values()))) / len(split)
    return BranchContributions(list(modules.values()), mean_activation, drop, correct / len(split))

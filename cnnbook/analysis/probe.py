"""Look inside a network: activations via forward hooks, gradient norms per layer."""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from ..models.base import evaluation_mode


@contextmanager
def capture_outputs(model: nn.Module, names: list[str]):
    """Within the block, ``store[name]`` holds the latest output of each named submodule."""
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise ValueError(f"no submodule named {missing}; some valid names: {list(modules)[1:12]}")
    store: dict[str, torch.Tensor] = {}
    handles = [modules[n].register_forward_hook(_saver(store, n)) for n in names]
    try:
        yield store
    finally:
        for h in handles:
            h.remove()


def _saver(store: dict, name: str):
    def hook(module, inputs, output):
        store[name] = output.detach()

    return hook


@torch.no_grad()
def feature_maps(model: nn.Module, images: torch.Tensor, names: list[str]) -> dict[str, torch.Tensor]:
    """Outputs of the named submodules for a normalised batch ``images`` (model in eval mode)."""
    device = next(model.parameters()).device
    with capture_outputs(model, names) as store, evaluation_mode(model):
        model(images.to(device))
    return {n: store[n].cpu() for n in names}


def gradient_norms(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, layer_type: type = nn.Conv2d
) -> tuple[list[str], list[float]]:
    """L2 norm of the loss gradient w.r.t. each ``layer_type`` layer's weight, input to output."""
    model.zero_grad(set_to_none=True)
    device = next(model.parameters()).device
    F.cross_entropy(model(x.to(device)), y.to(device)).backward()
    names, norms = [], []
    for name, module in model.named_modules():
        if isinstance(module, layer_type) and module.weight.grad is not None:
            names.append(name)
            norms.append(module.weight.grad.norm().item())
    model.zero_grad(set_to_none=True)
    return names, norms


def relative_gradient_norms(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, layer_type: type = nn.Conv2d
) -> tuple[list[str], list[float]]:
    """``||dL/dW|| / ||W||`` for each ``layer_type`` layer's weight, input to output.

    Raw gradient norms are not comparable across layers: a norm sums over all of a layer's
    weights, so a layer with 16x the weights has a gradient about 4x larger with the same
    per-weight signal, and behind a batch norm the gradient also shrinks as ``W`` grows
    (the loss does not change when ``W`` is scaled). Divided by ``||W||``, the value is the
    relative change one SGD step of learning rate 1 makes to the layer: a scale-free measure
    of how fast each layer learns.
    """
    names, norms = gradient_norms(model, x, y, layer_type)
    modules = dict(model.named_modules())
    return names, [norm / modules[name].weight.norm().item() for name, norm in zip(names, norms)]


@contextmanager
def zero_output(model: nn.Module, name: str):
    """Within the block, the submodule ``name`` outputs zeros (an ablation of that path)."""
    modules = dict(model.named_modules())
    if name not in modules:
        raise ValueError(f"no submodule named {name!r}; some valid names: {list(modules)[1:12]}")
    handle = modules[name].register_forward_hook(lambda module, inputs, output: torch.zeros_like(output))
    try:
        yield model
    finally:
        handle.remove()


class LayerTrace:
    """A training callback that records, after every epoch, how each convolution of ``model`` is
    learning: its weight norm ``||W||``, the relative gradient ``||dL/dW|| / ||W||`` on a fixed
    batch ``(x, y)`` of normalised training images, and the relative step ``||W_e - W_(e-1)|| /
    ||W_(e-1)||`` the epoch took (from the initial weights for the first epoch).

    The three lists (input to output) go into the epoch's history record as ``weight_norm``,
    ``rel_grad`` and ``rel_step``. Training is unchanged: batch-norm statistics are restored after the
    probe's forward pass and its gradients discarded.
    """

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor):
        self.model, self.x, self.y = model, x, y
        self.previous, self.seen = self._weights(), 0  # the weights after epoch `seen`

    def _convs(self) -> list[nn.Conv2d]:
        return [m for m in self.model.modules() if isinstance(m, nn.Conv2d)]

    def _weights(self) -> list[torch.Tensor]:
        # on the CPU: training may move the model to a GPU after the trace is made
        return [conv.weight.detach().to("cpu", torch.float32, copy=True) for conv in self._convs()]

    def __call__(self, history) -> bool:
        buffers = {name: b.clone() for name, b in self.model.named_buffers()}
        was_training = self.model.training
        self.model.train()  # the gradient training sees: batch statistics, as in every step
        _, grads = gradient_norms(self.model, self.x, self.y)
        self.model.train(was_training)
        with torch.no_grad():
            for name, b in self.model.named_buffers():
                b.copy_(buffers[name])
        weights = self._weights()
        norms = [w.norm().item() for w in weights]
        # a resumed run starts from a checkpoint: the step of its first epoch is not known (None)
        known = len(history) == self.seen + 1
        steps = [(w - p).norm().item() / p.norm().item() if known else None for w, p in zip(weights, self.previous)]
        history.last.update(weight_norm=norms, rel_grad=[g / n for g, n in zip(grads, norms)], rel_step=steps)
        self.previous, self.seen = weights, len(history)
        return False

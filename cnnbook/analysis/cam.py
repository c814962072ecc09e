"""Grad-CAM: where in the image a network finds the evidence for a class (Selvaraju et al., 2017).

The gradients of a class score with respect to a layer's activations, averaged over the
spatial positions, say how much each channel matters for that class. Summing the
activation maps with these weights and keeping the positive part gives a coarse map of the
evidence, which is upsampled to the image size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..models.base import evaluation_mode


def grad_cam(
    model: nn.Module, images: torch.Tensor, layer: str, classes: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM maps of normalised ``images`` at the submodule named ``layer``.

    ``classes`` picks the class explained for each image (default: the model's prediction).
    Returns ``(maps, classes)``: maps of shape ``(N, H, W)`` scaled to [0, 1] per image, on the CPU.
    The model's parameters and their gradients are left as they were.
    """
    modules = dict(model.named_modules())
    if layer not in modules:
        raise ValueError(f"no submodule named {layer!r}; some valid names: {list(modules)[1:12]}")
    store: dict[str, torch.Tensor] = {}

    def keep(module, inputs, output):
        store["activation"] = output
        output.register_hook(lambda grad: store.__setitem__("gradient", grad))

    device = next(model.parameters()).device
    saved_grads = {name: p.grad for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)  # backward must not add into the caller's gradients
    handle = modules[layer].register_forward_hook(keep)
    try:
        with torch.enable_grad(), evaluation_mode(model):
            x = images.to(device).float().requires_grad_(True)
            logits = model(x)
            if classes is None:
                classes = logits.argmax(1)
            classes = classes.to(device)
            logits.gather(1, classes[:, None]).sum().backward()
    finally:
        handle.remove()
        for name, p in model.named_parameters():
            p.grad = saved_grads[name]
    activation, gradient = store["activation"].detach(), store["gradient"]
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * activation).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    cam = cam / cam.flatten(1).amax(dim=1).clamp(min=1e-12)[:, None, None]
    return cam.cpu(), classes.cpu()

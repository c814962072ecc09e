"""A feature-map explorer that needs no kernel: the maps are computed once, when the chapter runs,
and a small script on the page switches layer and image.

PyTorch does not run in a browser, so a reader of the static book cannot ask a network anything;
but the answers to the questions a reader would ask here (what does layer L make of image i?) are
few enough to store. :func:`explorer` computes, for a sample of test images, the first channels of
every explored layer and a Grad-CAM map, as small PNGs (each map at its own resolution, scaled up
by the browser without smoothing), and returns an HTML block holding them with a layer menu and an
image slider: the same page works in JupyterLab, in the built book and offline.
"""

from __future__ import annotations

import base64
import html
import io
import json
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import matplotlib
import torch
from PIL import Image

from ..analysis.cam import grad_cam
from ..analysis.probe import feature_maps
from ..data import normalize

SCRIPT = """
(function () {
  const root = document.getElementById(%(id)s);
  const data = JSON.parse(root.querySelector('script[type="application/json"]').textContent);
  const layer = root.querySelector('select'), image = root.querySelector('input[type=range]');
  const maps = root.querySelector('.cnnbook-maps'), picture = root.querySelector('.cnnbook-input');
  const cam = root.querySelector('.cnnbook-cam'), label = root.querySelector('output');
  const caption = root.querySelector('figcaption');
  function show() {
    const l = data.layers[layer.selectedIndex], i = Number(image.value);
    maps.src = data.maps[l.name][i];
    maps.alt = `${data.channels} channels of ${l.name} for test image ${i + 1} (${data.labels[i]})`;
    picture.src = data.images[i];
    picture.alt = `test image ${i + 1}: ${data.labels[i]}`;
    cam.src = data.cams[i];
    cam.alt = `Grad-CAM of test image ${i + 1}, predicted ${data.predictions[i]}`;
    label.textContent = `${i + 1} of ${data.images.length}: ${data.labels[i]}`;
    caption.textContent = `${l.name}: ${l.shape}, its first ${data.channels} channels; ` +
      `Grad-CAM at ${data.cam_layer}: predicted ${data.predictions[i]}`;
  }
  layer.addEventListener('change', show);
  image.addEventListener('input', show);
  show();
})();
"""

STYLE = """
.cnnbook-explorer { border: 1px solid color-mix(in srgb, currentColor 25%, transparent); border-radius: 6px;
  padding: 0.6em 0.8em; margin: 0.8em 0; max-width: 100%; box-sizing: border-box; }
.cnnbook-explorer .cnnbook-controls { display: flex; flex-wrap: wrap; gap: 0.4em 1.2em; align-items: center; }
.cnnbook-explorer select, .cnnbook-explorer input { font: inherit; color: inherit; }
.cnnbook-explorer select { background: transparent; }
.cnnbook-explorer select option { color: #222; }
.cnnbook-explorer .cnnbook-row { display: flex; flex-wrap: wrap; gap: 0.6em; align-items: flex-start;
  margin-top: 0.6em; }
.cnnbook-explorer img { image-rendering: pixelated; height: auto; }
.cnnbook-explorer .cnnbook-input, .cnnbook-explorer .cnnbook-cam { width: 96px; }
.cnnbook-explorer .cnnbook-maps { width: min(100%, 34em); }
.cnnbook-explorer figure { margin: 0; }
.cnnbook-explorer figcaption { color: inherit; font-size: 0.85em; margin-top: 0.3em; }
"""


def _png(image: Image.Image) -> str:
    """``image`` as a PNG data URI."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _rgb(pixels: torch.Tensor) -> Image.Image:
    """A ``(H, W, 3)`` uint8 tensor as an image."""
    return Image.fromarray(pixels.numpy())


# 255 levels of viridis, then white for the gaps: maps are stored as palette images, a third the size of RGB
_PALETTE = (matplotlib.colormaps["viridis"].resampled(255)(range(255))[:, :3] * 255).round().astype("uint8")
_PALETTE = [int(v) for v in _PALETTE.flatten()] + [255, 255, 255]


def _strip(maps: torch.Tensor, gap: int = 1) -> Image.Image:
    """``(C, H, W)`` activation maps side by side, each scaled to its own range and coloured with
    viridis, separated by white ``gap``-pixel lines."""
    low = maps.amin(dim=(1, 2), keepdim=True)
    high = maps.amax(dim=(1, 2), keepdim=True)
    levels = ((maps - low) / (high - low).clamp_min(1e-8) * 254).round().to(torch.uint8)
    c, h, w = levels.shape
    strip = torch.full((h, c * (w + gap) - gap), 255, dtype=torch.uint8)
    for i in range(c):
        strip[:, i * (w + gap) : i * (w + gap) + w] = levels[i]
    image = Image.fromarray(strip.numpy(), mode="P")
    image.putpalette(_PALETTE)
    return image


def _overlay(image: torch.Tensor, cam: torch.Tensor, alpha: float = 0.45) -> torch.Tensor:
    """A ``(3, H, W)`` uint8 image with its ``(H, W)`` Grad-CAM map (0 to 1) laid over it in jet colours."""
    heat = torch.from_numpy(matplotlib.colormaps["jet"](cam.numpy())[..., :3] * 255)
    mixed = (1 - alpha) * image.permute(1, 2, 0).double() + alpha * heat
    return mixed.round().clamp(0, 255).to(torch.uint8)


@dataclass
class Explorer:
    """The explorer's content (data URIs of PNGs) and the HTML that shows it (``_repr_html_``)."""

    layers: list[dict]  # {"name", "shape"} per explored layer
    maps: dict[str, list[str]]  # layer name -> one PNG strip per image
    images: list[str]
    cams: list[str]
    labels: list[str]
    predictions: list[str]
    channels: int
    cam_layer: str
    # the page element's: unique, since JupyterLab shows several notebooks in one page
    id: str = field(default_factory=lambda: f"cnnbook-explorer-{uuid.uuid4().hex[:8]}")

    @property
    def size(self) -> int:
        """The bytes the explorer adds to a page."""
        return len(self._repr_html_().encode())

    def _repr_html_(self) -> str:
        data = json.dumps({k: v for k, v in asdict(self).items() if k != "id"}).replace("</", "<\\/")
        first = self.layers[0]["name"]
        options = "".join(f"<option>{html.escape(layer['name'])}</option>" for layer in self.layers)
        return f"""<div class="cnnbook-explorer" id="{self.id}">
<style>{STYLE}</style>
<div class="cnnbook-controls">
<label>layer <select aria-label="layer">{options}</select></label>
<label>test image <input type="range" min="0" max="{len(self.images) - 1}" value="0" step="1"
 aria-label="test image"></label> <output>1 of {len(self.images)}: {html.escape(self.labels[0])}</output>
</div>
<figure><div class="cnnbook-row">
<img class="cnnbook-input" src="{self.images[0]}" alt="test image 1: {html.escape(self.labels[0])}">
<img class="cnnbook-cam" src="{self.cams[0]}" alt="Grad-CAM of test image 1">
<img class="cnnbook-maps" src="{self.maps[first][0]}" alt="{self.channels} channels of {html.escape(first)}">
</div><figcaption></figcaption></figure>
<script type="application/json">{data}</script>
<script>{SCRIPT % {"id": json.dumps(self.id)}}</script>
</div>"""


def explorer(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: Sequence[int],
    classes: Sequence[str],
    layers: Sequence[str],
    cam_layer: str,
    channels: int = 8,
) -> Explorer:
    """Precompute the explorer for ``images`` (uint8, e.g. one test image per class): the first
    ``channels`` maps of every layer in ``layers`` and the Grad-CAM map at ``cam_layer``."""
    x = normalize(images)
    maps = feature_maps(model, x, [*layers, ""])  # "": the model itself, whose output is the logits
    outputs = maps.pop("").shape[1]
    if len(classes) != outputs or max(map(int, labels), default=0) >= outputs:
        raise ValueError(f"explorer: {len(classes)} class names for a model of {outputs} classes and labels {labels}")
    cams, predictions = grad_cam(model, x, cam_layer)
    return Explorer(
        layers=[{"name": name, "shape": " x ".join(map(str, maps[name].shape[1:]))} for name in layers],
        maps={name: [_png(_strip(m[:channels].float().cpu())) for m in maps[name]] for name in layers},
        images=[_png(_rgb(image.permute(1, 2, 0).cpu())) for image in images],
        cams=[_png(_rgb(_overlay(image.cpu(), cam.cpu()))) for image, cam in zip(images, cams)],
        labels=[classes[int(label)] for label in labels],
        predictions=[classes[int(p)] for p in predictions],
        channels=channels,
        cam_layer=cam_layer,
    )

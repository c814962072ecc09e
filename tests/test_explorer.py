"""The kernel-free feature-map explorer (cnnbook.book.explorer): what it stores, and how big it is.
The browser check (.ci/check_site.py, tests/test_check_site.py) clicks through it."""

import base64
import io
import json
import re

import torch
from PIL import Image

from cnnbook import get_model
from cnnbook.book import viz

LAYERS = ["stem", "stages.0", "stages.1", "stages.2"]


def explorer(n=10):
    torch.manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8)
    return viz.explorer(get_model("resnet20").eval(), images, list(range(n)), [str(i) for i in range(10)],
                        LAYERS, cam_layer="stages.2")  # fmt: skip


def picture(uri: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(uri.removeprefix("data:image/png;base64,"))))


def test_every_layer_has_a_strip_of_its_maps_at_its_own_resolution_for_every_image():
    shown = explorer()
    assert [layer["shape"] for layer in shown.layers] == ["16 x 32 x 32", "16 x 32 x 32", "32 x 16 x 16", "64 x 8 x 8"]
    for name, size in zip(LAYERS, (32, 32, 16, 8)):
        assert len(shown.maps[name]) == 10
        strip = picture(shown.maps[name][3])
        assert strip.size == (8 * size + 7, size) and strip.mode == "P"  # 8 channels, 1-pixel gaps
    assert picture(shown.images[0]).size == (32, 32) and picture(shown.cams[0]).size == (32, 32)
    assert shown.labels == [str(i) for i in range(10)] and len(shown.predictions) == 10


def test_the_page_block_holds_its_data_controls_and_script_and_stays_small():
    shown = explorer()
    page = shown._repr_html_()
    data = json.loads(re.search(r'<script type="application/json">(.*?)</script>', page, re.S).group(1))
    assert data["maps"] == shown.maps and "id" not in data
    assert page.count("<option>") == 4 and 'type="range"' in page and 'max="9"' in page
    assert f'getElementById("{shown.id}")' in page and f'id="{shown.id}"' in page
    assert shown.size < 400_000  # random images compress worst; the chapter's real ones are smaller
    assert explorer().id != shown.id  # two explorers on one JupyterLab page do not collide


def test_too_few_class_names_is_a_clear_error():
    import pytest

    images = torch.zeros(3, 3, 32, 32, dtype=torch.uint8)
    with pytest.raises(ValueError, match="3 class names"):
        viz.explorer(get_model("resnet20").eval(), images, [0, 1, 5], list("abc"), LAYERS, cam_layer="stages.2")

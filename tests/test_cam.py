import pytest
import torch
from torch import nn

import cnnbook
from cnnbook.analysis.cam import grad_cam


class BrightnessNet(nn.Module):
    """Class 0 = bright, class 1 = dark: its evidence is exactly where the image is bright."""

    def __init__(self):
        super().__init__()
        self.features = nn.Conv2d(3, 1, 1)
        nn.init.ones_(self.features.weight)
        nn.init.zeros_(self.features.bias)
        self.fc = nn.Linear(1, 2)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[1.0], [-1.0]]))
            self.fc.bias.zero_()

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


def test_the_map_lights_up_where_the_evidence_is():
    images = torch.zeros(2, 3, 16, 16)
    images[0, :, 2:6, 2:6] = 1.0  # top-left square
    images[1, :, 10:14, 9:15] = 1.0  # bottom-right rectangle
    maps, classes = grad_cam(BrightnessNet(), images, "features")
    assert classes.tolist() == [0, 0]
    assert maps.shape == (2, 16, 16) and maps.min() >= 0 and torch.allclose(maps.amax(dim=(1, 2)), torch.ones(2))
    assert maps[0, 2:6, 2:6].mean() > 0.9 and maps[0, 10:, 10:].max() < 0.1
    assert maps[1, 10:14, 9:15].mean() > 0.9 and maps[1, :6, :6].max() < 0.1


def test_explaining_the_other_class_finds_no_positive_evidence():
    images = torch.zeros(1, 3, 8, 8)
    images[0, :, :4] = 1.0
    maps, classes = grad_cam(BrightnessNet(), images, "features", classes=torch.tensor([1]))
    assert classes.tolist() == [1] and maps.abs().max() == 0


def test_real_models_give_one_map_per_image_and_keep_their_state():
    model = cnnbook.get_model("resnet20").train()
    model.fc.weight.grad = torch.ones_like(model.fc.weight)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    maps, classes = grad_cam(model, torch.randn(3, 3, 32, 32), "stages.2")
    assert maps.shape == (3, 32, 32) and classes.shape == (3,)
    assert model.training and torch.equal(model.fc.weight.grad, torch.ones_like(model.fc.weight))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_an_unknown_layer_is_named_in_the_error():
    with pytest.raises(ValueError, match="no submodule named 'stage9'"):
        grad_cam(cnnbook.get_model("resnet20"), torch.randn(1, 3, 32, 32), "stage9")

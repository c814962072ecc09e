import pytest
import torch

from cnnbook.models import count_parameters, get_model
from cnnbook.models.resnet import BasicBlock, PreActBasicBlock, ResNet


def block_output_and_input_gradient(block, x, upstream):
    x = x.clone().requires_grad_(True)
    out = block(x)
    out.backward(upstream)
    return out.detach(), x.grad


def zero_initialised(block):
    block.zero_init_branch()
    return block.train()


def test_zero_initialised_preact_block_is_exactly_the_identity_forward_and_backward():
    torch.manual_seed(0)
    x, upstream = torch.randn(4, 8, 6, 6), torch.randn(4, 8, 6, 6)
    out, grad = block_output_and_input_gradient(zero_initialised(PreActBasicBlock(8, 8)), x, upstream)
    assert torch.equal(out, x)
    assert torch.equal(grad, upstream)


def test_zero_initialised_post_activation_block_is_relu_and_gates_the_gradient():
    torch.manual_seed(0)
    x, upstream = torch.randn(4, 8, 6, 6), torch.randn(4, 8, 6, 6)
    out, grad = block_output_and_input_gradient(zero_initialised(BasicBlock(8, 8)), x, upstream)
    assert torch.equal(out, torch.relu(x))
    assert torch.equal(grad, upstream * (x > 0))
    assert (grad == 0).float().mean() > 0.4  # about half the gradient is stopped by the ReLU


def test_preact_block_has_no_relu_after_the_sum():
    torch.manual_seed(0)
    out = PreActBasicBlock(8, 8)(torch.randn(4, 8, 6, 6))
    assert (out < 0).any()


def test_preact_block_projects_the_pre_activated_input_when_the_shape_changes():
    torch.manual_seed(0)
    block = zero_initialised(PreActBasicBlock(8, 16, stride=2, shortcut="projection"))
    x = torch.randn(4, 8, 6, 6)
    expected = block.shortcut(torch.relu(block.bn1(x)))
    assert torch.allclose(block(x), expected)
    assert block(x).shape == (4, 16, 3, 3)


@pytest.mark.parametrize("depth", [20, 56])
def test_preact_resnets_map_a_batch_to_logits_with_about_resnets_parameters(depth):
    preact = get_model(f"preact_resnet{depth}")
    assert preact(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    # The BNs move: none in the stem (-16 channels), one before the pool (+64), and each
    # downsampling block's first BN reads its input (-16, -32): the same count as ResNet's.
    assert count_parameters(preact) == count_parameters(get_model(f"resnet{depth}"))


def test_preact_resnet_has_a_bare_conv_stem_and_a_final_bn_relu():
    model = get_model("preact_resnet20")
    assert len(model.stem) == 1 and isinstance(model.stem[0], torch.nn.Conv2d)
    assert isinstance(model.final_activation[0], torch.nn.BatchNorm2d)
    assert all(isinstance(b, PreActBasicBlock) for stage in model.stages for b in stage)


@pytest.mark.parametrize("name", ["resnet20", "preact_resnet20"])
def test_zero_init_residual_zeroes_the_last_bn_scale_of_every_branch(name):
    model = get_model(name, zero_init_residual=True)
    blocks = [b for stage in model.stages for b in stage]
    assert len(blocks) == 9
    assert all(torch.count_nonzero(b.bn2.weight) == 0 for b in blocks)
    assert all(torch.count_nonzero(b.bn1.weight) == b.bn1.weight.numel() for b in blocks)
    assert torch.count_nonzero(get_model(name).stages[0][0].bn2.weight) > 0


def test_zero_init_residual_makes_a_preact_net_pass_its_stem_output_through_stage_one():
    model = get_model("preact_resnet20", zero_init_residual=True)
    x = torch.randn(2, 3, 32, 32)
    stem = model.stem(x)
    assert torch.equal(model.stages[0](stem), stem)


def test_zero_init_residual_zeroes_the_bottlenecks_third_bn():
    model = ResNet("bottleneck", [1, 1], [4, 8], zero_init_residual=True)
    assert all(torch.count_nonzero(b.bn3.weight) == 0 for stage in model.stages for b in stage)


def test_zero_init_residual_on_a_plain_net_is_refused():
    with pytest.raises(ValueError, match="zero_init_residual=True needs residual=True"):
        ResNet("basic", [1, 1], [4, 8], residual=False, zero_init_residual=True)

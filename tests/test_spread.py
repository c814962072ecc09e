import math

import pytest

from cnnbook.analysis.spread import Spread, difference, rank


def test_spread_has_mean_and_sample_standard_deviation():
    s = Spread.of([0.84, 0.85, 0.86])
    assert s.mean == pytest.approx(0.85) and s.sd == pytest.approx(0.01) and s.n == 3
    assert s.format() == "85.0 ± 1.0"
    assert Spread.of([0.5]).sd == 0 and Spread.of([0.5]).format() == "50.0 (1 seed)"


def test_spread_refuses_no_values_and_nan():
    with pytest.raises(ValueError, match="at least one value"):
        Spread.of([])
    with pytest.raises(ValueError, match="finite"):
        Spread.of([0.5, math.nan])


def test_a_gap_smaller_than_the_seeds_spread_is_within_noise():
    d = difference([0.845, 0.852, 0.839], [0.844, 0.836, 0.850])
    assert not d.exceeds_noise
    assert d.describe("resnet20", "densenet_cifar") == (
        "resnet20 is 0.2 points higher than densenet_cifar, within its noise (± 0.6)"
    )


def test_a_gap_far_above_the_spread_is_larger_than_noise():
    d = difference([0.30, 0.31, 0.29], [0.20, 0.21, 0.19])
    assert d.exceeds_noise and d.delta == pytest.approx(0.10)
    assert d.describe("plain56", "plain20", higher="above", lower="below").startswith(
        "plain56 is 10.0 points above plain20, larger than its noise"
    )


def test_the_test_set_sampling_error_counts_and_does_not_average_away():
    tight = [0.850, 0.851, 0.849]
    d = difference(tight, [0.845, 0.846, 0.844], test_images=10_000)
    # seeds agree to 0.1 points, but 10,000 test images alone carry about 0.36 points each side
    assert d.noise == pytest.approx(math.sqrt(2 * 0.001**2 / 3 + 0.85 * 0.15 / 1e4 + 0.845 * 0.155 / 1e4), rel=1e-6)
    assert not d.exceeds_noise
    assert difference(tight, [0.845, 0.846, 0.844]).exceeds_noise  # without it, the gap would look real


def test_one_seed_a_side_counts_only_the_test_set_and_says_so():
    d = difference([0.853], [0.844], test_images=10_000)
    assert "one seed" in d.verdict() and not d.exceeds_noise
    assert difference([0.5], [0.4]).verdict() == "noise unknown: one run each"
    assert not difference([0.5], [0.4]).exceeds_noise


def test_rank_shares_a_place_between_results_within_noise():
    ranked = rank(
        {"a": [0.860, 0.862, 0.861], "b": [0.845, 0.852, 0.839], "c": [0.844, 0.836, 0.850]}, test_images=10_000
    )
    assert [(place, name) for place, name, _ in ranked] == [(1, "a"), (2, "b"), (2, "c")]
    lower = rank({"x": [1.0, 1.1], "y": [2.0, 2.1]}, higher_is_better=False)
    assert [name for _, name, _ in lower] == ["x", "y"] and [p for p, _, _ in lower] == [1, 2]

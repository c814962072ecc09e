import math

import pytest
from scipy import stats

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


def test_the_interval_of_a_mean_uses_students_t_with_n_minus_one_degrees():
    low, high = Spread.of([0.84, 0.85, 0.86]).interval()
    half = stats.t.ppf(0.975, 2) * 0.01 / math.sqrt(3)  # t(0.975, 2) = 4.30, not 1.96
    assert (low, high) == pytest.approx((0.85 - half, 0.85 + half))
    with pytest.raises(ValueError, match="two seeds"):
        Spread.of([0.5]).interval()


def test_three_seeds_need_a_t_quantile_not_two_standard_errors():
    # a gap of 2.5 standard errors: "larger than twice its noise" under a normal rule, unresolved under Welch's t
    a, b = [0.30, 0.32, 0.34], [0.2592, 0.2792, 0.2992]
    d = difference(a, b)
    assert 2 < d.delta / d.noise < 2.6
    assert d.dof == pytest.approx(4.0)  # equal spreads, 3 seeds a side
    assert not d.resolved
    low, high = d.interval()
    assert low < 0 < high
    p = stats.ttest_ind(a, b, equal_var=False).pvalue
    assert p > 0.05  # scipy's Welch test agrees


def test_a_gap_far_above_the_spread_is_resolved_and_its_interval_excludes_zero():
    d = difference([0.30, 0.31, 0.29], [0.20, 0.21, 0.19])
    assert d.resolved and d.delta == pytest.approx(0.10)
    low, high = d.interval()
    assert 0 < low < 0.10 < high
    assert stats.ttest_ind([0.30, 0.31, 0.29], [0.20, 0.21, 0.19], equal_var=False).pvalue < 0.05
    assert d.describe("plain56", "plain20", higher="above", lower="below").startswith("plain56 is 10.0 points above")


def test_the_test_set_sampling_error_counts_and_does_not_average_away():
    tight = [0.850, 0.851, 0.849]
    d = difference(tight, [0.845, 0.846, 0.844], test_images=10_000)
    # seeds agree to 0.1 points, but 10,000 test images alone carry about 0.36 points each side
    assert d.noise == pytest.approx(math.sqrt(2 * 0.001**2 / 3 + 0.85 * 0.15 / 1e4 + 0.845 * 0.155 / 1e4), rel=1e-6)
    assert not d.resolved and not d.paired
    assert difference(tight, [0.845, 0.846, 0.844]).resolved  # without it, the gap would look real


def test_a_paired_comparison_counts_only_the_images_the_two_disagree_on():
    n = 10_000
    # model a is right on the first 8,500 images; b on the first 8,400: they disagree on 100 images
    a = Spread.of([0.850, 0.851, 0.849], correct=[i < 8500 for i in range(n)])
    b = Spread.of([0.840, 0.841, 0.839], correct=[i < 8400 for i in range(n)])
    paired, independent = difference(a, b, n), difference(Spread.of(a.values), Spread.of(b.values), n)
    assert paired.paired and not independent.paired
    test_term = (0.01 - 0.01**2) / n  # disagreement 1 %, seed-0 gap 1 point
    assert paired.noise == pytest.approx(math.sqrt(2 * 0.001**2 / 3 + test_term), rel=1e-6)
    assert paired.noise < independent.noise / 3
    assert paired.resolved and not independent.resolved
    assert "independent" in independent.verdict() and "independent" not in paired.verdict()


def test_predictions_on_another_number_of_images_are_not_paired():
    a = Spread.of([0.85, 0.86], correct=[True] * 100)
    b = Spread.of([0.84, 0.83], correct=[True] * 100)
    assert not difference(a, b, test_images=10_000).paired


def test_one_seed_a_side_counts_only_the_test_set_and_says_so():
    d = difference([0.853], [0.844], test_images=10_000)
    assert math.isinf(d.dof) and "one seed" in d.verdict() and not d.resolved
    assert difference([0.5], [0.4]).verdict() == "noise unknown: one run each"
    assert not difference([0.5], [0.4]).resolved


def test_rank_shares_a_place_between_results_not_resolved():
    ranked = rank(
        {"a": [0.880, 0.882, 0.881], "b": [0.845, 0.852, 0.839], "c": [0.844, 0.836, 0.850]}, test_images=10_000
    )
    assert [(place, name) for place, name, _ in ranked] == [(1, "a"), (2, "b"), (2, "c")]
    lower = rank({"x": [1.0, 1.1, 1.05], "y": [2.0, 2.1, 2.05]}, higher_is_better=False)
    assert [name for _, name, _ in lower] == ["x", "y"] and [p for p, _, _ in lower] == [1, 2]

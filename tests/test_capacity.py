"""The capacity rule of the cpu preset: resolution, steps and Gaussian cap from frame size and a time budget."""

from __future__ import annotations

from reconstruction.deblurgs.capacity import SECONDS_PER_PX_SUBFRAME, fit_capacity


def test_capacity_rule_fits_the_budget_and_frame_size() -> None:
    c = fit_capacity(640, 360, 15 * 60, 5, 50)
    assert (c.downscale, c.width, c.height) == (1, 640, 360) and c.max_gaussians == 40000
    assert abs(c.seconds_estimate - 900) < 5 and c.seconds_per_step == round(SECONDS_PER_PX_SUBFRAME * 640 * 360 * 5, 3)
    big = fit_capacity(1280, 720, 15 * 60, 5, 50)
    assert (big.width, big.height, big.steps) == (640, 360, c.steps)  # same training size, same steps
    half = fit_capacity(640, 360, 7.5 * 60, 5, 50)
    assert half.steps < c.steps and half.max_gaussians == c.max_gaussians
    small = fit_capacity(640, 360, 15 * 60, 5, 50, max_long_side=320)
    assert small.downscale == 2 and small.steps > c.steps and small.max_gaussians == 320 * 180 // 4
    assert fit_capacity(64, 48, 1.0, 5, 50).steps == 300 and fit_capacity(64, 48, 1.0, 5, 50).max_gaussians == 4000


def test_training_downscale_keeps_the_long_side_within_640_px() -> None:
    """Without a budget (explicit steps) the resolution follows the same rule: a 1280x720 phone frame trains at
    640x360, not at a 320-px thumbnail."""
    from reconstruction.deblurgs.capacity import MAX_LONG_SIDE, training_downscale

    assert MAX_LONG_SIDE == 640
    assert [training_downscale(*wh) for wh in [(640, 360), (1280, 720), (1920, 1080), (641, 100), (600, 400)]] == [
        1, 2, 3, 2, 1]
    assert training_downscale(1280, 720, max_long_side=320) == 4

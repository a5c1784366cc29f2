"""Named TOML presets: every shipped preset loads into its command's config; mistakes are one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from deblur2d.io.errors import UserError
from reconstruction.io.presets import CONFIG_DIR, load_preset_into, preset_from_argv


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("reconstruct-*.toml")), ids=lambda p: p.stem)
def test_every_reconstruct_preset_loads_and_names_a_train_preset_that_loads(path: Path) -> None:
    from reconstruction.deblurgs.cli import load_preset as load_train
    from reconstruction.pipeline.settings import load_preset

    args = load_preset(path.stem.removeprefix("reconstruct-"))
    assert load_train(args.train_preset).config.gs.steps > 0


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("deblurgs-*.toml")), ids=lambda p: p.stem)
def test_every_deblurgs_preset_loads(path: Path) -> None:
    from reconstruction.deblurgs.cli import load_preset

    assert load_preset(path.stem).config.n_subframes >= 1


def test_preset_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    from reconstruction.pipeline.settings import ReconstructArgs

    with pytest.raises(UserError, match="no preset 'nope'.*demo") as e:
        load_preset_into(ReconstructArgs(), "nope", "reconstruct-")
    assert "\n" not in str(e.value)
    bad = tmp_path / "bad.toml"
    bad.write_text('max_frame = 3\n')  # a typo of max_frames
    with pytest.raises(UserError, match="unknown key 'max_frame'"):
        load_preset_into(ReconstructArgs(), str(bad), "reconstruct-")
    bad.write_text('max_frames = [\n')
    with pytest.raises(UserError, match="not valid TOML"):
        load_preset_into(ReconstructArgs(), str(bad), "reconstruct-")
    good = tmp_path / "mine.toml"
    good.write_text('description = "x"\nmax_frames = 7\nweights = "w.safetensors"\n')
    args = load_preset_into(ReconstructArgs(), str(good), "reconstruct-")
    assert args.max_frames == 7 and args.weights == Path("w.safetensors")


def test_preset_from_argv() -> None:
    assert preset_from_argv(["x", "--preset", "demo"], "cpu") == "demo"
    assert preset_from_argv(["--preset=tiny"], "cpu") == "tiny"
    assert preset_from_argv(["x"], "cpu") == "cpu"

"""PLY export in the original 3DGS layout: header parsed by hand, values, exact round trip, same renders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reconstruction.splats.gaussians import GaussianModel
from reconstruction.splats.ply import load_ply, save_ply


def _model(n: int = 7, degree: int = 3, seed: int = 0) -> GaussianModel:
    g = torch.Generator().manual_seed(seed)
    k = (degree + 1) ** 2
    return GaussianModel(
        means=torch.randn(n, 3, generator=g),
        scales=torch.randn(n, 3, generator=g) - 3,
        quats=torch.randn(n, 4, generator=g) * 2,  # not unit: stored as is
        opacities=torch.randn(n, generator=g),
        sh0=torch.randn(n, 1, 3, generator=g),
        shN=torch.randn(n, k - 1, 3, generator=g) * 0.1,
        sh_degree_max=degree,
    )


def _parse_header(raw: bytes) -> tuple[list[str], int]:
    end = raw.index(b"end_header\n") + len(b"end_header\n")
    return raw[:end].decode("ascii").splitlines(), end


def test_header_and_layout_match_3dgs(tmp_path) -> None:
    m = _model(7, 3)
    with torch.no_grad():  # distinctive SH values: coefficient j+1 of channel c holds 100 c + j
        for c in range(3):
            for j in range(15):
                m.params["shN"][:, j, c] = 100 * c + j
    path = save_ply(tmp_path / "splats.ply", m)
    raw = path.read_bytes()
    lines, end = _parse_header(raw)
    assert lines[0] == "ply"
    assert lines[1] == "format binary_little_endian 1.0"
    assert "element vertex 7" in lines
    props = [ln.split() for ln in lines if ln.startswith("property")]
    assert all(p[1] == "float" for p in props)
    names = [p[2] for p in props]
    expected = (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
                + [f"f_rest_{i}" for i in range(45)] + ["opacity", "scale_0", "scale_1", "scale_2"]
                + ["rot_0", "rot_1", "rot_2", "rot_3"])  # fmt: skip
    assert names == expected and len(names) == 62
    assert len(lines) == 3 + 62 + 1 and lines[-1] == "end_header"  # as plyfile writes it: no comments
    assert len(raw) - end == 7 * 62 * 4  # float32 rows, nothing else

    rows = np.frombuffer(raw[end:], dtype="<f4").reshape(7, 62)
    col = {name: i for i, name in enumerate(names)}
    p = {k: v.detach().numpy() for k, v in m.params.items()}
    np.testing.assert_array_equal(rows[:, 0:3], p["means"])
    np.testing.assert_array_equal(rows[:, 3:6], 0.0)
    np.testing.assert_array_equal(rows[:, col["f_dc_0"] : col["f_dc_2"] + 1], p["sh0"][:, 0])
    # channel-major f_rest, as features_rest.transpose(1, 2).flatten(1) in the 3DGS code
    for c in range(3):
        for j in range(15):
            assert np.all(rows[:, col[f"f_rest_{c * 15 + j}"]] == 100 * c + j)
    np.testing.assert_array_equal(rows[:, col["opacity"]], p["opacities"])
    np.testing.assert_array_equal(rows[:, col["scale_0"] : col["scale_2"] + 1], p["scales"])
    np.testing.assert_array_equal(rows[:, col["rot_0"] : col["rot_3"] + 1], p["quats"])  # w, x, y, z
    assert sorted(x.name for x in tmp_path.iterdir()) == ["splats.ply"]  # written atomically


@pytest.mark.parametrize("degree", [0, 1, 3])
def test_round_trip_is_exact(tmp_path, degree: int) -> None:
    m = _model(11, degree, seed=degree)
    back = load_ply(save_ply(tmp_path / "a.ply", m))
    assert back.sh_degree_max == degree and len(back) == 11
    for k in m.params:
        assert torch.equal(back.params[k], m.params[k]), k


def test_import_gives_the_same_renders(tmp_path) -> None:
    render = pytest.importorskip("reconstruction.splats.render").render
    g = torch.Generator().manual_seed(3)
    n = 60
    m = GaussianModel(
        means=torch.rand(n, 3, generator=g) * 2 - 1 + torch.tensor([0.0, 0.0, 4.0]),
        scales=torch.full((n, 3), -2.5) + 0.3 * torch.randn(n, 3, generator=g),
        quats=torch.randn(n, 4, generator=g),
        opacities=torch.randn(n, generator=g),
        sh0=torch.randn(n, 1, 3, generator=g),
        shN=0.2 * torch.randn(n, 15, 3, generator=g),
    )
    back = load_ply(save_ply(tmp_path / "r.ply", m))
    vm = torch.eye(4)[None]
    K = torch.tensor([[[40.0, 0, 24], [0, 40.0, 16], [0, 0, 1]]])
    with torch.no_grad():
        a, _, _ = render(m.to_render_dict(), vm, K, 48, 32, sh_degree=3, backend="torch")
        b, _, _ = render(back.to_render_dict(), vm, K, 48, 32, sh_degree=3, backend="torch")
    assert a.abs().sum() > 0
    assert torch.equal(a, b)


def test_reads_other_property_orders_and_rejects_bad_files(tmp_path) -> None:
    # a degree-0 file with shuffled property order and a double column, as other tools may write
    m = _model(3, 0)
    p = {k: v.detach().numpy() for k, v in m.params.items()}
    cols = {"opacity": p["opacities"], "x": p["means"][:, 0], "y": p["means"][:, 1], "z": p["means"][:, 2]}
    cols.update({f"scale_{i}": p["scales"][:, i] for i in range(3)})
    cols.update({f"rot_{i}": p["quats"][:, i] for i in range(4)})
    cols.update({f"f_dc_{i}": p["sh0"][:, 0, i] for i in range(3)})
    names = list(cols)
    dtype = [(n, "<f8" if n == "x" else "<f4") for n in names]
    arr = np.zeros(3, dtype=dtype)
    for n in names:
        arr[n] = cols[n]
    header = "ply\nformat binary_little_endian 1.0\nelement vertex 3\n"
    header += "".join(f"property {'double' if n == 'x' else 'float'} {n}\n" for n in names) + "end_header\n"
    (tmp_path / "o.ply").write_bytes(header.encode() + arr.tobytes())
    back = load_ply(tmp_path / "o.ply")
    for k in m.params:
        assert torch.equal(back.params[k], m.params[k]), k

    (tmp_path / "ascii.ply").write_bytes(b"ply\nformat ascii 1.0\nelement vertex 0\nend_header\n")
    with pytest.raises(ValueError, match="ascii"):
        load_ply(tmp_path / "ascii.ply")
    (tmp_path / "pts.ply").write_bytes(
        b"ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\nend_header\n" + bytes(4)
    )
    with pytest.raises(ValueError, match="missing"):
        load_ply(tmp_path / "pts.ply")
    raw = save_ply(tmp_path / "t.ply", _model(4)).read_bytes()
    (tmp_path / "t.ply").write_bytes(raw[:-10])
    with pytest.raises(ValueError, match="truncated"):
        load_ply(tmp_path / "t.ply")


def test_linear_colours_are_reencoded_to_srgb_for_viewers():
    from deblur2d.io.color import linear_to_srgb
    from reconstruction.splats.ply import SH_C0, linear_sh_to_srgb

    lin = torch.tensor([[[0.0, 0.05, 0.2]], [[0.5, 0.8, 1.0]]])  # base colours in linear light
    sh0 = (lin - 0.5) / SH_C0
    shN = torch.ones(2, 3, 3) * 0.01
    sh0_s, shN_s = linear_sh_to_srgb(sh0, shN)
    torch.testing.assert_close(SH_C0 * sh0_s + 0.5, linear_to_srgb(lin), atol=1e-6, rtol=0)
    # view-dependent bands scaled by the local slope of the sRGB curve: > 1 in the darks, < 1 in the lights
    assert shN_s[0, 0, 2] > 0.01 and shN_s[1, 0, 2] < 0.01
    assert torch.isfinite(shN_s).all() and shN_s.max() <= 0.1 + 1e-6  # capped at 10x where the slope blows up

"""SfM front-end benchmark (issue 6): does MIMO-UNet pre-restoration make COLMAP register more frames, with
better poses, than the blurry frames and than the blurry frames downscaled by 2?

For each blur level and seed a synthetic scene is made (preset ``sfm``: 640x480, 20 frames; FINDINGS.md shows
the levels separate at this size) and the pinned SfM of ``reconstruction.sfm`` runs on five inputs:

- ``blurry``: ``images/`` as they are;
- ``blurry_down2``: the same box-downscaled by 2 in linear light (FINDINGS.md: a free partial rescue);
- ``restored``: restored by MIMO-UNet (``--weights``; default the shipped ones);
- ``restored_down2``: restored, then downscaled by 2;
- ``sharp_oracle``: ``gt/sharp`` (a perfect restorer; the upper bound).

Per run: frames registered, 3D points, mean reprojection error, focal length against the truth at the input's
resolution, and the pose errors of the registered frames against the true mid-exposure poses: rotation (deg)
and position (% of the true path length) after ``reconstruction.geometry.alignment.align_poses`` (rotation from the
orientations, scale and translation from the centres; robust on nearly straight paths), and the
alignment-free relative rotation error over all pairs of registered frames. Pose errors are computed when at
least 3 frames register; per (level, input) they are aggregated over the "successful" runs (at least
``--success-fraction`` of the frames registered), so that a failed 2-frame model does not pass for a result.

SfM runs on 1 thread by default: with 2, COLMAP's poses changed from run to run under the same seed (rotation
error 0.14 and 0.25 deg in two runs on the same strong-blur frames), which would blur the comparison; with 1 they repeat
exactly. The sharp_oracle frames are the same at every blur level of a seed, so their SfM runs once per seed.

Everything is cached under ``--out`` (scenes, downscaled and restored frames, one result JSON per
(level, seed, input)); a rerun resumes. Prints the JSON on stdout, writes ``--out/bench_sfm.json``, and a
markdown table on stderr.

    OMP_WAIT_POLICY=PASSIVE python scripts/bench_sfm.py    # the shipped weights (mimo-unet-compact)
    python scripts/bench_sfm.py --quick      # smoke test: tiny scene, random-initialised network, about 20 s
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from deblur2d.io.atomic import write_json_atomic  # noqa: E402
from deblur2d.io.errors import UserError  # noqa: E402

INPUTS = ("blurry", "blurry_down2", "restored", "restored_down2", "sharp_oracle")
DEFAULT_LEVELS = ("none", "mild", "strong", "extreme")
DOWN = 2
#: Pose errors need at least this many registered frames (scale and rotation from the centres).
MIN_FRAMES_FOR_ERRORS = 3
RESULT_VERSION = 1


def log(msg: str) -> None:
    print(f"bench_sfm: {msg}", file=sys.stderr, flush=True)


def sfm_options(threads: int, seed: int):
    """The pinned SfM configuration: every field that matters is set here, not taken from defaults."""
    from reconstruction.sfm.colmap import SfMOptions

    return SfMOptions(
        matcher="exhaustive",
        camera_model="SIMPLE_RADIAL",
        single_camera=True,
        max_num_features=8192,
        num_octaves=4,
        first_octave=-1,
        min_model_size=2,
        num_threads=threads,
        seed=seed,
        use_gpu=False,
    )


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _num(x, digits: int = 6):
    """JSON-friendly float (None stays None; NaN -> None)."""
    if x is None:
        return None
    x = float(x)
    return None if not math.isfinite(x) else round(x, digits)


# -- scenes -----------------------------------------------------------------------------------------------


def resolve_preset(name: str, frames: int | None) -> str:
    """The preset name to generate with; ``frames`` registers a variant ``<name>-<frames>f`` in this process."""
    from reconstruction.synthetic import PRESETS
    from reconstruction.synthetic.presets import get_preset

    base = get_preset(name)
    if not frames or frames == base.num_frames:
        return name
    if frames < 3:
        raise UserError(f"--frames {frames}: need at least 3 frames")
    variant = f"{name}-{frames}f"
    PRESETS[variant] = dataclasses.replace(base, name=variant, num_frames=frames)
    return variant


def scene_is_valid(scene: Path, preset: str, level: str, seed: int) -> bool:
    from reconstruction.synthetic.generate import GENERATOR_VERSION
    from reconstruction.synthetic.presets import get_preset

    path = scene / "gt" / "cameras.json"
    if not path.is_file():
        return False
    raw = json.loads(path.read_text())
    return (
        raw.get("preset") == preset
        and raw.get("seed") == seed
        and raw.get("blur") == level
        and raw.get("generator_version") == GENERATOR_VERSION
        and len(raw.get("frames", [])) == get_preset(preset).num_frames
        and all((scene / "images" / f["file"]).is_file() for f in raw["frames"])
    )


def ensure_scene(out: Path, preset: str, level: str, seed: int) -> tuple[Path, dict]:
    """The cached scene for (preset, level, seed), made when missing; returns it and its timing record."""
    from reconstruction.synthetic import make_scene

    key = f"{preset}_{level}_s{seed}"
    scene = out / "scenes" / key
    timing_file = out / "scenes" / f"{key}.timing.json"
    if scene_is_valid(scene, preset, level, seed):
        timing = json.loads(timing_file.read_text()) if timing_file.is_file() else {}
        return scene, {**timing, "cached": True}
    log(f"make scene {key}")
    shutil.rmtree(out / "inputs" / key, ignore_errors=True)  # frames derived from an older scene
    t0 = time.perf_counter()
    make_scene(scene, preset=preset, seed=seed, blur=level, overwrite=True, progress=False)
    seconds = time.perf_counter() - t0
    gt = json.loads((scene / "gt" / "cameras.json").read_text())
    timing = {
        "make_s": round(seconds, 2),
        "num_sub_frames": gt["num_sub_frames"],
        "blur_px_mean": gt["blur_px_mean"],
        "machine": f"{platform.node()} ({os.cpu_count()} cores)",
    }
    write_json_atomic(timing_file, timing)
    log(f"scene {key}: {seconds:.1f} s, blur {gt['blur_px_mean']:.1f} px, {gt['num_sub_frames']} sub-frames")
    return scene, {**timing, "cached": False}


# -- inputs -----------------------------------------------------------------------------------------------


class Restoration:
    """The MIMO-UNet restorer, built on first use; weights identified by their SHA-256."""

    def __init__(self, weights: Path | None, model: str, device: str, threads: int):
        from deblur2d.weights import default_weights_path

        if weights is None:
            weights = default_weights_path(None if model == "auto" else model)
            if weights is None:
                raise UserError(
                    f"--weights: no weights for {model} ship with this install; pass --weights PATH (a sharpsplat "
                    ".safetensors or the official MIMO-UNet .pkl), leave restored/restored_down2 out of --inputs, "
                    "or run --quick (random-initialised network, smoke test only)"
                )
        weights = Path(weights)
        if not weights.is_file():
            raise UserError(f"--weights {weights}: file not found")
        self.weights, self.model, self.device, self.threads = weights, model, device, threads
        self.sha256 = file_sha256(weights)
        self.tag = f"{model}-{self.sha256[:12]}"
        self._restorer = None

    @property
    def restorer(self):
        if self._restorer is None:
            from deblur2d.restorer import Restorer

            self._restorer = Restorer(model=self.model, weights=self.weights, device=self.device, threads=self.threads)
            log(f"restorer: {self._restorer.describe()}")
        return self._restorer

    def info(self) -> dict:
        return {"model": self.model, "weights": str(self.weights), "sha256": self.sha256, "device": self.device}


def _map_folder(src: Path, dst: Path, names: list[str], fn) -> float:
    """Write ``fn(image)`` for every file of ``src`` missing in ``dst`` (atomic per file); returns seconds."""
    from deblur2d.io.images import read_image, write_image

    t0 = time.perf_counter()
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (dst / name).is_file():
            continue
        img, _ = read_image(src / name)
        write_image(dst / name, fn(img))
    return time.perf_counter() - t0


def prepare_input(kind: str, scene: Path, cache: Path, names: list[str], restoration: Restoration | None):
    """Image folder for input ``kind``, its downscale factor, and the preparation record (seconds, cached)."""
    from reconstruction.deblurgs.data import downscale_image

    if kind == "blurry":
        return scene / "images", 1, {}
    if kind == "sharp_oracle":
        return scene / "gt" / "sharp", 1, {}
    if kind == "blurry_down2":
        dst = cache / "blurry_down2"
        s = _map_folder(scene / "images", dst, names, lambda im: downscale_image(im, DOWN))
        return dst, DOWN, {"downscale_s": round(s, 3)}
    assert restoration is not None
    restored = cache / f"restored-{restoration.tag}"
    timing_file = cache / f"restored-{restoration.tag}.timing.json"
    missing = [n for n in names if not (restored / n).is_file()]
    if missing:
        s = _map_folder(scene / "images", restored, names, lambda im: restoration.restorer.restore(im))
        rec = {
            "restore_s": round(s, 2),
            "frames": len(missing),
            "restore_s_per_frame": round(s / len(missing), 3),
            "restorer": restoration.restorer.describe(),  # device and precision change the frames slightly
        }
        write_json_atomic(timing_file, rec)
    prep = json.loads(timing_file.read_text()) if timing_file.is_file() else {}
    prep["restore_cached"] = not missing
    if kind == "restored":
        return restored, 1, prep
    dst = cache / f"restored_down2-{restoration.tag}"
    s = _map_folder(restored, dst, names, lambda im: downscale_image(im, DOWN))
    return dst, DOWN, {**prep, "downscale_s": round(s, 3)}


# -- one SfM run and its metrics --------------------------------------------------------------------------


def _c2w(image) -> np.ndarray:
    pose = image.cam_from_world() if callable(image.cam_from_world) else image.cam_from_world
    w2c = np.eye(4)
    w2c[:3, :4] = np.asarray(pose.matrix(), dtype=np.float64)
    return np.linalg.inv(w2c)


def evaluate(res, gt: dict, factor: int) -> dict:
    """Metrics of an SfM result against the synthetic ground truth (``load_gt``) at downscale ``factor``."""
    from reconstruction.deblurgs.data import downscale_K
    from reconstruction.geometry.alignment import align_poses, path_length, relative_rotation_errors

    n = len(gt["files"])
    f_true = float(downscale_K(gt["K"], factor)[0, 0])
    m: dict = {
        "frames": n,
        "registered": res.num_registered,
        "registration_rate": _num(res.num_registered / n),
        "registered_files": list(res.registered),
        "points3D": res.num_points3D,
        "models": res.num_models,
        "focal_px": _num(res.focal_px, 3),
        "focal_true_px": _num(f_true, 3),
        "focal_err_pct": _num(100.0 * (res.focal_px / f_true - 1.0), 4) if res.focal_px else None,
        "reproj_err_px": None,
    }
    rec = res.reconstruction
    if rec is None:
        return m
    m["reproj_err_px"] = _num(rec.compute_mean_reprojection_error(), 4)
    index = {name: i for i, name in enumerate(gt["files"])}
    est, idx = [], []
    for img in rec.images.values():
        if img.has_pose and img.name in index:
            est.append(_c2w(img))
            idx.append(index[img.name])
    order = np.argsort(idx)
    est_a = np.asarray(est).reshape(-1, 4, 4)[order]
    true_a = gt["c2w_mid"][np.asarray(idx, dtype=int)[order]]
    if len(est_a) >= 2:
        rel = relative_rotation_errors(est_a, true_a)
        m["rel_rot_err_deg_mean"] = _num(rel.mean())
        m["rel_rot_err_deg_median"] = _num(np.median(rel))
    if len(est_a) >= MIN_FRAMES_FOR_ERRORS:
        try:
            al = align_poses(est_a, true_a, true_path_length=path_length(gt["c2w_mid"]))
        except ValueError as e:  # e.g. all registered centres coincide
            m["align_error"] = str(e)
        else:
            for k in ("rot_err_deg", "pos_err_pct"):
                m[f"{k}_mean"] = _num(al[f"{k}_mean"])
                m[f"{k}_median"] = _num(al[f"{k}_median"])
                m[f"{k}_max"] = _num(np.max(al[k]))
            m["pos_err_mean"] = _num(al["pos_err_mean"])
            m["align_scale"] = _num(al["s"])
            u = al["umeyama"]
            m["umeyama_rot_err_deg_mean"] = _num(u["rot_err_deg_mean"]) if u else None
            m["umeyama_pos_err_pct_mean"] = _num(u["pos_err_pct_mean"]) if u else None
    return m


def run_one(ctx: dict, level: str, seed: int, kind: str, scene: Path, scene_timing: dict) -> dict:
    """One (level, seed, input) run, from its cache when the configuration matches."""
    from reconstruction.io.gt_cameras import load_gt
    from reconstruction.sfm.colmap import run_sfm

    out: Path = ctx["out"]
    key = f"{ctx['preset']}_{level}_s{seed}"
    restoration: Restoration | None = ctx["restoration"] if kind.startswith("restored") else None
    wtag = f"-{restoration.tag}" if restoration else ""
    result_file = out / "results" / key / f"{kind}{wtag}.json"
    opts = sfm_options(ctx["threads"], ctx["sfm_seed"])
    config = {
        "version": RESULT_VERSION,
        "scene_sha256": file_sha256(scene / "gt" / "cameras.json")[:16],  # a regenerated scene invalidates results
        "sfm_options": dataclasses.asdict(opts),  # threads included: with more than 1, results vary run to run
        "weights_sha256": restoration.sha256 if restoration else None,
    }
    gt = load_gt(scene)
    names = list(gt["files"])
    oracle_key = _oracle_key(scene, gt, config) if kind == "sharp_oracle" else None
    if result_file.is_file():
        cached = json.loads(result_file.read_text())
        if cached.get("config") == config:
            if oracle_key and cached.get("oracle_key") != oracle_key:
                write_json_atomic(result_file, {**cached, "oracle_key": oracle_key})
            return {**cached, "oracle_key": oracle_key, "cached": True}
    image_dir, factor, prep = prepare_input(kind, scene, out / "inputs" / key, names, restoration)
    h, w = gt["height"] // factor, gt["width"] // factor
    record = {
        "level": level,
        "seed": seed,
        "input": kind,
        "resolution": [w, h],
        "blur_px_mean": _num(gt["raw"]["blur_px_mean"], 3),
        "blur_px_at_input": _num(gt["raw"]["blur_px_mean"] / factor, 3),
    }
    donor = _find_oracle_run(out / "results", oracle_key) if oracle_key else None
    if donor is not None:
        file, d = donor
        skip = set(record) | {"prep", "scene", "config", "cached", "oracle_key", "reused_from"}
        record.update({k: v for k, v in d.items() if k not in skip})
        record["reused_from"] = str(file)
    else:
        t0 = time.perf_counter()
        res = run_sfm(image_dir, out / "sfm" / key / f"{kind}{wtag}", opts)
        sfm_s = time.perf_counter() - t0
        record.update(evaluate(res, gt, factor))
        record["sfm_s"] = round(sfm_s, 2)
        record["sfm_stage_s"] = {k: round(v, 2) for k, v in res.seconds.items()}
    record.update({"prep": prep, "scene": {"dir": str(scene), **scene_timing}, "config": config})
    if oracle_key:
        record["oracle_key"] = oracle_key
    write_json_atomic(result_file, record)
    return {**record, "cached": False}


def _oracle_key(scene: Path, gt: dict, config: dict) -> str:
    """Identity of a sharp_oracle run: the sharp frames do not depend on the blur level (same seed, same world
    and path), so their SfM runs once; key = the frames' bytes, the true mid-exposure poses and K, the SfM
    options."""
    h = hashlib.sha256()
    for name in gt["files"]:
        h.update(name.encode())
        h.update(file_sha256(scene / "gt" / "sharp" / name).encode())
    h.update(np.ascontiguousarray(gt["c2w_mid"], np.float64).tobytes())
    h.update(np.ascontiguousarray(gt["K"], np.float64).tobytes())
    h.update(json.dumps([config["version"], config["sfm_options"]], sort_keys=True).encode())
    return h.hexdigest()[:16]


def _find_oracle_run(results: Path, oracle_key: str) -> tuple[Path, dict] | None:
    """A finished sharp_oracle result with the same key (at another blur level), if any."""
    for file in sorted(results.glob("*/sharp_oracle.json")):
        d = json.loads(file.read_text())
        if d.get("oracle_key") == oracle_key and "reused_from" not in d:
            return file, d
    return None


# -- aggregation and report -------------------------------------------------------------------------------

AGG_KEYS = (
    "points3D",
    "reproj_err_px",
    "focal_err_pct",
    "rot_err_deg_mean",
    "pos_err_pct_mean",
    "rel_rot_err_deg_mean",
    "umeyama_rot_err_deg_mean",
    "sfm_s",
)


def summarise(runs: list[dict], levels: list[str], inputs: list[str], success_fraction: float) -> dict:
    """Per level and input: registration over all seeds; errors (mean and median over seeds) over successful
    runs only; and a ranking of the non-oracle inputs (registration rate first, then median rotation error)."""
    summary: dict = {}
    for level in levels:
        by_input: dict = {}
        for kind in inputs:
            rs = [r for r in runs if r["level"] == level and r["input"] == kind]
            if not rs:
                continue
            ok = [r for r in rs if r["registered"] >= math.ceil(success_fraction * r["frames"])]
            entry = {
                "seeds": [r["seed"] for r in rs],
                "registered": [r["registered"] for r in rs],
                "frames": rs[0]["frames"],
                "registration_rate_mean": _num(np.mean([r["registration_rate"] for r in rs]), 4),
                "successful_runs": len(ok),
                "resolution": rs[0]["resolution"],
            }
            for k in AGG_KEYS:
                vals = [r[k] for r in ok if r.get(k) is not None]
                entry[f"{k}"] = {"mean": _num(np.mean(vals)), "median": _num(np.median(vals))} if vals else None
            by_input[kind] = entry
        contenders = [k for k in by_input if k != "sharp_oracle"]

        def rank_key(k: str, by_input: dict = by_input) -> tuple[float, float]:
            e = by_input[k]
            rot = e["rot_err_deg_mean"]["median"] if e["rot_err_deg_mean"] else math.inf
            return (-e["registration_rate_mean"], rot)

        ranking = sorted(contenders, key=rank_key)
        blur = [r["blur_px_mean"] for r in runs if r["level"] == level and r["input"] == "blurry"]
        summary[level] = {
            "blur_px_mean": _num(np.mean(blur), 3) if blur else None,
            "inputs": by_input,
            "ranking": ranking,
        }
    return summary


def markdown(summary: dict) -> str:
    def fmt(e: dict | None, digits: int) -> str:
        return "-" if not e or e["median"] is None else f"{e['median']:.{digits}f}"

    lines = [
        "| level (blur px) | input | res | registered | ok runs | 3D pts | reproj px | focal % | rot deg | "
        "pos % path | rel rot deg | SfM s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for level, s in summary.items():
        blur = f"{s['blur_px_mean']:.1f}" if s["blur_px_mean"] is not None else "?"
        for kind, e in s["inputs"].items():
            reg = ", ".join(str(x) for x in e["registered"]) + f" / {e['frames']}"
            pts = "-" if not e["points3D"] else f"{e['points3D']['median']:.0f}"
            lines.append(
                f"| {level} ({blur}) | {kind} | {e['resolution'][0]}x{e['resolution'][1]} | {reg} | "
                f"{e['successful_runs']}/{len(e['seeds'])} | {pts} | {fmt(e['reproj_err_px'], 3)} | "
                f"{fmt(e['focal_err_pct'], 2)} | {fmt(e['rot_err_deg_mean'], 3)} | {fmt(e['pos_err_pct_mean'], 3)} | "
                f"{fmt(e['rel_rot_err_deg_mean'], 3)} | {fmt(e['sfm_s'], 1)} |"
            )
    lines.append("")
    lines.append("Medians over the successful runs (>= the success fraction registered); ranking per level:")
    for level, s in summary.items():
        lines.append(f"- {level}: {' > '.join(s['ranking'])}")
    return "\n".join(lines)


# -- main -------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--levels", nargs="+", default=None, help=f"blur levels (default {' '.join(DEFAULT_LEVELS)})")
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="scene seeds (default 0 1)")
    ap.add_argument(
        "--inputs", nargs="+", default=list(INPUTS), choices=INPUTS, metavar="INPUT", help=", ".join(INPUTS)
    )
    ap.add_argument("--weights", type=Path, default=None, help="MIMO-UNet weights (default: the shipped ones)")
    ap.add_argument("--model", default="auto",
                    help="auto (the architecture the weights file holds), or a name of deblur2d.mimo_unet.MODELS")
    ap.add_argument("--out", type=Path, default=None, help="cache and result folder (default runs/bench_sfm)")
    ap.add_argument("--preset", default=None, help="scene preset (default sfm; tiny with --quick)")
    ap.add_argument("--frames", type=int, default=None, help="override the preset's number of frames")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="SfM threads (default 1: COLMAP with 2 threads gave different poses on every run, same seed)",
    )
    ap.add_argument("--restore-threads", type=int, default=2, help="CPU threads of the restorer")
    ap.add_argument("--sfm-seed", type=int, default=0, help="COLMAP's random seed (the same for every run)")
    ap.add_argument("--restore-device", default="auto", help="auto, cpu or cuda[:N]")
    ap.add_argument(
        "--success-fraction", type=float, default=0.5, help="a run counts as successful when this share registers"
    )
    ap.add_argument("--colmap-log", action="store_true", help="keep COLMAP's info and warning lines on stderr")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: tiny preset, level mild, seed 0, a random-initialised MIMO-UNet (no weights needed)",
    )
    a = ap.parse_args(argv)
    a.levels = a.levels or (["mild"] if a.quick else list(DEFAULT_LEVELS))
    a.seeds = a.seeds if a.seeds is not None else ([0] if a.quick else [0, 1])
    a.preset = a.preset or ("tiny" if a.quick else "sfm")
    a.out = a.out or Path("runs/bench_sfm_quick" if a.quick else "runs/bench_sfm")
    return a


@contextlib.contextmanager
def stdout_to_stderr():
    """Send file descriptor 1 to stderr while inside: native libraries print to stdout (pycolmap's bundled OpenBLAS
    once printed "BLAS : Bad memory unallocation!" there), and stdout must hold only the JSON."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    try:
        with stdout_to_stderr():
            result = _main(a)
    except UserError as e:
        print(f"bench_sfm: error: {e}", file=sys.stderr)
        return UserError.exit_code
    print(json.dumps(result, indent=2))
    return 0


def _main(a: argparse.Namespace) -> dict:
    import pycolmap

    from reconstruction.synthetic import BLUR_LEVELS

    t_start = time.perf_counter()
    if not a.colmap_log:
        pycolmap.logging.minloglevel = 2  # errors only: COLMAP's progress lines would drown the benchmark's
    bad = [lv for lv in a.levels if lv not in BLUR_LEVELS]
    if bad:
        raise UserError(f"--levels: unknown {', '.join(bad)}; choose from {', '.join(BLUR_LEVELS)}")
    if any(s < 0 for s in a.seeds):
        raise UserError("--seeds: seeds must be >= 0")
    if a.threads == 0 or a.threads < -1 or a.restore_threads < 1:
        raise UserError("--threads / --restore-threads: give a positive count (--threads -1: all cores)")
    if not 0.0 < a.success_fraction <= 1.0:
        raise UserError("--success-fraction: must be in (0, 1]")
    preset = resolve_preset(a.preset, a.frames)
    inputs = [k for k in INPUTS if k in a.inputs]
    tmp = None
    restoration = None
    if any(k.startswith("restored") for k in inputs):
        weights = a.weights
        if a.quick and weights is None:
            import torch

            from deblur2d.mimo_unet import build_model
            from deblur2d.weights import save_weights

            tmp = tempfile.TemporaryDirectory(prefix="bench_sfm_")
            torch.manual_seed(0)
            name = "mimo-unet-compact" if a.model == "auto" else a.model
            weights = Path(tmp.name) / f"{name}-random.safetensors"
            save_weights(build_model(name), weights, name, metadata={"note": "random init, smoke test"})
            log(f"--quick: random-initialised {a.model} written to {weights}")
        restoration = Restoration(weights, a.model, a.restore_device, a.restore_threads)
    ctx = {
        "out": a.out,
        "preset": preset,
        "threads": a.threads,
        "sfm_seed": a.sfm_seed,
        "restoration": restoration,
    }
    runs: list[dict] = []
    scenes: dict = {}
    total = len(a.levels) * len(a.seeds) * len(inputs)
    done = 0
    try:
        for level in a.levels:
            for seed in a.seeds:
                scene, timing = ensure_scene(a.out, preset, level, seed)
                scenes[f"{level}_s{seed}"] = timing
                for kind in inputs:
                    done += 1
                    r = run_one(ctx, level, seed, kind, scene, timing)
                    runs.append(r)
                    rot = r.get("rot_err_deg_mean")
                    rot_s = "-" if rot is None else f"{rot:.3f}"
                    how = "cached" if r["cached"] else f"SfM {r['sfm_s']:.1f} s"
                    if r.get("reused_from") and not r["cached"]:
                        how = f"same sharp frames as {Path(r['reused_from']).parent.name}: SfM not rerun"
                    log(
                        f"[{done}/{total}] {level} s{seed} {kind}: {r['registered']}/{r['frames']} registered, "
                        f"{r['points3D']} points, rot {rot_s} deg, {how}"
                    )
    finally:
        if tmp is not None:
            tmp.cleanup()
    summary = summarise(runs, a.levels, inputs, a.success_fraction)
    result = {
        "benchmark": "bench_sfm",
        "question": "does MIMO-UNet pre-restoration make SfM register more frames with better poses than the "
        "blurry frames and the blurry frames downscaled by 2?",
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "quick": a.quick,
        "preset": preset,
        "levels": a.levels,
        "seeds": a.seeds,
        "inputs": inputs,
        "sfm": {
            "options": dataclasses.asdict(sfm_options(a.threads, a.sfm_seed)),
            "description": "pycolmap SIFT (COLMAP defaults: 4 octaves from a 2x upsample, 8192 features), exhaustive "
            "matching, one shared SIMPLE_RADIAL camera, incremental mapping, largest model kept, CPU",
            "pycolmap": pycolmap.__version__,
        },
        "restorer": restoration.info() if restoration else None,
        "downscale": f"box average by {DOWN} in linear light (reconstruction.deblurgs.data.downscale_image)",
        "metrics": {
            "pose_truth": "gt/cameras.json c2w_mid, matched by file name",
            "alignment": "reconstruction.geometry.alignment.align_poses: rotation = chordal mean over camera "
            "orientations, then scale and translation from the centres (least squares)",
            "rot_err_deg": "geodesic angle per registered frame after alignment",
            "pos_err_pct": "centre distance after alignment, % of the true path length (all frames)",
            "rel_rot_err_deg": "angle of the relative-rotation error, all pairs of registered frames (no alignment)",
            "focal_err_pct": "estimated / true focal at the input's resolution - 1, %",
            "aggregation": f"registration over all seeds; errors over runs with >= {a.success_fraction:g} of the "
            f"frames registered and >= {MIN_FRAMES_FOR_ERRORS} frames",
        },
        "machine": f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores; threads: SfM {a.threads}, "
        f"restorer {a.restore_threads}",
        "scenes": scenes,
        "summary": summary,
        "runs": runs,
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
    write_json_atomic(a.out / "bench_sfm.json", result)
    print(markdown(summary), file=sys.stderr)
    return result


if __name__ == "__main__":
    sys.exit(main())

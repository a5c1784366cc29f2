"""``sharpsplat reconstruct INPUT --out RUN``: one resumable command from shaky video to a sharp 3D scene.

INPUT is a video, a folder of frames, a COLMAP scene (images/ + sparse/), a Deblur-NeRF / LLFF scene
(poses_bounds.npy + images/) or a synthetic scene of ``sharpsplat make-scene``. Stages, in order:

========== ==================================================================================================
frames     video / folder -> ``RUN/scene/images`` (blur-aware selection, working size; ``frames.json``)
restore    MIMO-UNet pre-restoration -> ``RUN/scene/restored`` (used only by SfM and the comparison)
sfm        pycolmap SfM on the restored (or blurry) frames -> ``RUN/scene/sparse/0`` (+ ``sfm_report.json``)
train      DeblurGS on the ORIGINAL blurry frames -> ``RUN/train/`` (checkpoint, trajectories, training curve)
baseline   the same Gaussians without a motion model ("3DGS on blurry") -> ``RUN/baseline/``, for the report
deblurred  sharp mid-exposure frames -> ``RUN/deblurred/``; ``RUN/trajectories.json``, ``RUN/cameras.json``
render     a smooth novel camera path -> ``RUN/renders/path.mp4``
export     ``RUN/splats.ply`` (3DGS PLY, sRGB colours, opens in common splat viewers)
compare    blurry vs MIMO-UNet vs 3DGS vs DeblurGS (vs ground truth) -> ``RUN/report.html``, ``RUN/report/``
========== ==================================================================================================

Scenes that already have poses skip frames and SfM. Every stage writes its outputs atomically and then
records itself in ``RUN/manifest.json``; rerunning the same command skips finished stages and resumes
training from its last checkpoint (also after a hard kill). ``--force STAGE`` reruns that stage and every
later one. A run folder of another format version, or one made with other settings, is refused with a
one-line error and left untouched.

Presets: ``configs/reconstruct-<name>.toml`` (``demo``, ``cpu``, ``gpu-quality``) hold any of the flags below;
flags given on the command line override them.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro

from deblur2d.atomic import atomic_dir, write_json_atomic
from deblur2d.errors import UserError
from reconstruction.presets import jsonable, load_preset_into, preset_from_argv

__all__ = ["ReconstructArgs", "STAGES", "RUN_FORMAT", "run_pipeline", "load_manifest", "main"]

#: Stages in order; ``--force`` takes one of these names.
STAGES = ("frames", "restore", "sfm", "train", "baseline", "deblurred", "render", "export", "compare")
StageName = Literal["frames", "restore", "sfm", "train", "baseline", "deblurred", "render", "export", "compare"]
#: Format version of run folders; a manifest with another one is refused.
RUN_FORMAT = 1
DEFAULT_PRESET = "cpu"

#: Settings each stage depends on (a change there, on a finished stage, needs ``--force``).
STAGE_KEYS: dict[str, tuple[str, ...]] = {
    "frames": ("max_frames", "select", "long_side"),
    "restore": ("restore", "weights", "model"),
    "sfm": ("matcher", "camera_model", "sfm_downscale", "seed"),
    "train": ("train_preset", "train_downscale", "train_steps", "seed"),
    "baseline": ("baseline", "baseline_steps"),
    "render": ("path", "path_frames", "fps"),
    "compare": ("ground_truth",),
}


@dataclass
class ReconstructArgs:
    """Shaky video (or frames, or a scene) in; sharp frames, a sharp 3D Gaussian scene, novel views and a report out."""

    input: Annotated[Path, tyro.conf.Positional] = Path("video.mp4")
    """A video, a folder of frames, a COLMAP scene, a Deblur-NeRF/LLFF scene or a synthetic scene."""
    out: Path = Path("runs/reconstruct")
    """Run folder (created; rerun the same command to resume)."""
    preset: str = DEFAULT_PRESET
    """configs/reconstruct-<preset>.toml (demo, cpu, gpu-quality) or a TOML path; flags override it."""
    force: StageName | None = None
    """Rerun this stage and every later one (their outputs are replaced when the new ones are finished)."""
    ground_truth: Path | None = None
    """A synthetic scene (make-scene) whose images/ are INPUT's frames in order: adds PSNR/SSIM to the report."""
    max_frames: int = 100
    """Frames taken from a video or folder (0: all)."""
    select: Literal["even", "sharpest"] = "sharpest"
    """Frame choice: evenly in time, or the sharpest frame in each of max_frames equal time slots."""
    long_side: int = 640
    """Working long side of the frames in pixels (never upscaled; 0: keep)."""
    restore: bool = True
    """Pre-restore frames with MIMO-UNet before SfM (skipped, and said, when no weights exist)."""
    weights: Path | None = None
    """MIMO-UNet weights (default: the shipped ones)."""
    model: Literal["mimo-unet", "mimo-unet-plus"] = "mimo-unet"
    matcher: Literal["auto", "sequential", "exhaustive"] = "auto"
    """SfM matching: exhaustive for small sets, sequential for long videos (auto)."""
    camera_model: Literal["SIMPLE_RADIAL", "PINHOLE"] = "SIMPLE_RADIAL"
    sfm_downscale: int = 1
    """Run SfM on frames downscaled by this factor (halves blur in pixels); poses hold for full-size frames."""
    sfm_threads: int = 1
    """COLMAP threads. 1 gives the same poses for the same seed; with 2, the same frames gave 0.14 and 0.25 deg
    rotation error on two runs (scripts/bench_sfm.py). -1: all cores (faster, not reproducible). A finished SfM
    is not redone for another thread count."""
    train_preset: str = "deblurgs-cpu-demo"
    """DeblurGS preset in configs/ (deblurgs-cpu-demo, deblurgs-gpu-quality, ...)."""
    train_downscale: int = 0
    """Train on frames downscaled by this factor (0: the DeblurGS preset's own setting)."""
    train_steps: int = 0
    """DeblurGS steps (0: the preset's)."""
    baseline: bool = True
    """Also fit Gaussians without a motion model (3DGS on blurry frames) for the comparison."""
    baseline_steps: int = 0
    """Steps of the baseline (0: as many as DeblurGS)."""
    path: str = "spiral"
    """Novel camera path of renders/path.mp4: spiral, orbit, train, or a JSON file of poses."""
    path_frames: int = 60
    fps: float = 15.0
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = 0
    """CPU threads for torch (0: torch's default)."""
    progress: bool = True
    """Progress bars."""


# ---------------------------------------------------------------------------------------------- presets


def load_preset(name: str) -> ReconstructArgs:
    """:class:`ReconstructArgs` defaults with preset ``name`` applied (``configs/reconstruct-<name>.toml``)."""
    return load_preset_into(ReconstructArgs(preset=name), name, "reconstruct-")


# ---------------------------------------------------------------------------------------------- manifest


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_manifest(run: Path) -> dict[str, Any] | None:
    """``RUN/manifest.json`` or ``None`` for a new run; :class:`UserError` for a folder that is not a run of
    this format (another version, another tool, or a non-empty folder without a manifest)."""
    mf = run / "manifest.json"
    if run.exists() and not run.is_dir():
        raise UserError(f"--out {run}: exists and is not a folder; give a new --out")
    if not mf.is_file():
        if run.is_dir() and any(p for p in run.iterdir() if not p.name.startswith(".")):
            raise UserError(f"--out {run}: folder exists, is not empty and has no manifest.json; give a new --out")
        return None
    try:
        m = json.loads(mf.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"{mf}: unreadable ({e}); give a new --out") from None
    if not isinstance(m, dict) or m.get("format") != RUN_FORMAT or m.get("kind") != "sharpsplat-reconstruct":
        fmt = m.get("format") if isinstance(m, dict) else None
        raise UserError(
            f"{mf}: not a sharpsplat reconstruct run of format {RUN_FORMAT} (found {fmt!r}: another version or "
            "command); it is left as it is: give a new --out"
        )
    return m


class Run:
    """A run folder and its manifest (stages finished, with their settings, time and outputs)."""

    def __init__(self, args: ReconstructArgs) -> None:
        self.args = args
        self.root = args.out
        m = load_manifest(self.root)
        settings = _settings(args)
        if m is None:
            m = {"format": RUN_FORMAT, "kind": "sharpsplat-reconstruct", "input": str(args.input.resolve()),
                 "created": _now(), "stages": {}}
        else:
            if m.get("input") != str(args.input.resolve()):
                raise UserError(
                    f"--out {self.root}: this run was made from {m.get('input')}, not {args.input.resolve()}; "
                    "give a new --out"
                )
            self._check_settings(m, settings)
        m["settings"] = settings
        self.m = m
        if args.force is not None:
            for st in STAGES[STAGES.index(args.force):]:
                self.m["stages"].pop(st, None)
        self.root.mkdir(parents=True, exist_ok=True)
        self.save()

    def _check_settings(self, m: dict[str, Any], settings: dict[str, Any]) -> None:
        force_from = STAGES.index(self.args.force) if self.args.force else len(STAGES)
        old = m.get("settings", {})
        for st, keys in STAGE_KEYS.items():
            if st not in m["stages"] or STAGES.index(st) >= force_from:
                continue
            diff = [f"{k} {old.get(k)!r} -> {settings[k]!r}" for k in keys if old.get(k) != settings[k]]
            if diff:
                raise UserError(
                    f"--out {self.root}: stage {st} was finished with other settings ({'; '.join(diff)}); rerun with "
                    f"--force {st} to redo it and what follows, or give a new --out"
                )

    def done(self, stage: str) -> bool:
        return stage in self.m["stages"]

    def finish(self, stage: str, seconds: float, **info: Any) -> None:
        self.m["stages"][stage] = {"seconds": round(seconds, 2), "finished": _now(), **info}
        self.save()

    def save(self) -> None:
        write_json_atomic(self.root / "manifest.json", jsonable(self.m))


def _settings(args: ReconstructArgs) -> dict[str, Any]:
    keys = {k for ks in STAGE_KEYS.values() for k in ks}
    return {k: jsonable(getattr(args, k)) for k in sorted(keys)}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _copy_tree(src: Path, dst: Path) -> None:
    with atomic_dir(dst) as tmp:
        for p in sorted(src.iterdir()):
            if p.is_file() and not p.name.startswith("."):
                shutil.copy2(p, tmp / p.name)


def _copy_file(src: Path, dst: Path) -> None:
    from deblur2d.atomic import atomic_path

    with atomic_path(dst) as tmp:
        shutil.copy2(src, tmp)


# ---------------------------------------------------------------------------------------------- stages


def _input_kind(path: Path) -> str:
    from reconstruction.scene_io import detect_input

    if not path.exists():
        raise UserError(f"{path}: no such file or folder; give a video, a folder of frames or a scene folder")
    return detect_input(path)


def _scene_dir(run: Run, kind: str) -> Path:
    """Where the scene lives: our own ``RUN/scene`` (video / frames), or the given scene folder (read only)."""
    return run.root / "scene" if kind in ("video", "images") else run.args.input


def stage_frames(run: Run, kind: str) -> None:
    from reconstruction.frames import FrameOptions, extract_frames

    a = run.args
    opts = FrameOptions(max_frames=a.max_frames, select=a.select, long_side=a.long_side)
    t = time.perf_counter()
    from reconstruction.scene_io import input_image_dir

    src = input_image_dir(a.input) if kind == "images" else a.input
    res = extract_frames(src, run.root / "scene", opts, force=a.force == "frames", progress=a.progress, verbose=False)
    run.finish("frames", time.perf_counter() - t, frames=len(res.files), kind=kind)
    _log("[frames] " + res.line().removeprefix("frames: "))


def stage_restore(run: Run, scene: Path, restored: Path) -> dict[str, Any]:
    from reconstruction.prerestore import restore_folder, weights_available

    a = run.args
    t = time.perf_counter()
    if scene == run.root / "scene":  # our own frames: undo an earlier SfM's undistortion before restoring them
        from reconstruction.undistort import recover_distorted

        recover_distorted(scene)
    if not a.restore:
        run.finish("restore", 0.0, restored=False, reason="--no-restore")
        _log("[restore] off (--no-restore): SfM runs on the blurry frames")
        return run.m["stages"]["restore"]
    w = weights_available(a.weights, a.model)  # UserError for a --weights path that does not exist
    if w is None:
        run.finish("restore", 0.0, restored=False, reason="no MIMO-UNet weights")
        _log("[restore] skipped: no MIMO-UNet weights ship with this version and none were given (--weights "
             "PATH); SfM runs on the blurry frames")
        return run.m["stages"]["restore"]
    summary = restore_folder(scene / "images", restored, weights=w, model=a.model, device=a.device,
                             progress=a.progress, verbose=False)
    run.finish("restore", time.perf_counter() - t, restored=True, weights=str(w), summary=summary)
    _log(f"[restore] {summary.get('n', '?')} frames restored with {w.name} -> {restored} "
         f"({time.perf_counter() - t:.1f} s)")
    return run.m["stages"]["restore"]


def stage_sfm(run: Run, scene: Path) -> None:
    from reconstruction.scene_sfm import run_scene_sfm

    a = run.args
    t = time.perf_counter()
    use_restored = bool(run.m["stages"].get("restore", {}).get("restored"))
    report = run_scene_sfm(scene, use_restored=use_restored, matcher=a.matcher, camera_model=a.camera_model,
                           downscale=a.sfm_downscale, seed=a.seed, num_threads=a.sfm_threads, verbose=False)
    run.finish("sfm", time.perf_counter() - t, report=report)
    _log(f"[sfm] {report['num_registered']}/{report['num_images']} frames registered on the "
         f"{'restored' if use_restored else 'blurry'} frames, {report['num_points3D']} points, reprojection "
         f"{report.get('mean_reprojection_error', float('nan')):.2f} px -> {scene / 'sparse' / '0'} "
         f"({time.perf_counter() - t:.1f} s)")


def _train_args(run: Run, scene: Path, out: Path, motion: bool) -> Any:
    from reconstruction.deblurgs.cli import load_preset as load_train_preset

    a = run.args
    targs = load_train_preset(a.train_preset)
    cfg = targs.config
    gs = cfg.gs
    steps = a.train_steps or gs.steps
    if not motion:
        steps = a.baseline_steps or steps
    gs = dataclasses.replace(gs, steps=steps, seed=a.seed)
    cfg = dataclasses.replace(cfg, gs=gs, motion=motion)
    return dataclasses.replace(
        targs,
        scene=scene,
        out=out,
        preset=a.train_preset,
        poses="auto",
        downscale=a.train_downscale or targs.downscale,
        device=a.device,
        threads=a.threads,
        progress=a.progress,
        evaluate=False,
        config=cfg,
        resume=True,
    )


def stage_train(run: Run, scene: Path, motion: bool) -> None:
    from reconstruction.deblurgs.cli import run as run_deblurgs

    name, out = ("train", run.root / "train") if motion else ("baseline", run.root / "baseline")
    targs = _train_args(run, scene, out, motion)
    forced = run.args.force is not None and STAGES.index(run.args.force) <= STAGES.index(name)
    if forced:  # redone on purpose (or on new frames / poses): never continue the old checkpoint, even later
        targs = dataclasses.replace(targs, resume=False)
        (out / "checkpoint.pt").unlink(missing_ok=True)
    t = time.perf_counter()
    what = "DeblurGS (camera motion during exposure)" if motion else "baseline: 3DGS on the blurry frames (no motion)"
    _log(f"[{name}] {what}: {targs.config.gs.steps} steps, preset {run.args.train_preset}, downscale "
         f"{targs.downscale} -> {out}")
    m = run_deblurgs(targs)
    run.finish(name, time.perf_counter() - t, steps=m["train"]["steps"], psnr_blurry_fit=m["train"]["psnr"],
               n_gaussians=m["train"]["n_gaussians"], resolution=m["resolution"])
    _log(f"[{name}] done: {m['train']['steps']} steps, {m['train']['n_gaussians']} Gaussians, fit to the blurry "
         f"frames {m['train']['psnr']:.2f} dB ({time.perf_counter() - t:.1f} s)")


def stage_deblurred(run: Run) -> None:
    t = time.perf_counter()
    tr = run.root / "train"
    _copy_tree(tr / "deblurred", run.root / "deblurred")
    for name in ("trajectories.json", "cameras.json", "train_log.jsonl"):
        _copy_file(tr / name, run.root / name)
    n = len(list((run.root / "deblurred").iterdir()))
    run.finish("deblurred", time.perf_counter() - t, frames=n)
    _log(f"[deblurred] {n} sharp mid-exposure frames -> {run.root / 'deblurred'}; exposure trajectories -> "
         f"{run.root / 'trajectories.json'}")


def stage_render(run: Run) -> None:
    from reconstruction.render_cli import render_path

    a = run.args
    t = time.perf_counter()
    out = render_path(run.root / "train", a.path, run.root / "renders" / "path.mp4", n_frames=a.path_frames,
                      fps=a.fps, device=a.device, progress=a.progress)
    run.finish("render", time.perf_counter() - t, video=str(out.relative_to(run.root)), frames=a.path_frames)
    _log(f"[render] {a.path_frames} novel views along a {a.path} path -> {out} ({time.perf_counter() - t:.1f} s)")


def stage_export(run: Run) -> None:
    from reconstruction.ply import load_ply

    t = time.perf_counter()
    _copy_file(run.root / "train" / "splats.ply", run.root / "splats.ply")
    n = len(load_ply(run.root / "splats.ply"))
    run.finish("export", time.perf_counter() - t, gaussians=n)
    _log(f"[export] {n} Gaussians -> {run.root / 'splats.ply'} (3DGS PLY, sRGB colours)")


def _dataset_ground_truth(run: Run, scene: Path) -> tuple[Path | None, Path | None, Path | None]:
    """Ground truth a COLMAP / Deblur-NeRF scene ships: sharp images of the training views (``images_test/``)
    and held-out views (``hold=N``), in the DESIGN.md ``gt/`` form under ``RUN/gt``."""
    from reconstruction.scene_io import read_scene

    cams = read_scene(scene)
    files = json.loads((run.root / "cameras.json").read_text())["files"]
    if cams.sharp is None and cams.test is None:
        return None, None, None
    gt: dict[str, Any] = {"width": cams.width, "height": cams.height, "K": cams.K.tolist(),
                          "frames": [{"file": f, "c2w_mid": c.tolist()} for f, c in zip(cams.files, cams.c2ws)],
                          "test": [], "source": f"{scene} ({cams.source})"}
    sharp_dir = None
    if cams.sharp is not None and list(cams.files) == list(files):
        sharp_dir = run.root / "gt" / "sharp"
        with atomic_dir(sharp_dir) as tmp:
            for mine, theirs in zip(files, cams.sharp.files, strict=True):
                shutil.copy2(cams.sharp.dir / theirs, tmp / mine)
    test_dir = None
    if cams.test is not None:
        gt["test"] = [{"file": f, "c2w": c.tolist()} for f, c in zip(cams.test.files, cams.test.c2ws)]
        test_dir = cams.test.dir
    write_json_atomic(run.root / "gt" / "cameras.json", gt)
    return sharp_dir, run.root / "gt" / "cameras.json", test_dir


def _ground_truth(run: Run, kind: str, scene: Path) -> tuple[Path | None, Path | None, Path | None]:
    """``(gt sharp dir with the run's frame names, gt cameras.json, held-out views dir)``, written under
    ``RUN/gt`` when needed."""
    a = run.args
    if kind == "synthetic" and a.ground_truth is None:
        return scene / "gt" / "sharp", scene / "gt" / "cameras.json", scene / "gt" / "test"
    if kind in ("colmap", "llff") and a.ground_truth is None:
        return _dataset_ground_truth(run, scene)
    if a.ground_truth is None:
        return None, None, None
    from reconstruction.synthetic import load_gt

    src = a.ground_truth
    if not (src / "gt" / "cameras.json").is_file():
        raise UserError(f"--ground-truth {src}: not a synthetic scene (no gt/cameras.json); give a make-scene folder")
    gt = load_gt(src)
    files_gt = list(gt["files"])
    files = sorted(p.name for p in (scene / "images").iterdir() if not p.name.startswith("."))
    frames_json = scene / "frames.json"
    record = json.loads(frames_json.read_text()) if frames_json.is_file() else {}
    mapping: dict[str, str] = {}
    if record.get("kind") == "images":  # frames keep the source's stem (maybe rank-prefixed): map back to it
        for f in record["frames"]:
            if f["source_file"] not in files_gt:
                raise UserError(f"--ground-truth {src}: no ground truth for frame {f['source_file']}; names must match")
            mapping[f["file"]] = f["source_file"]
    elif record.get("kind") == "video":
        for f in record["frames"]:
            i = int(f["source_index"])
            if i >= len(files_gt):
                raise UserError(f"--ground-truth {src}: has {len(files_gt)} frames but the video frame {i} was used; "
                                "give the scene the video was made from")
            mapping[f["file"]] = files_gt[i]
    else:
        missing = [f for f in files if f not in files_gt]
        if missing:
            raise UserError(f"--ground-truth {src}: no ground truth for frame {missing[0]}; names must match")
        mapping = {f: f for f in files}
    out = run.root / "gt"
    cams = json.loads((src / "gt" / "cameras.json").read_text())
    by_file = {fr["file"]: fr for fr in cams["frames"]}
    with atomic_dir(out / "sharp") as tmp:
        for mine, theirs in mapping.items():
            shutil.copy2(src / "gt" / "sharp" / theirs, tmp / mine)
    cams["frames"] = [{**by_file[theirs], "file": mine} for mine, theirs in sorted(mapping.items())]
    write_json_atomic(out / "cameras.json", cams)
    return out / "sharp", out / "cameras.json", src / "gt" / "test"


def stage_compare(run: Run, kind: str, scene: Path, restored: Path) -> dict[str, Any]:
    from reconstruction.compare import compare_run

    t = time.perf_counter()
    gt_sharp, gt_cams, gt_test = _ground_truth(run, kind, scene)
    files = json.loads((run.root / "cameras.json").read_text())["files"]

    def rel(p: Path | None) -> str | None:
        if p is None:
            return None
        p = Path(p).resolve()
        try:
            return str(p.relative_to(run.root.resolve()))
        except ValueError:
            return str(p)

    methods = {"Blurry input": rel(scene / "images")}
    if run.m["stages"].get("restore", {}).get("restored"):
        methods["MIMO-UNet"] = rel(restored)
    if run.done("baseline") and run.m["stages"]["baseline"].get("steps"):
        methods["3DGS on blurry"] = "baseline/deblurred"
    methods["DeblurGS"] = "deblurred"
    notes = []
    if not run.m["stages"].get("restore", {}).get("restored"):
        notes.append(f"MIMO-UNet left out: {run.m['stages'].get('restore', {}).get('reason', 'not run')}.")
    novel = _novel_views(run, gt_cams, gt_test)
    if novel:
        opt = novel.get("pose_optimised")
        notes.append(
            f"Novel views: {novel['n']} held-out ground-truth views rendered by DeblurGS (in novel/): "
            f"{novel['given_pose']['psnr']:.2f} dB / SSIM {novel['given_pose']['ssim']:.3f} at the pose mapped by "
            "aligning the ground truth to the run's cameras"
            + (f", {opt['psnr']:.2f} dB / {opt['ssim']:.3f} after test-time pose optimisation" if opt else "") + "."
        )
    spec = {
        "title": f"sharpsplat: {run.args.input.name} -> {run.root.name}",
        "files": files,
        "methods": methods,
        "ground_truth": rel(gt_sharp),
        "trajectories": "trajectories.json",
        "true_trajectories": rel(gt_cams),
        "train_logs": {"DeblurGS": "train/train_log.jsonl", "3DGS on blurry": "baseline/train_log.jsonl"},
        "notes": notes,
    }
    write_json_atomic(run.root / "compare.json", spec)
    res = compare_run(run.root, spec)
    run.finish("compare", time.perf_counter() - t, report="report.html", novel_views=novel)
    _log(f"[compare] {len(methods)} methods on {len(files)} frames -> {run.root / 'report.html'} "
         f"({time.perf_counter() - t:.1f} s)")
    return res


def _novel_views(run: Run, gt_cams: Path | None, test_dir: Path | None) -> dict[str, Any] | None:
    """Held-out ground-truth views rendered by the run, into ``RUN/novel/`` (when the ground truth has some)."""
    if gt_cams is None or test_dir is None or not Path(test_dir).is_dir():
        return None
    from reconstruction.novel_eval import evaluate_novel_views

    cams = json.loads(Path(gt_cams).read_text())
    if not cams.get("test"):
        return None
    t = time.perf_counter()
    res = evaluate_novel_views(run.root / "train", cams, test_dir, out_dir=run.root / "novel",
                               device=run.args.device)
    g, o = res["given_pose"], res.get("pose_optimised")
    _log(f"[compare] {res['n']} held-out views: {g['psnr']:.2f} dB at the aligned pose"
         + (f", {o['psnr']:.2f} dB after test-time pose optimisation" if o else "")
         + f" -> {run.root / 'novel'} ({time.perf_counter() - t:.1f} s)")
    return res


# ---------------------------------------------------------------------------------------------- driver


def run_pipeline(args: ReconstructArgs) -> dict[str, Any]:
    """Run (or resume) every stage for ``args``; returns the run's metrics (also ``RUN/metrics.json``)."""
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    kind = _input_kind(args.input)
    run = Run(args)
    scene = _scene_dir(run, kind)
    restored = scene / "restored" if kind in ("video", "images") else run.root / "restored"
    done = [s for s in STAGES if run.done(s)]
    _log(f"sharpsplat reconstruct: {kind} {args.input} -> {run.root}" +
         (f" (resuming; finished: {', '.join(done)})" if done else ""))
    has_poses = kind not in ("video", "images")
    for stage in STAGES:
        if run.done(stage):
            continue
        if stage == "frames":
            if has_poses:
                run.finish("frames", 0.0, skipped=f"{kind} scene: frames as given")
                continue
            stage_frames(run, kind)
        elif stage == "restore":
            stage_restore(run, scene, restored)
        elif stage == "sfm":
            if has_poses:
                run.finish("sfm", 0.0, skipped=f"{kind} scene: its own poses")
                _log(f"[sfm] skipped: the {kind} scene has poses")
                continue
            stage_sfm(run, scene)
        elif stage == "train":
            stage_train(run, scene, motion=True)
        elif stage == "baseline":
            if not args.baseline:
                run.finish("baseline", 0.0, steps=0, skipped="--no-baseline")
                continue
            stage_train(run, scene, motion=False)
        elif stage == "deblurred":
            stage_deblurred(run)
        elif stage == "render":
            stage_render(run)
        elif stage == "export":
            stage_export(run)
        elif stage == "compare":
            stage_compare(run, kind, scene, restored)
    metrics = _metrics(run)
    metrics["seconds_this_invocation"] = round(time.perf_counter() - t0, 1)
    write_json_atomic(run.root / "metrics.json", jsonable(metrics))
    _summary(run, metrics)
    return metrics


def _metrics(run: Run) -> dict[str, Any]:
    st = run.m["stages"]
    m: dict[str, Any] = {"input": run.m["input"], "stages": {k: v.get("seconds") for k, v in st.items()}}
    if "sfm" in st and "report" in st["sfm"]:
        m["sfm"] = st["sfm"]["report"]
    rep = run.root / "report" / "metrics.json"
    if rep.is_file():
        m["compare"] = json.loads(rep.read_text())
    if st.get("compare", {}).get("novel_views"):
        m["novel_views"] = st["compare"]["novel_views"]
    return m


def _summary(run: Run, metrics: dict[str, Any]) -> None:
    r = run.root
    lines = [f"done in {sum(v or 0 for v in metrics['stages'].values()):.0f} s of stage time. Outputs in {r}:",
             f"  sharp frames     {r / 'deblurred'}",
             f"  3D scene (PLY)   {r / 'splats.ply'}",
             f"  novel views      {r / 'renders' / 'path.mp4'}",
             f"  report           {r / 'report.html'}",
             f"  metrics          {r / 'metrics.json'}"]
    table = metrics.get("compare", {}).get("table_markdown")
    if table:
        lines += ["", table]
    nv = metrics.get("novel_views")
    if nv:
        opt = nv.get("pose_optimised")
        lines.append(f"Held-out novel views ({nv['n']}, vs ground truth): {nv['given_pose']['psnr']:.2f} dB / SSIM "
                     f"{nv['given_pose']['ssim']:.3f} at the aligned pose"
                     + (f", {opt['psnr']:.2f} dB / {opt['ssim']:.3f} after test-time pose optimisation" if opt else ""))
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sharpsplat reconstruct``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    default = load_preset(preset_from_argv(argv, DEFAULT_PRESET))
    args = tyro.cli(ReconstructArgs, default=default, args=argv, prog="sharpsplat reconstruct")
    run_pipeline(args)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Adaptive density control of 3D Gaussians: clone, split, prune, opacity reset, with optimiser state surgery.

The scheme and its default numbers are those of 3DGS (Kerbl, Kopanas, Leimkuehler, Drettakis, "3D Gaussian
Splatting for Real-Time Radiance Field Rendering", SIGGRAPH 2023, Sec. 5.2 and the reference code's
``OptimizationParams``) as re-implemented by gsplat 1.5.3's ``DefaultStrategy``:

- every ``refine_every`` = 100 steps after ``refine_start_iter`` = 500 and before ``refine_stop_iter`` = 15000
  (3DGS ``densification_interval``, ``densify_from_iter``, ``densify_until_iter``), Gaussians whose average
  screen-space positional gradient is above ``grow_grad2d`` = 0.0002 (``densify_grad_threshold``) grow:
  those with largest scale <= ``grow_scale3d`` = 0.01 x scene extent (``percent_dense``) are cloned, larger
  ones are split into 2 children sampled from the parent's Gaussian, with scales divided by 1.6 (``0.8 * N``);
- Gaussians with opacity below ``prune_opa`` = 0.005 are pruned, and after the first opacity reset also those
  larger than ``prune_scale3d`` = 0.1 x scene extent (3DGS ``0.1 * extent`` in ``densify_and_prune``);
- every ``reset_every`` = 3000 steps (``opacity_reset_interval``) opacities are clamped to at most
  ``reset_opacity`` = 0.01, and their Adam moments cleared. gsplat 1.5.3 never does this: its test
  ``step % reset_every == 0 & step > 0`` parses as ``step % reset_every == (0 & step) > 0``, always False.
  Here the reset happens (tested);
- screen-size rules (split above ``grow_scale2d`` = 0.05, prune above ``prune_scale2d`` = 0.15 of the larger
  image side) as gsplat, active only while ``step < refine_scale2d_stop_iter`` (default 0: off, as in gsplat,
  because the 3DGS code's equivalent never fires: graphdeco-inria/gaussian-splatting issue 123).

Gradient statistics follow gsplat: the pixel-space gradient of each projected mean (``info["means2d"].grad``,
``[C, N, 2]``) is scaled by ``[W/2, H/2]`` (pixels -> NDC, as the 3DGS CUDA code accumulates it) and by the
number of views the loss averages over (``info["n_cameras"]`` by default); its norm is summed per Gaussian
over every camera in which the Gaussian is visible (``radii > 0``), and ``count`` counts those (camera,
Gaussian) visits. The growth test uses ``grad2d / count``. When one step renders several calls (several
cameras or the sub-frames of one blurry frame rendered separately), call :meth:`DensifyStrategy.accumulate`
once per call and pass ``n_views`` = how many renders the loss averages over in total.

Only ``info["means2d"].grad``, ``info["radii"]`` (``[C, N]`` or gsplat's ``[C, N, 2]``), ``width``, ``height``
and ``n_cameras`` are read, so any backend with gsplat's ``info`` works.

Typical use (``params``: name -> Parameter, first dimension N; ``optimizers``: name -> optimiser)::

    strategy = DensifyStrategy(DensifyConfig(), scene_scale=extent)
    rgb, alpha, info = render(...)
    strategy.retain(info)              # before backward
    loss.backward()
    stats = strategy.step_post_backward(params, optimizers, step, info)
    for opt in optimizers.values(): opt.step(); opt.zero_grad(set_to_none=True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["DensifyConfig", "DensifyStrategy", "quat_to_rotmat", "replace_param_rows"]

Params = MutableMapping[str, torch.nn.Parameter]
Optimizers = Mapping[str, torch.optim.Optimizer] | Iterable[torch.optim.Optimizer]


@dataclass
class DensifyConfig:
    """Settings of :class:`DensifyStrategy` (defaults: 3DGS / gsplat 1.5.3, see the module docstring)."""

    grow_grad2d: float = 0.0002
    """Average NDC-space gradient norm above which a Gaussian grows (3DGS densify_grad_threshold)."""
    grow_scale3d: float = 0.01
    """Clone if the largest scale <= this x scene extent, else split (3DGS percent_dense)."""
    grow_scale2d: float = 0.05
    """Split if the screen radius exceeds this fraction of max(W, H) (screen-size rule)."""
    prune_opa: float = 0.005
    """Prune below this opacity (3DGS min_opacity in densify_and_prune)."""
    prune_scale3d: float = 0.1
    """Prune if the largest scale exceeds this x scene extent (only after the first opacity reset, so never
    when resets are off)."""
    prune_scale2d: float = 0.15
    """Prune if the screen radius exceeds this fraction of max(W, H) (screen-size rule)."""
    refine_scale2d_stop_iter: int = 0
    """Screen-size rules apply while step < this; 0 disables them (gsplat default)."""
    refine_start_iter: int = 500
    """Growth and pruning start after this step (3DGS densify_from_iter)."""
    refine_stop_iter: int = 15_000
    """No statistics, growth, pruning or reset from this step on (3DGS densify_until_iter)."""
    refine_every: int = 100
    """Grow and prune every this many steps (3DGS densification_interval)."""
    reset_every: int = 3000
    """Clamp opacities every this many steps (3DGS opacity_reset_interval); 0 disables resets."""
    reset_opacity: float = 0.01
    """Opacity ceiling set by a reset (3DGS: 0.01; gsplat: 2 x prune_opa)."""
    pause_refine_after_reset: int = 0
    """Skip growth/pruning for this many steps after each reset (gsplat option; 0 = never skip)."""
    split_children: int = 2
    """Children per split Gaussian (3DGS N = 2)."""
    split_scale_div: float = 1.6
    """Children's scales are the parent's divided by this (3DGS 0.8 * N)."""
    max_gaussians: int = 0
    """Cap on the number of Gaussians after growth (0 = no cap); above it the highest gradients win."""
    seed: int = 0
    """Seed of the generator that samples split children."""


def quat_to_rotmat(quats: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``[..., 3, 3]`` from quaternions ``[..., 4]`` (w, x, y, z), normalised first."""
    w, x, y, z = F.normalize(quats, dim=-1).unbind(-1)
    rows = [
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ]  # fmt: skip
    return torch.stack(rows, dim=-1).reshape(*quats.shape[:-1], 3, 3)


def _iter_optimizers(optimizers: Optimizers | None) -> list[torch.optim.Optimizer]:
    if optimizers is None:
        return []
    if isinstance(optimizers, torch.optim.Optimizer):
        return [optimizers]
    if isinstance(optimizers, Mapping):
        return list(optimizers.values())
    return list(optimizers)


@torch.no_grad()
def _swap_in_optimizers(
    optimizers: Sequence[torch.optim.Optimizer],
    old: torch.Tensor,
    new: torch.nn.Parameter,
    fn: Callable[[torch.Tensor], torch.Tensor],
) -> None:
    """Replace ``old`` by ``new`` in every param group; per-element state tensors (same shape as ``old``, e.g.
    Adam's exp_avg / exp_avg_sq) go through ``fn``; scalars (Adam's ``step``) are kept."""
    for opt in optimizers:
        for group in opt.param_groups:
            for i, p in enumerate(group["params"]):
                if p is not old:
                    continue
                group["params"][i] = new
                st = opt.state.pop(old, None)
                if st is not None:
                    opt.state[new] = {
                        k: fn(v) if isinstance(v, torch.Tensor) and v.shape == old.shape and v.ndim > 0 else v
                        for k, v in st.items()
                    }


@torch.no_grad()
def replace_param_rows(
    params: Params,
    optimizers: Optimizers | None,
    keep: torch.Tensor,
    new_rows: Mapping[str, torch.Tensor] | None = None,
) -> None:
    """Rebuild every per-Gaussian parameter as ``cat([p[keep], new_rows[name]])``, in place in ``params``.

    ``keep``: long indices of the rows that stay, in order. ``new_rows``: name -> tensor of M appended rows
    (every parameter must be given, or none). Optimiser state follows the rows: kept rows keep their moments,
    appended rows start at zero (as 3DGS ``cat_tensors_to_optimizer`` and gsplat ``ops.duplicate``).
    """
    opts = _iter_optimizers(optimizers)
    names = list(params.keys())
    if new_rows is not None and set(new_rows) != set(names):
        raise ValueError(f"new_rows must give every parameter {names}, got {sorted(new_rows)}")
    m = 0 if new_rows is None else next(iter(new_rows.values())).shape[0]
    for name in names:
        old = params[name]
        pieces = [old.detach()[keep]]
        if new_rows is not None:
            pieces.append(new_rows[name].to(old.dtype))
        new = torch.nn.Parameter(torch.cat(pieces), requires_grad=old.requires_grad)

        def fn(v: torch.Tensor, _m: int = m) -> torch.Tensor:
            return torch.cat([v[keep], v.new_zeros((_m, *v.shape[1:]))])

        _swap_in_optimizers(opts, old, new, fn)
        params[name] = new


class DensifyStrategy:
    """Clone / split / prune / opacity-reset scheduler (module docstring) for params with first dimension N.

    ``scene_scale``: the scene extent in world units (3DGS ``cameras_extent``: 1.1 x the largest camera-centre
    distance from their mean). ``grow_grad2d_schedule(step) -> threshold`` overrides the constant threshold;
    the attribute ``grow_grad2d`` may also be assigned at any time.
    """

    REQUIRED = ("means", "scales", "quats", "opacities")

    def __init__(
        self,
        config: DensifyConfig | None = None,
        scene_scale: float = 1.0,
        grow_grad2d_schedule: Callable[[int], float] | None = None,
    ) -> None:
        self.config = config or DensifyConfig()
        self.scene_scale = float(scene_scale)
        self.grow_grad2d = float(self.config.grow_grad2d)
        self.grow_grad2d_schedule = grow_grad2d_schedule
        self.generator = torch.Generator(device="cpu")
        self.generator.manual_seed(int(self.config.seed))
        self.grad2d: torch.Tensor | None = None
        self.count: torch.Tensor | None = None
        self.max_radii: torch.Tensor | None = None
        self.n_resets = 0

    # ------------------------------------------------------------------ schedule
    def grow_threshold(self, step: int) -> float:
        """Growth threshold in force at ``step``."""
        if self.grow_grad2d_schedule is not None:
            return float(self.grow_grad2d_schedule(step))
        return self.grow_grad2d

    def is_refine_step(self, step: int) -> bool:
        """Whether :meth:`step` grows and prunes at ``step``."""
        c = self.config
        if step >= c.refine_stop_iter or step <= c.refine_start_iter or c.refine_every <= 0:
            return False
        if step % c.refine_every != 0:
            return False
        return c.reset_every <= 0 or step % c.reset_every >= c.pause_refine_after_reset

    def is_reset_step(self, step: int) -> bool:
        """Whether :meth:`step` resets opacities at ``step``."""
        c = self.config
        return c.reset_every > 0 and 0 < step < c.refine_stop_iter and step % c.reset_every == 0

    # ------------------------------------------------------------------ statistics
    @staticmethod
    def retain(info: Mapping[str, Any]) -> None:
        """Call before ``backward`` so that ``info["means2d"].grad`` is kept."""
        m2d = info["means2d"]
        if m2d.requires_grad:
            m2d.retain_grad()

    def _ensure_state(self, n: int, device: torch.device) -> None:
        if self.grad2d is None or self.grad2d.shape[0] != n:
            if self.grad2d is not None and self.grad2d.shape[0] != n:
                raise RuntimeError(
                    f"densify statistics track {self.grad2d.shape[0]} Gaussians but the render has {n}; "
                    "change Gaussians only through this strategy"
                )
            self.reset_stats(n, device)

    def reset_stats(self, n: int, device: torch.device | str = "cpu") -> None:
        """Zero the running statistics for ``n`` Gaussians."""
        self.grad2d = torch.zeros(n, device=device)
        self.count = torch.zeros(n, device=device)
        self.max_radii = torch.zeros(n, device=device)

    @torch.no_grad()
    def accumulate(self, info: Mapping[str, Any], n_views: float | None = None) -> None:
        """Add one render call's screen-space gradients (after ``backward``) to the running statistics.

        ``n_views``: how many renders the loss averages over in this step (default ``info["n_cameras"]``);
        the pixel gradients are multiplied by it so that each view counts as if rendered alone (3DGS renders
        one view per step). Each (camera, Gaussian) pair with ``radii > 0`` adds one to ``count``.
        """
        m2d = info["means2d"]
        if m2d.grad is None:
            raise RuntimeError(
                "info['means2d'].grad is None: call DensifyStrategy.retain(info) before backward"
            )
        grads = m2d.grad.detach()
        if grads.ndim == 2:
            grads = grads[None]
        width, height = float(info["width"]), float(info["height"])
        views = float(info.get("n_cameras", grads.shape[0]) if n_views is None else n_views)
        radii = info["radii"].detach()
        if radii.ndim == 3:  # gsplat 1.5.3: per-axis radii [C, N, 2]
            visible = (radii > 0).all(dim=-1)
            r = radii.max(dim=-1).values
        else:
            radii = radii.reshape(grads.shape[:-1])
            visible = radii > 0
            r = radii
        n = grads.shape[1]
        self._ensure_state(n, grads.device)
        scale = grads.new_tensor([width / 2.0 * views, height / 2.0 * views])
        norms = (grads * scale).norm(dim=-1)  # [C, N]
        vis = visible.to(norms.dtype)
        self.grad2d += (norms * vis).sum(dim=0)
        self.count += vis.sum(dim=0)
        r_norm = (r.to(norms.dtype) * vis).amax(dim=0) / max(width, height)
        torch.maximum(self.max_radii, r_norm, out=self.max_radii)

    # ------------------------------------------------------------------ main entry points
    def step_post_backward(
        self,
        params: Params,
        optimizers: Optimizers | None,
        step: int,
        info: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
        n_views: float | None = None,
    ) -> dict[str, int]:
        """Accumulate ``info`` (one render call or a list) unless refinement is over, then :meth:`step`.

        With a list and ``n_views`` None, each call is scaled by the total ``n_cameras`` of the list.
        """
        if step < self.config.refine_stop_iter and info is not None:
            infos = [info] if isinstance(info, Mapping) else list(info)
            if n_views is None:
                n_views = sum(float(i.get("n_cameras", i["means2d"].shape[0])) for i in infos)
            for i in infos:
                self.accumulate(i, n_views=n_views)
        return self.step(params, optimizers, step)

    @torch.no_grad()
    def step(self, params: Params, optimizers: Optimizers | None, step: int) -> dict[str, int]:
        """Grow, prune and reset as scheduled for ``step``; returns counts
        ``{"cloned", "split", "pruned", "reset", "n"}`` (``reset`` 1 when opacities were reset)."""
        for key in self.REQUIRED:
            if key not in params:
                raise KeyError(f"densification needs parameter {key!r}")
        out = {"cloned": 0, "split": 0, "pruned": 0, "reset": 0}
        if self.is_refine_step(step):
            n = params["means"].shape[0]
            self._ensure_state(n, params["means"].device)
            out["cloned"], out["split"] = self.grow(params, optimizers, step)
            out["pruned"] = self.prune(params, optimizers, step)
            self.reset_stats(params["means"].shape[0], params["means"].device)
        if self.is_reset_step(step):
            self.reset_opacities(params, optimizers)
            out["reset"] = 1
        out["n"] = int(params["means"].shape[0])
        return out

    # ------------------------------------------------------------------ operations
    @torch.no_grad()
    def grow(self, params: Params, optimizers: Optimizers | None, step: int) -> tuple[int, int]:
        """Clone small and split large high-gradient Gaussians; returns ``(n_cloned, n_split)``.

        New rows are appended in the order: kept Gaussians (split parents removed), clones, then split
        children (all first children, then all second children). Clones are exact copies (3DGS).
        """
        c = self.config
        n = params["means"].shape[0]
        device = params["means"].device
        self._ensure_state(n, device)
        avg = self.grad2d / self.count.clamp_min(1.0)
        high = avg > self.grow_threshold(step)
        max_scale = torch.exp(params["scales"]).amax(dim=-1)
        small = max_scale <= c.grow_scale3d * self.scene_scale
        is_clone = high & small
        is_split = high & ~small
        if step < c.refine_scale2d_stop_iter:
            is_split |= self.max_radii > c.grow_scale2d
        is_clone, is_split = self._apply_cap(is_clone, is_split, avg, n)

        clone_idx = torch.nonzero(is_clone).squeeze(1)
        split_idx = torch.nonzero(is_split).squeeze(1)
        n_clone, n_split = int(clone_idx.numel()), int(split_idx.numel())
        if n_clone + n_split == 0:
            return 0, 0

        k = int(c.split_children)
        scales = torch.exp(params["scales"][split_idx])  # [S, 3]
        rot = quat_to_rotmat(params["quats"][split_idx])  # [S, 3, 3]
        noise = torch.randn((k, n_split, 3), generator=self.generator).to(device=device, dtype=scales.dtype)
        offsets = torch.einsum("sij,ksj->ksi", rot, scales[None] * noise)  # [k, S, 3]

        new_rows: dict[str, torch.Tensor] = {}
        for name, p in params.items():
            p = p.detach()
            if name == "means":
                children = (p[split_idx][None] + offsets).reshape(-1, 3)
            elif name == "scales":
                children = torch.log(scales / c.split_scale_div).repeat(k, 1)
            else:
                children = p[split_idx].repeat(k, *([1] * (p.ndim - 1)))
            new_rows[name] = torch.cat([p[clone_idx], children])
        keep = torch.nonzero(~is_split).squeeze(1)
        replace_param_rows(params, optimizers, keep, new_rows)

        src = torch.cat([keep, clone_idx, split_idx.repeat(k)])
        self.grad2d, self.count, self.max_radii = self.grad2d[src], self.count[src], self.max_radii[src]
        return n_clone, n_split

    def _apply_cap(
        self, is_clone: torch.Tensor, is_split: torch.Tensor, score: torch.Tensor, n: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        cap = int(self.config.max_gaussians)
        if cap <= 0:
            return is_clone, is_split
        per_clone, per_split = 1, int(self.config.split_children) - 1  # net growth per selected Gaussian
        budget = cap - n
        cand = torch.nonzero(is_clone | is_split).squeeze(1)
        growth = is_clone.long() * per_clone + is_split.long() * per_split
        if int(growth.sum()) <= budget:
            return is_clone, is_split
        if budget <= 0:
            none = torch.zeros_like(is_clone)
            return none, none
        order = cand[torch.argsort(score[cand], descending=True, stable=True)]
        total = torch.cumsum(growth[order], dim=0)
        chosen = order[total <= budget]
        sel = torch.zeros_like(is_clone)
        sel[chosen] = True
        return is_clone & sel, is_split & sel

    @torch.no_grad()
    def prune(self, params: Params, optimizers: Optimizers | None, step: int) -> int:
        """Remove low-opacity Gaussians, and too-large ones after the first reset; returns how many."""
        c = self.config
        is_prune = torch.sigmoid(params["opacities"].detach().reshape(-1)) < c.prune_opa
        if c.reset_every > 0 and step > c.reset_every:
            max_scale = torch.exp(params["scales"].detach()).amax(dim=-1)
            is_prune |= max_scale > c.prune_scale3d * self.scene_scale
        if step < c.refine_scale2d_stop_iter and self.max_radii is not None:
            is_prune |= self.max_radii > c.prune_scale2d
        n_prune = int(is_prune.sum())
        if n_prune > 0:
            keep = torch.nonzero(~is_prune).squeeze(1)
            replace_param_rows(params, optimizers, keep)
            if self.grad2d is not None:
                self.grad2d, self.count = self.grad2d[keep], self.count[keep]
                self.max_radii = self.max_radii[keep]
        return n_prune

    @torch.no_grad()
    def reset_opacities(self, params: Params, optimizers: Optimizers | None) -> None:
        """Clamp opacities to at most ``reset_opacity``, zero their optimiser moments (3DGS reset_opacity)."""
        old = params["opacities"]
        ceiling = float(torch.logit(torch.tensor(self.config.reset_opacity, dtype=torch.float64)))
        new = torch.nn.Parameter(old.detach().clamp(max=ceiling), requires_grad=old.requires_grad)
        _swap_in_optimizers(_iter_optimizers(optimizers), old, new, torch.zeros_like)
        params["opacities"] = new
        self.n_resets += 1

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly (statistics, generator, threshold, config)."""
        return {
            "config": asdict(self.config),
            "scene_scale": self.scene_scale,
            "grow_grad2d": self.grow_grad2d,
            "generator": self.generator.get_state(),
            "grad2d": None if self.grad2d is None else self.grad2d.detach().cpu().clone(),
            "count": None if self.count is None else self.count.detach().cpu().clone(),
            "max_radii": None if self.max_radii is None else self.max_radii.detach().cpu().clone(),
            "n_resets": self.n_resets,
        }

    def load_state_dict(self, state: Mapping[str, Any], device: torch.device | str | None = None) -> None:
        """Restore :meth:`state_dict` (the schedule callable, if any, is kept from the constructor)."""
        self.config = DensifyConfig(**state["config"])
        self.scene_scale = float(state["scene_scale"])
        self.grow_grad2d = float(state["grow_grad2d"])
        self.generator.set_state(state["generator"])
        for key in ("grad2d", "count", "max_radii"):
            v = state[key]
            setattr(self, key, None if v is None else v.clone().to(device or v.device))
        self.n_resets = int(state["n_resets"])

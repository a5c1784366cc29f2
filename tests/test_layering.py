"""The layering of the code (DESIGN.md "Layout"): imports run one way, down the layers, and never in a circle.

Every ``import`` / ``from ... import`` statement of every module of ``deblur2d`` and ``reconstruction`` is read
with ``ast``: module-level, inside functions and under ``TYPE_CHECKING`` alike (a lazy import is still an
import). Relative imports are resolved; ``from package import name`` counts as an import of the submodule
``package.name`` when there is one. Imports made from strings (``importlib.import_module``, the CLI's command
table) are not seen.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("deblur2d", "reconstruction")

#: The layers, lowest first. A module may import modules of its own layer and of the layers before it, never
#: one after it. A module belongs to the layer with the longest matching prefix; the order follows the data
#: flow (frames -> restore -> SfM -> DeblurGS -> evaluation -> report) above the shared floors.
LAYERS = [
    "deblur2d.io",  # ground floor: atomic writes, UserError, image and video I/O, colour transfer
    "deblur2d",  # single-image deblurring: MIMO-UNet, restorer, training, blur synthesis, metrics
    "reconstruction.geometry",  # Lie algebra, camera models (K scaling, distortion), pose alignment
    "reconstruction.io",  # scene readers, gt/cameras.json, image folders, presets (TOML)
    "reconstruction.synthetic",  # ground-truth scenes: below splats, so the truth stays independent of them
    "reconstruction.splats",  # Gaussians, densification, render/ backends, PLY, run folders, plain 3DGS
    "reconstruction.sfm",  # frames -> restore -> colmap -> undistort -> report
    "reconstruction.deblurgs",  # exposure trajectories, trainer, its evaluation, `sharpsplat train`
    "reconstruction.viewer",  # the 3D viewer (viser) and the report's 3D view: below evaluation, which embeds it
    "reconstruction.evaluation",  # comparison, novel views, report, plots
    "reconstruction.pipeline",  # reconstruct, render, camera paths, demo
    "reconstruction.cli",  # the `sharpsplat` command
]
#: Package roots that belong to no layer: they must import nothing of the project.
EMPTY_ROOTS = {"reconstruction"}


def module_files() -> dict[str, Path]:
    """{dotted module name: file} of every module of the project's packages."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "__pycache__" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """Project modules that module ``name`` (file ``path``) imports anywhere in its source."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level - 1 > 0:
                    base = base[: -(node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in modules else module for a in node.names]
        else:
            continue
        for t in targets:
            if t.split(".")[0] not in PACKAGES:
                continue
            while t not in modules and "." in t:  # `import a.b.attr` style: the longest module prefix
                t = t.rpartition(".")[0]
            if t in modules and t != name:
                found.add(t)
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def layer_of(module: str) -> int | None:
    best = None
    for i, prefix in enumerate(LAYERS):
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(LAYERS[best]):
                best = i
    return best


def layering_errors(graph: dict[str, set[str]]) -> list[str]:
    """Modules in no layer, and imports from a lower layer of a higher one."""
    errors = []
    for mod, deps in sorted(graph.items()):
        if mod in EMPTY_ROOTS:
            errors += [f"{mod} imports {d}: the package root must import nothing" for d in sorted(deps)]
            continue
        mine = layer_of(mod)
        if mine is None:
            errors.append(f"{mod} is in no layer: move it into a package of LAYERS (tests/test_layering.py)")
            continue
        for dep in sorted(deps):
            theirs = layer_of(dep)
            if theirs is not None and theirs > mine:
                errors.append(f"{mod} ({LAYERS[mine]}) imports {dep} ({LAYERS[theirs]}), a higher layer")
    return errors


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Imports between packages: each module stands for the package that holds it (a package for itself)."""
    files = module_files()

    def pkg(mod: str) -> str:
        return mod if mod in files and files[mod].name == "__init__.py" else mod.rpartition(".")[0]

    out: dict[str, set[str]] = {}
    for mod, deps in graph.items():
        out.setdefault(pkg(mod), set()).update(pkg(d) for d in deps if pkg(d) != pkg(mod))
    return out


def test_every_import_runs_down_the_layers():
    errors = layering_errors(import_graph())
    assert not errors, "\n".join(errors)


def test_no_import_circle_between_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_no_import_circle_between_packages():
    cycle = find_cycle(package_graph(import_graph()))
    assert cycle is None, "import circle between packages: " + " -> ".join(cycle)


def test_the_graph_sees_lazy_and_relative_imports():
    graph = import_graph()
    # lazy, inside a function: `from reconstruction.io.scenes import detect_input` in pipeline.stages.input_kind
    assert "reconstruction.io.scenes" in graph["reconstruction.pipeline.stages"]
    # relative, module level: `from .colmap import ...` in the SfM entry point
    assert "reconstruction.sfm.colmap" in graph["reconstruction.sfm.front_end"]
    # `from .io.images import ...` in a deblur2d module
    assert "deblur2d.io.images" in graph["deblur2d.examples"]
    assert all(layer_of(m) is not None for m in graph if m not in EMPTY_ROOTS)


@pytest.mark.parametrize(
    ("graph", "problem"),
    [
        ({"reconstruction.splats.ply": {"reconstruction.pipeline.render"}, "reconstruction.pipeline.render": set()},
         "higher layer"),
        ({"reconstruction.synthetic.generate": {"reconstruction.splats.render"}, "reconstruction.splats.render": set()},
         "higher layer"),
        ({"deblur2d.io.images": {"deblur2d.restorer"}, "deblur2d.restorer": set()}, "higher layer"),
        ({"reconstruction.somewhere": set()}, "no layer"),
    ],
)
def test_the_checker_catches_upward_imports(graph, problem):
    errors = layering_errors(graph)
    assert errors and problem in errors[0]


def test_the_checker_catches_circles():
    graph = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}
    assert find_cycle(graph) == ["a.x", "a.y", "a.z", "a.x"]
    assert find_cycle({"a.x": {"a.y"}, "a.y": set()}) is None

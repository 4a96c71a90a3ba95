"""Write the evaluation report: ``report.md``, ``report.json`` and two pictures.

* ``objects.png``: a grid of objects (rows) rendered as point clouds coloured by part: GT
  leaves, then each method's full segmentation (no-scale labelling where the method has
  one, else its leaf-level labelling). Predicted parts take the colour of the GT leaf they
  overlap best (Hungarian matching on IoU), so equal colours mean matched parts.
* ``iou_vs_scale.png``: interactive IoU per bin of GT part size (point fraction), per method,
  with scale (solid) and without (dashed).
* ``python -m core.bench --json`` numbers when that module exists (run as a subprocess, or
  read from a file that holds its output, :func:`bench_from_file`).
* the benchmark's own metrics (:func:`psb_table`) when ``--metrics psb`` ran: every
  method's labellings, the Human / one segment / k-means rows measured in the same run, and
  the Rand index errors quoted from the benchmark paper (:data:`QUOTED_RAND_ERROR`, not
  re-measured).
* ``summary.md`` (:func:`write_summary`) when several reports come from one command (data
  sets × protocols): their main tables, with links to each report.

Pictures (:mod:`training.pictures`) are palette PNGs of at most :data:`MAX_PNG_BYTES`, so a
report can be committed.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import TextIO

from core.errors import InvalidInputError
from training.pictures import (  # noqa: F401  (re-exported)
    MAX_PNG_BYTES,
    match_colours,
    plot_iou_vs_scale,
    render_grid,
    save_small_png,
)
from training.psb_report import psb_section, psb_table, quoted_table

#: The model's weights are untrained (``metadata["trained"] is False``).
UNTRAINED = "untrained weights"
#: Objects shown in the picture grid (the first six found in the data are used):
#: partnet-mobility-dev, then psb-dev (one per category: Human, Chair, Airplane, FourLeg,
#: Hand, Cup).
PREFERRED_PICTURE_IDS = ("179", "148", "102145", "100015", "102622", "10211",
                         "psb_3", "psb_105", "psb_63", "psb_384", "psb_184", "psb_22")
COLUMNS = (
    ("interactive_iou_scale", "Interactive +scale"),
    ("interactive_iou_noscale", "Interactive no scale"),
    ("full_noscale_leaf", "Full leaf (no GT info)"),
    ("full_noscale_any", "Full any (no GT info)"),
    ("full_levels_leaf", "Full leaf (per-level oracle)"),
    ("full_levels_any", "Full any (per-level oracle)"),
)


def choose_picture_ids(ids: list[str], n: int = 6) -> tuple[str, ...]:
    """The preferred dev-set ids present in ``ids``, else the first ``n`` ids."""
    chosen = [i for i in PREFERRED_PICTURE_IDS if i in ids][:n]
    return tuple(chosen) if chosen else tuple(ids[:n])


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.1f}"


def _method_label(name: str, m: dict) -> str:
    if m.get("note") == UNTRAINED:
        return f"{name} (untrained weights)"
    return name


def main_table(result: dict) -> str:
    """Markdown table: method × metric (percent; — = does not apply or not run)."""
    head = "| Method | " + " | ".join(c[1] for c in COLUMNS) + " | Objects | Wall (s) | CPU (s) |"
    sep = "|" + "---|" * (len(COLUMNS) + 4)
    rows = [head, sep]
    for name, m in result["methods"].items():
        cells = [_fmt(m.get(k)) for k, _ in COLUMNS]
        rows.append(
            f"| {_method_label(name, m)} | " + " | ".join(cells)
            + f" | {m['objects']} | {m['wall_s']:.0f} | {m.get('cpu_s', 0):.0f} |"
        )
    return "\n".join(rows)


def _notes(result: dict) -> list[str]:
    notes = []
    for name, m in result["methods"].items():
        if m.get("note"):
            notes.append(f"- `{name}`: {m['note']}.")
        if m["skipped"]:
            reasons = sorted(set(m["skipped"].values()))
            notes.append(f"- `{name}` skipped {len(m['skipped'])} objects: {'; '.join(reasons)}.")
        if m["errors"]:
            notes.append(f"- `{name}` FAILED on {len(m['errors'])} objects: "
                         + "; ".join(f"{k}: {v}" for k, v in list(m["errors"].items())[:5]))
        if m["interactive_iou_scale"] is None and m["objects"]:
            notes.append(f"- `{name}` answers no click prompts: interactive metrics do not apply.")
        if m["full_noscale_leaf"] is None and m["full_levels_leaf"] is not None:
            notes.append(f"- `{name}` full segmentation uses the {m['full_oracle']} only.")
    return notes


def print_table(result: dict, file: TextIO = sys.stdout) -> None:
    """Print the main table and notes as Markdown."""
    print(main_table(result), file=file)
    for n in _notes(result):
        print(n, file=file)
    print(f"wall time {result['wall_s']:.0f} s (CPU {result.get('cpu_s', 0):.0f} s) for {result['objects']} objects "
          f"({result['protocol']} protocol, {result['points']} points)", file=file)


def category_table(result: dict, key: str) -> str:
    methods = [n for n, m in result["methods"].items() if m.get(key) is not None]
    if not methods:
        return "(no method has this metric)"
    cats = sorted({c for n in methods for c in result["methods"][n]["per_category"]})
    rows = ["| Category | n | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
    for c in cats:
        pcs = [result["methods"][n]["per_category"].get(c, {}) for n in methods]
        n_obj = max(p.get("objects", 0) for p in pcs)
        rows.append(f"| {c} | {n_obj} | " + " | ".join(_fmt(p.get(key)) for p in pcs) + " |")
    return "\n".join(rows)


def level_table(result: dict) -> str:
    ms = result["methods"]
    cols = []
    for n, m in ms.items():
        for key, lab in (("full_noscale", "full"), ("full_levels", "full@level"),
                         ("interactive_iou_scale", "inter+s")):
            if any(v.get(key) is not None for v in m["per_level"].values()):
                cols.append((n, key, f"{n} {lab}"))
    depths = sorted({int(d) for m in ms.values() for d in m["per_level"]})
    rows = ["| Depth | objects | mean scale | " + " | ".join(c[2] for c in cols) + " |",
            "|---|---|---|" + "---|" * len(cols)]
    for d in depths:
        first = next((m["per_level"][str(d)] for m in ms.values() if str(d) in m["per_level"]),
                     {})
        cells = [_fmt(ms[n]["per_level"].get(str(d), {}).get(k)) for n, k, _ in cols]
        sc = first.get("mean_scale")
        rows.append(f"| {d} | {first.get('objects_with_level', 0)} | "
                    f"{'—' if sc is None else f'{sc:.3f}'} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def run_bench(timeout_s: int = 600) -> dict:
    """Run ``python -m core.bench --json`` and return its last-line JSON (or a note)."""
    if importlib.util.find_spec("core.bench") is None:
        return {"note": "core.bench does not exist yet: no speed numbers"}
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-m", "core.bench", "--json"], capture_output=True,
                           text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return {"note": f"core.bench took more than {timeout_s} s: skipped"}
    lines = [ln for ln in p.stdout.strip().splitlines() if ln.strip()]
    if p.returncode != 0 or not lines:
        return {"note": f"core.bench failed (exit {p.returncode}): {p.stderr.strip()[-500:]}"}
    try:
        return {"bench": json.loads(lines[-1]), "seconds": round(time.perf_counter() - t0, 1)}
    except json.JSONDecodeError:
        return {"note": f"core.bench printed no JSON last line: {lines[-1][:200]}"}


def bench_from_file(path: Path) -> dict:
    """Speed numbers from a file holding ``python -m core.bench --json`` output.

    The file may be the whole JSON object or the command's stdout (the last non-empty line
    is the JSON). Returns ``{"bench": <object>, "source": <path>}``.

    Raises:
        InvalidInputError: the file is missing or holds no JSON object.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"bench file not found: {path}")
    text = path.read_text().strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for candidate in (text, lines[-1] if lines else ""):
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            return {"bench": data, "source": str(path)}
    raise InvalidInputError(f"{path}: no JSON object (expected `python -m core.bench --json` "
                            "output)")


def _bench_cell(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):  # e.g. cpu_ms per stage
        return ", ".join(f"{k} {_bench_cell(v)}" for k, v in value.items())
    if isinstance(value, list):
        return " ".join(_bench_cell(v) for v in value)
    return str(value)


def bench_table(bench: dict) -> str:
    """Markdown table of ``core.bench`` numbers: one row per measurement, one column per
    backend; scalar top-level entries (runs, threads, load) follow as a list."""
    backends = [k for k, v in bench.items() if isinstance(v, dict)]
    lines = []
    if backends:
        keys = list(dict.fromkeys(k for b in backends for k in bench[b]))
        lines += ["| Measurement | " + " | ".join(backends) + " |",
                  "|---|" + "---|" * len(backends)]
        for k in keys:
            cells = [_bench_cell(bench[b].get(k, "—")) for b in backends]
            lines.append(f"| {k} | " + " | ".join(cells) + " |")
        lines.append("")
    for k, v in bench.items():
        if not isinstance(v, dict):
            lines.append(f"- {k}: {v}")
    return "\n".join(lines)


def _command(argv: list[str] | None) -> str:
    args = list(argv[1:] if argv and argv[0].endswith(".py") else (argv or []))
    return " ".join(["python -m training.evaluate"] + args)


def model_lines(result: dict) -> list[str]:
    """Report lines on the weights behind ``model``/``agglo``; untrained ones are flagged."""
    m = next((result["methods"][n] for n in ("model", "agglo") if n in result["methods"]), None)
    if m is None:
        return []
    md = m.get("model_metadata") or {}
    if m.get("trained") is False:
        head = ("**The model's weights are UNTRAINED** (metadata `trained: false`): the `model` "
                "and `agglo` rows measure a random initialisation, not the method.")
    elif m.get("trained") is True:
        head = "Model weights: trained (metadata `trained: true`)."
    else:
        head = f"Model not evaluated: {m.get('note', 'no metadata')}."
    info = ", ".join(f"{k}: {md[k]}" for k in ("backend", "created", "notes") if md.get(k))
    return [f"> {head}" + (f" Weights metadata: {info}." if info else ""), ""]


def write_report(result: dict, pictures: dict, out_dir: Path, argv: list[str] | None = None,
                 bench: dict | None = None) -> None:
    """Write ``report.md``, ``report.json``, ``objects.png`` and ``iou_vs_scale.png``.

    Args:
        result: :func:`training.evaluate.run` output (without ``_pictures``).
        pictures: object id -> ``{"points", "gt", "pred": {method: labels}}``.
        out_dir: created when missing; files in it are overwritten.
        argv: the command line, shown in the report.
        bench: ``{"bench": core.bench JSON}`` or ``{"note": why there is none}``; None runs
            ``python -m core.bench --json`` now (:func:`run_bench`).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    result = dict(result)
    result["bench"] = run_bench() if bench is None else bench
    (out_dir / "report.json").write_text(json.dumps(result, indent=1, allow_nan=False))
    render_grid(pictures, out_dir / "objects.png")
    has_plot = plot_iou_vs_scale(result, out_dir / "iou_vs_scale.png")
    cmd = _command(argv)
    md = [
        "# Evaluation report",
        "",
        f"Command: `{cmd}`",
        "",
        *model_lines(result),
        f"Data `{result['data']}`: {result['objects']} objects, {result['regions']} GT regions "
        f"({result['dropped_regions']} regions got no sampled point and are not scored); "
        f"{result['protocol']} protocol, {result['points']} points per object, seed "
        f"{result['seed']}, {result['threads']} thread(s). Wall time {result['wall_s']:.0f} s, "
        f"CPU time of this process {result.get('cpu_s', 0):.0f} s "
        f"(shared sampling and prompt selection {result['prep_s']:.0f} s).",
        "",
        "IoU in percent; per object the mean over its regions, then the mean over objects. "
        "— = the metric does not apply to the method (see notes). Definitions: "
        "`training/evaluate.py` and `training/devset.py`.",
        "",
        main_table(result),
        "",
        *_notes(result),
        "",
        *psb_section(result),
        "## Definitions",
        "",
        "- **Region**: the sampled points of a GT tree node other than the root; nodes with "
        "the same leaf set count once. **Depth** of a region: of its shallowest node (children "
        "of the root = 1).",
        "- **Interactive**: one positive click per region at its most interior point "
        "(`training.selectors.interior_point`: 0.5·(1 − normalised distance to the part "
        "centroid) + 0.5·normalised distance to the nearest other point); target = the "
        "region; *+scale* passes the region's point fraction as the scale.",
        "- **Full (no GT info)**: the method's one labelling (the model: Segment All without a "
        "scale); per region the best IoU over predicted parts; *leaf* = leaf regions, *any* "
        "= all regions.",
        "- **Full (per-level oracle)**: one labelling per tree level *d* (the partition into "
        "each leaf's ancestor at depth min(d, depth of the leaf)); k-means/agglo get the "
        "level's part count K, the model gets the **scale of the level** = the median point "
        "fraction of the level's parts. Every part of every level's labelling is a candidate "
        "for every region.",
        "- `cc` = connected components of the mesh welded at 1e-5 of the bounding-box diagonal; "
        "`ball` = the round(s·N) points nearest the click (no scale: "
        f"{result['baseline_settings']['ball_default_fraction']} of the points); `dbscan` eps "
        f"= {result['baseline_settings']['dbscan_eps_rel']} × bounding-box diagonal of the "
        "normalised points; `agglo` = Ward clustering of the model's encoder features over a "
        "kNN graph, cut at the level's K (built on at most "
        f"{result['baseline_settings'].get('agglo_max_points', 0) or 'all'} farthest-point "
        "samples; every point takes its nearest sample's label).",
        "",
        "## Full segmentation (leaf level, main mode) per category",
        "",
        category_table(result, "full_miou_leaf"),
        "",
        "## Interactive IoU with scale per category",
        "",
        category_table(result, "interactive_iou_scale"),
        "",
        "## Per tree level (depth from the root)",
        "",
        "`full`: the level's parts against the method's single labelling; `full@level`: "
        "against the labelling made for that level (oracle K or scale); `inter+s`: "
        "interactive IoU with scale of the regions of that depth.",
        "",
        level_table(result),
        "",
        "## Pictures",
        "",
        "![objects](objects.png)" if pictures else "(no objects kept for pictures)",
        "",
        "![interactive IoU vs scale](iou_vs_scale.png)" if has_plot
        else "(no interactive method: no IoU-vs-scale plot)",
        "",
        "## Speed (`python -m core.bench --json`)",
        "",
    ]
    b = result["bench"]
    if "bench" in b:
        if b.get("source"):
            md += [f"Read from `{b['source']}`.", ""]
        elif b.get("seconds") is not None:
            md += [f"Run by this command (took {b['seconds']:.0f} s, after the evaluation).",
                   ""]
        md.append(bench_table(b["bench"]))
    else:
        md.append(b["note"])
    (out_dir / "report.md").write_text("\n".join(md) + "\n")


def report_folder(data_name: str) -> str:
    """Report sub-folder of a data set: the first word of its folder name
    (``partnet-mobility-dev`` → ``partnet``, ``psb-dev`` → ``psb``), so the repository's
    reports never mirror the evaluation data's own folder names."""
    return data_name.split("-")[0] or data_name


def write_summary(results: dict[str, dict[str, dict]], out_dir: Path,
                  argv: list[str] | None = None, wall_s: float | None = None,
                  eval_s: float | None = None, jobs: int = 1) -> None:
    """``summary.md``: the main table (and benchmark table) of every report, linked.

    Args:
        results: data set folder name -> protocol -> :func:`training.evaluate.run` output.
        out_dir: the ``--report`` folder; the reports are in ``out_dir/<protocol>/`` (one data
            set) or ``out_dir/<report_folder(data set)>/<protocol>/``.
        wall_s: wall time of the whole command in seconds; eval_s: of the evaluations alone
            (run in ``jobs`` parallel processes).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    first = next(iter(next(iter(results.values())).values()))
    md = ["# Evaluation summary", "", f"Command: `{_command(argv)}`", "",
          "Layout: one report per data set and protocol, "
          + ("`<set>/<protocol>/report.md` (`<set>`: the first word of the data folder's name)"
             if len(results) > 1 else "`<protocol>/report.md`")
          + " (with `report.json` and the pictures beside it); this file collects their main "
          "tables.", "", *model_lines(first)]
    if wall_s is not None:
        per = ", ".join(f"{d} {p}: {r['wall_s']:.0f} s" for d, rs in results.items()
                        for p, r in rs.items())
        ev = (f"; evaluations {eval_s:.0f} s in {jobs} parallel process(es)"
              if eval_s is not None else "")
        md += [f"Wall time of the whole command: {wall_s:.0f} s{ev} ({per}).", ""]
    for data, rs in results.items():
        if len(results) > 1:
            md += [f"# {data}", ""]
        for name, r in rs.items():
            rel = f"{report_folder(data)}/{name}" if len(results) > 1 else name
            md += [f"## {data if len(results) > 1 else ''} {name} protocol "
                   f"([full report]({rel}/report.md))".replace("##  ", "## "), "",
                   f"{r['objects']} objects, {r['regions']} GT regions, {r['points']} points "
                   "per object. IoU in percent (— = does not apply).", "", main_table(r), ""]
            if "psb" in r:
                md += ["Benchmark metrics (fractions, lower is better; italic rows = "
                       "references measured in this run):", "", psb_table(r), ""]
            md += [f"![objects]({rel}/objects.png)", ""]
        if any("psb" in r for r in rs.values()):
            md += ["Rand index error quoted from the benchmark paper's figure as widely cited "
                   "(**not re-measured, not re-checked**; all 380 PSB meshes, not this subset):",
                   "", quoted_table(), ""]
    (out_dir / "summary.md").write_text("\n".join(md) + "\n")

"""Summaries, targets and the Markdown report of a benchmark run.

The summary is the geometric mean, over the cases of one (op, direction, dtype), of the time
ratio reference / framework (below 1: the reference is faster). The targets compare the
reference with PyTorch on CPU (limits on those geometric means, on every depthwise and
single-channel convolution, and on every small case's per-call time), with this machine's own
matmul ceiling (large convolutions), and with the sizes of each call's arrays (peak memory).
The transposed convolution (``conv_transpose``) has no target: its geometric means are listed
among the targets as informational rows (:data:`INFORMATIONAL_OPS`), and its table shows the
reference's fraction of the matmul ceiling like the convolution's.
"""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass
from typing import Any

import numpy as np

from convequiv import reference
from convequiv.reference.windows import CHUNK_BYTES

from .shapes import CONV_OPS

Record = dict[str, Any]

#: Ops without a target whose geometric means reference / PyTorch are listed with the targets.
INFORMATIONAL_OPS = ("conv_transpose",)
#: The verdict of an informational row (shown plain, not in bold like a miss).
NO_TARGET = "no target (informational)"
POOLING_OPS = ("max_pool", "avg_pool", "depth_pool", "global_avg_pool", "global_max_pool")
MEMORY_FACTOR = 3
CEILING_FRACTION = 0.5
#: Every convolution with one input channel per group (depthwise, single-channel input), float64:
#: reference / PyTorch at most this, forward and backward.
ONE_CHANNEL_LIMIT = 2.0
#: Every small case (:mod:`.small`), forward and backward: reference / PyTorch per call at most this.
SMALL_LIMIT = 3.0
FRAMEWORK_TITLES = {"torch": "PyTorch", "tensorflow": "TensorFlow"}


@dataclass(frozen=True)
class RatioTarget:
    """Geometric mean of reference / PyTorch over one (op, direction, dtype) must be ``<= limit``."""

    op: str
    direction: str
    dtype: str
    limit: float


RATIO_TARGETS = (
    RatioTarget("conv", "forward", "float64", 1.0),
    RatioTarget("conv", "backward", "float64", 1.5),
    RatioTarget("conv", "forward", "float32", 2.0),
    *(RatioTarget(op, "forward", "float64", 2.0) for op in POOLING_OPS),
    *(RatioTarget(op, "backward", "float64", 3.0) for op in POOLING_OPS),
)


def is_large_conv(record: Record) -> bool:
    """A dense conv whose matrix product is big in every dimension, so BLAS can reach its ceiling:
    ``groups == 1``, ``O >= 64``, ``C * kh * kw >= 256`` and ``N * H_out * W_out >= 1024``."""
    g = record["geometry"]
    return (
        record["op"] == "conv"
        and g["groups"] == 1
        and g["out_channels"] >= 64
        and g["contraction"] >= 256
        and g["positions"] >= 1024
    )


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def summarize(records: list[Record], frameworks: list[str]) -> list[dict[str, Any]]:
    """Geometric means of reference / framework per (op, direction, dtype), in record order."""
    groups: dict[tuple[str, str, str], list[Record]] = {}
    for r in records:
        groups.setdefault((r["op"], r["direction"], r["dtype"]), []).append(r)
    rows = []
    for (op, direction, dtype), members in groups.items():
        row: dict[str, Any] = {"op": op, "direction": direction, "dtype": dtype, "cases": len(members)}
        for fw in frameworks:
            ratios = [r["ratio"][fw] for r in members if fw in r["ratio"]]
            row[fw] = {"geomean": geomean(ratios), "cases": len(ratios)} if ratios else None
        rows.append(row)
    return rows


def _over(measured: float, limit: float) -> str:
    return f"MISSED by {100 * (measured / limit - 1):.0f}% ({measured:.2f} vs <= {limit:g})"


def _worst_ratio_target(name: str, members: list[Record], limit: float, label) -> dict[str, Any]:
    """Every member's reference / PyTorch ratio at most ``limit``: the worst, and the misses."""
    measured = [r for r in members if "torch" in r["ratio"]]
    if not measured:
        return {"target": name, "measured": None, "verdict": "not measured (no PyTorch timings)"}
    worst = max(measured, key=lambda r: r["ratio"]["torch"])
    misses = [r for r in measured if r["ratio"]["torch"] > limit]
    verdict = (
        "met"
        if not misses
        else f"MISSED in {len(misses)} of {len(measured)}: "
        + "; ".join(f"{label(r)} {r['ratio']['torch']:.2f}" for r in misses)
    )
    return {"target": name, "measured": f"worst {worst['ratio']['torch']:.2f} ({label(worst)})", "verdict": verdict}


def evaluate_targets(
    records: list[Record], summary: list[dict[str, Any]], ceiling: dict[str, float], small: list[Record] | None = None
) -> list[dict]:
    """Each target with its measured value and a verdict (``met``, ``MISSED by ...`` or ``not measured``)."""
    results = []
    for t in RATIO_TARGETS:
        row = next((s for s in summary if (s["op"], s["direction"], s["dtype"]) == (t.op, t.direction, t.dtype)), None)
        stat = row.get("torch") if row else None
        name = f"{t.op} {t.direction} {t.dtype}: geomean reference / PyTorch <= {t.limit:g}"
        if stat is None:
            results.append({"target": name, "measured": None, "verdict": "not measured (no PyTorch timings)"})
            continue
        value = stat["geomean"]
        verdict = "met" if value <= t.limit else _over(value, t.limit)
        results.append({"target": name, "measured": round(value, 3), "verdict": verdict})
    for s in summary:
        if s["op"] in INFORMATIONAL_OPS and s.get("torch") is not None:
            name = f"{s['op']} {s['direction']} {s['dtype']}: geomean reference / PyTorch"
            results.append({"target": name, "measured": round(s["torch"]["geomean"], 3), "verdict": NO_TARGET})

    one = [
        r
        for r in records
        if r["op"] == "conv" and r["dtype"] == "float64" and r["geometry"].get("in_per_group", 0) == 1
    ]
    name = (
        f"depthwise and single-channel convs (C / groups = 1), float64: every case reference / PyTorch "
        f"<= {ONE_CHANNEL_LIMIT:g}, forward and backward"
    )
    if one:
        results.append(_worst_ratio_target(name, one, ONE_CHANNEL_LIMIT, lambda r: f"{r['name']} {r['direction']}"))
    if small:
        name = f"small cases (the suite's typical shapes): every op's per-call time <= {SMALL_LIMIT:g} x PyTorch's"
        results.append(_worst_ratio_target(name, small, SMALL_LIMIT, lambda r: f"{r['case']} {r['direction']}"))

    large = [r for r in records if is_large_conv(r) and r["dtype"] == "float64"]
    name = (
        f"large convs (float64) reach >= {CEILING_FRACTION:g} of the float64 matmul ceiling "
        f"({ceiling['float64']:.0f} GFLOP/s)"
    )
    if large:
        misses = [r for r in large if r["ceiling_fraction"] < CEILING_FRACTION]
        worst = min(large, key=lambda r: r["ceiling_fraction"])
        verdict = (
            "met"
            if not misses
            else f"MISSED in {len(misses)} of {len(large)}: "
            + "; ".join(
                f"{r['name']} {r['direction']} {r['ceiling_fraction']:.2f} "
                f"({100 * (1 - r['ceiling_fraction'] / CEILING_FRACTION):.0f}% short)"
                for r in misses
            )
        )
        results.append({"target": name, "measured": f"lowest {worst['ceiling_fraction']:.2f}", "verdict": verdict})
    else:
        results.append({"target": name, "measured": None, "verdict": "not measured (no large conv case)"})

    name = (
        f"peak memory of every reference op <= {MEMORY_FACTOR} x (inputs + outputs) + CHUNK_BYTES "
        f"({_mib(CHUNK_BYTES)}), float64 inputs"
    )
    results.append(_memory_target(name, [r for r in records if r["dtype"] == "float64"]))
    name = (
        "the same for float32 inputs (informational: the reference's float64 copies of its inputs "
        "count in its peak, not in inputs + outputs)"
    )
    if any(r["dtype"] == "float32" for r in records):
        results.append(_memory_target(name, [r for r in records if r["dtype"] == "float32"]))
    return results


def _mib(n: float) -> str:
    return f"{n / 2**20:g} MiB"


def _memory_target(name: str, records: list[Record]) -> dict[str, Any]:
    measured = [r for r in records if r.get("peak_bytes") is not None]
    if not measured:
        return {"target": name, "measured": None, "verdict": "not measured (--no-memory)"}
    misses = sorted(
        (r for r in measured if r["peak_bytes"] > _memory_limit(r)), key=lambda r: -r["peak_bytes"] / _memory_limit(r)
    )
    worst = max(measured, key=lambda r: r["peak_bytes"] / _memory_limit(r))
    verdict = "met"
    if misses:
        verdict = f"MISSED in {len(misses)} of {len(measured)}: " + "; ".join(
            f"{r['case']} {r['direction']} {r['peak_bytes'] / _memory_limit(r):.2f} x the limit "
            f"({_mib(round(r['peak_bytes'] / 2**20, 1) * 2**20)} vs {_mib(round(_memory_limit(r) / 2**20, 1) * 2**20)})"
            for r in misses
        )
    return {
        "target": name,
        "measured": f"worst {worst['peak_bytes'] / _memory_limit(worst):.2f} x the limit",
        "verdict": verdict,
    }


def _memory_limit(record: Record) -> float:
    return MEMORY_FACTOR * record["io_bytes"] + CHUNK_BYTES


def machine_info() -> dict[str, Any]:
    """CPU, cores, Python, NumPy and its BLAS, and the thread-related environment variables."""
    cpu: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "cpu family", "model", "cache size") and key not in cpu:
                    cpu[key] = value.strip()
                if key == "flags" and "flags" not in cpu:
                    simd = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16") if f in value.split()]
                    cpu["flags"] = " ".join(simd)
    except OSError:
        cpu["model name"] = platform.processor() or platform.machine()
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas_text = f"{blas.get('name')} {blas.get('version')} ({blas.get('openblas configuration', '').strip()})"
    except Exception:  # the config layout is not a stable API
        blas_text = "unknown"
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    env_keys = (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_CORETYPE",
        "TF_ENABLE_ONEDNN_OPTS",
    )
    return {
        "cpu": cpu.get("model name", "unknown")
        + (f" (family {cpu['cpu family']}, model {cpu['model']})" if "cpu family" in cpu else ""),
        "cpu flags": cpu.get("flags", ""),
        "cores": f"{os.cpu_count()} logical, {affinity} usable by this process",
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy BLAS": blas_text,
        "reference": reference.__version__,
        "environment": {k: os.environ[k] for k in env_keys if k in os.environ},
    }


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def render_markdown(results: dict[str, Any]) -> str:
    """The whole report (machine, method, targets, geometric means, per-case tables) as Markdown."""
    fws = results["frameworks"]
    present = [fw for fw, info in fws.items() if isinstance(info, dict)]
    lines = [
        "# Benchmarks: the reference against PyTorch and TensorFlow",
        "",
        f"Generated by `{results['command']}` on {results['created']}. Add `--json FILE` for the raw numbers; "
        "`--quick` runs a subset in about a minute.",
        "",
        "## Machine and settings",
        "",
        "| | |",
        "|---|---|",
    ]
    machine = results["machine"]
    labels = {"numpy BLAS": "numpy BLAS build (its configuration, not the kernel it runs)"}
    for key in ("cpu", "cpu flags", "cores", "platform", "python", "numpy", "numpy BLAS", "reference"):
        lines.append(f"| {labels.get(key, key)} | {machine[key]} |")
    kernel = results.get("blas_kernel")
    if kernel:
        lines.append(
            f"| NumPy BLAS kernel | {kernel['kernel']} ({kernel['library']}, {kernel['threading']}; as the loaded "
            "library reports it through threadpoolctl) |"
        )
    blas = results["blas_threads"]
    found = "; ".join(blas.get("libraries", [])) or blas.get("environment")
    lines.append(f"| NumPy BLAS threads | {blas['control']}; {found} |")
    env = machine["environment"]
    lines.append(f"| environment | {', '.join(f'`{k}={v}`' for k, v in env.items()) or 'no thread variables set'} |")
    for fw, info in fws.items():
        title = FRAMEWORK_TITLES.get(fw, fw)
        text = ", ".join(f"{k} {v}" for k, v in info.items()) if isinstance(info, dict) else f"**{info}**"
        lines.append(f"| {title} | {text} |")
    ceiling, runs = results["ceiling"], results["ceiling_runs"]
    size = results["ceiling_size"]
    lines.append(
        f"| matmul ceiling | float64 {ceiling['float64']:.1f} GFLOP/s, float32 {ceiling['float32']:.1f} GFLOP/s "
        f"(`numpy.matmul` {size}x{size}, the better of the runs before and after the cases: float64 "
        f"{runs['before']['float64']:.1f} / {runs['after']['float64']:.1f}, float32 "
        f"{runs['before']['float32']:.1f} / {runs['after']['float32']:.1f}) |"
    )
    noise = results["noise"]
    lines += [
        f"| threads | {results['threads']} for every library |",
        f"| load average | {noise['load_before']} before, {noise['load_after']} after (1/5/15 min) |",
        f"| noise | median over all timings of median / min - 1: {100 * noise['median_spread']:.1f}%; "
        f"90th percentile {100 * noise['p90_spread']:.1f}% |",
        "",
        "## Method",
        "",
        "- **Dtypes.** The frameworks get their inputs in the row's dtype and compute in it. The reference always "
        "computes in float64: its float32 row means float32 *inputs*, converted to float64 inside the call "
        "(the conversion is timed).",
        "- **Time.** Median wall time of one call. Repeat count adaptive (time budget "
        f"{results['budget']:g} s per implementation per case, at least 4 calls), in two rounds of consecutive calls "
        "per implementation so that load from other processes hits all alike; each block starts with "
        f"{results['settle']:g} s of "
        "untimed calls (warm-up, and time for the previous library's spinning worker threads to go idle); garbage "
        "collector off while timing. Ratio = reference / framework (below 1: the reference is faster).",
        "- **Work.** Convolution: GFLOP/s with 2 x MACs per forward call and 4 x MACs per backward call "
        "(dx and dw; db is negligible), `MACs = N * O * H_out * W_out * C/groups * kh * kw`. Pooling: Gtap/s, one "
        "operation per window tap (a compare or an add), forward and backward alike: `N * C * H_out * W_out * kh * kw` "
        "taps; depth pooling `N * C_out * H * W * k`; global pooling `N * C * H * W`. Transposed convolution: "
        "GFLOP/s, the MACs of the convolution it is the adjoint of, counted on its input, "
        "`MACs = N * C * H_in * W_in * O/groups * kh * kw`, 2 x forward, 4 x backward.",
        "- **Ceiling.** The reference's conv (and transposed conv) GFLOP/s in its fastest call as a fraction of the "
        "float64 matmul ceiling "
        "above, itself the fastest of its calls (both peaks, so load from other processes lowers neither more than "
        "the other; the reference computes in float64 whatever the input dtype).",
        "- **Small cases.** Per-call time of every op, forward and backward, on the suite's typical tiny shapes "
        "(`convequiv/bench/small.py`), float64, against PyTorch's call of the same work; timed like the other cases "
        "with up to 5000 calls per block.",
        "- **Memory.** Peak bytes traced by `tracemalloc` during one reference call (NumPy reports its buffers to "
        "tracemalloc), above what was traced before the call: temporaries plus returned arrays. Shown relative "
        "to the bytes of the call's input and output arrays (`in + out`).",
        "- **Framework calls.** Backward passes that need the forward's maximum (max, depth and global max "
        "pooling) include the forward, as the reference's backward functions recompute it; the others call "
        "the gradient kernel directly (conv: `aten.convolution_backward` / `Conv2DBackpropInput` + "
        "`Conv2DBackpropFilter`, giving dx, dw and db; avg pooling: `avg_pool2d_backward` / `AvgPoolGrad`). "
        "Transposed conv: `F.conv_transpose2d` / `Conv2DBackpropInput` forward, `aten.convolution_backward` "
        "(transposed) / `Conv2D` (dx) + `Conv2DBackpropFilter` (dw) backward. "
        "TensorFlow runs eagerly on NHWC tensors prepared before timing. Details in `convequiv/bench/frameworks.py`.",
        "",
        "## Targets",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    for t in results["targets"]:
        measured = t["measured"] if t["measured"] is not None else "–"
        verdict = t["verdict"] if t["verdict"] in ("met", NO_TARGET) else f"**{t['verdict']}**"
        lines.append(f"| {t['target']} | {measured} | {verdict} |")
    columns = ["op", "direction", "dtype", "cases", *(f"ref / {FRAMEWORK_TITLES.get(fw, fw)}" for fw in present)]
    lines += ["", "## Geometric means of reference / framework", "", _row(columns), "|" + "---|" * len(columns)]
    for s in results["summary"]:
        cells = []
        for fw in present:
            stat = s.get(fw)
            partial = stat is not None and stat["cases"] != s["cases"]
            cells.append("–" if stat is None else f"{stat['geomean']:.2f}" + (f" ({stat['cases']})" if partial else ""))
        lines.append(_row([s["op"], s["direction"], s["dtype"], str(s["cases"]), *cells]))
    lines += _small_table(results)
    lines += _case_tables(results, present)
    return "\n".join(lines) + "\n"


def _small_table(results: dict[str, Any]) -> list[str]:
    records = results.get("small") or []
    if not records:
        return []
    fws = sorted({fw for r in records for fw in r["ratio"]})
    titles = [FRAMEWORK_TITLES.get(fw, fw) for fw in fws]
    columns = [
        "small case",
        "shape",
        "dir",
        "ref µs",
        "ref min µs",
        *(f"{t} µs" for t in titles),
        *(f"ref / {t}" for t in titles),
    ]
    lines = ["", "## Small cases: per-call latency", "", _row(columns), "|" + "---|" * len(columns)]
    notes: dict[str, str] = {}
    for r in records:
        t = r["times"]
        cells = [
            r["case"],
            r["shape"],
            r["direction"][:3],
            f"{1e6 * t['reference']['median']:.1f}",
            f"{1e6 * t['reference']['min']:.1f}",
            *(f"{1e6 * t[fw]['median']:.1f}" if fw in t else "–" for fw in fws),
            *(_num(r["ratio"].get(fw)) for fw in fws),
        ]
        lines.append(_row(cells))
        if r.get("note"):
            notes.setdefault(r["case"], r["note"])
        for fw, status in r.get("status", {}).items():
            notes.setdefault(f"{r['case']} {FRAMEWORK_TITLES.get(fw, fw)} {r['direction']}", status)
    if notes:
        lines.append("")
        lines += [f"- {key}: {text}" for key, text in notes.items()]
    return lines


def _case_tables(results: dict[str, Any], present: list[str]) -> list[str]:
    lines: list[str] = []
    ops = list(dict.fromkeys(r["op"] for r in results["records"]))
    titles = [FRAMEWORK_TITLES.get(fw, fw) for fw in present]
    for op in ops:
        records = [r for r in results["records"] if r["op"] == op]
        unit = records[0]["unit"]
        conv = op in CONV_OPS
        columns = [
            *("case", "shape", "dtype", "dir", "ref ms"),
            *(f"{t} ms" for t in titles),
            *(f"ref / {t}" for t in titles),
            f"ref {unit}",
            *(f"{t} {unit}" for t in titles),
            *(["ref / ceiling"] if conv else []),
            "ref peak / (in + out)",
        ]
        lines += ["", f"## {op}", "", _row(columns), "|" + "---|" * len(columns)]
        notes: dict[str, str] = {}
        for r in records:
            t = r["times"]
            cells = [
                r["name"] + (" (large)" if is_large_conv(r) else ""),
                r["shape"],
                r["dtype"],
                r["direction"][:3],
                _ms(t["reference"]["median"]),
                *(_ms(t[fw]["median"]) if fw in t else "–" for fw in present),
                *(_num(r["ratio"].get(fw)) for fw in present),
                _num(r["throughput"]["reference"], 1),
                *(_num(r["throughput"].get(fw), 1) for fw in present),
            ]
            if conv:
                cells.append(_num(r["ceiling_fraction"]))
            cells.append("–" if r.get("peak_bytes") is None else f"{r['peak_bytes'] / r['io_bytes']:.2f}")
            lines.append(_row(cells))
            for fw, status in r["status"].items():
                notes.setdefault(f"{r['name']}: {FRAMEWORK_TITLES.get(fw, fw)} {r['direction']}", status)
            for fw, note in r["notes"].items():
                notes.setdefault(f"{r['name']}: {FRAMEWORK_TITLES.get(fw, fw)}", note)
        if notes:
            lines.append("")
            lines += [f"- {key}: {text}" for key, text in notes.items()]
    return lines


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"

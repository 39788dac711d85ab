"""``convequiv bench`` on tiny cases: the harness produces sane, complete output.

Nothing here asserts a speed. The harness runs with a fake NumPy "framework" (so ratios exist
without any framework installed) and tiny time budgets; the framework builders are checked to
compute what the reference computes, so the benchmark times the right operation.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from convequiv import bench
from convequiv.bench import run_benchmark, small, timing
from convequiv.bench.frameworks import Framework, load
from convequiv.bench.report import NO_TARGET, evaluate_targets, render_markdown
from convequiv.bench.shapes import (
    CASES,
    CONV_OPS,
    DIRECTIONS,
    Case,
    make_inputs,
    output_shape,
    reference_call,
    select,
    work,
)
from convequiv.cli import main
from convequiv.reference import tolerance

TINY = [
    Case("tiny.conv", "conv", (2, 3, 7, 6), kernel=3, out_channels=4, padding=1),
    Case("tiny.max", "max_pool", (2, 3, 6, 6), kernel=2, stride=2),
    Case("tiny.convT", "conv_transpose", (2, 3, 5, 4), kernel=4, out_channels=2, stride=2, padding=1),
]
FAST = {"budget": 0.002, "settle": 0.0, "ceiling_size": 64}


SMALL = small.SMALL_CASES[:3]


def _fake() -> Framework:
    """A stand-in framework that calls the reference itself (ratios near 1, never asserted)."""
    return Framework(
        "fake",
        lambda case, direction, arrays: reference_call(case, direction, arrays),
        {"version": "0"},
        build_small=small.reference_call,
    )


@pytest.fixture(scope="module")
def results() -> dict:
    frameworks = [_fake(), "no_such_framework"]
    return run_benchmark(TINY, dtypes=["float64", "float32"], frameworks=frameworks, small=SMALL, **FAST)


def test_every_record_has_positive_times_ratios_and_throughput(results):
    assert len(results["records"]) == len(TINY) * 2 * 2
    for r in results["records"]:
        assert set(r["times"]) == {"reference", "fake"}
        for t in r["times"].values():
            assert 0 < t["min"] <= t["median"] and t["repeats"] >= 4
        assert r["ratio"]["fake"] > 0 and math.isfinite(r["ratio"]["fake"])
        assert all(v > 0 for v in r["throughput"].values())
        assert r["peak_bytes"] > 0 and r["io_bytes"] > 0
    conv = [r for r in results["records"] if r["op"] in CONV_OPS]
    assert all(r["ceiling_fraction"] > 0 for r in conv)
    assert results["records"][0]["work"] == 2 * 2 * 4 * 7 * 6 * 3 * 9  # 2 * MACs of tiny.conv forward
    transposed = [r for r in results["records"] if r["op"] == "conv_transpose"]
    macs = 2 * 3 * 5 * 4 * 2 * 16  # tiny.convT: N * C * H_in * W_in * O * kh * kw
    assert [r["work"] for r in transposed if r["dtype"] == "float64"] == [2 * macs, 4 * macs]


def test_summary_targets_and_missing_framework(results):
    assert results["frameworks"]["no_such_framework"].startswith("unknown framework")
    assert {(s["op"], s["direction"], s["dtype"]) for s in results["summary"]} == {
        (c.op, d, t) for c in TINY for d in DIRECTIONS for t in ("float64", "float32")
    }
    assert all(s["fake"]["geomean"] > 0 for s in results["summary"])
    verdicts = {t["target"].split(":")[0]: t["verdict"] for t in results["targets"]}
    assert verdicts["conv forward float64"].startswith("not measured")  # no PyTorch in this run
    memory = next(v for k, v in verdicts.items() if k.startswith("peak memory"))
    assert memory == "met" or memory.startswith("MISSED")
    json.dumps(results)  # JSON-ready


def test_markdown_renders_tables(results):
    results = dict(results, command="convequiv bench (test)")
    md = render_markdown(results)
    assert "## Targets" in md and "## Geometric means" in md and "## conv" in md and "## max_pool" in md
    assert "## conv_transpose" in md
    assert "**unknown framework" in md
    lines = md.splitlines()
    for line in lines:
        if line.startswith(("| tiny.conv", "| tiny.convT")):
            header = next(h for h in reversed(lines[: lines.index(line)]) if h.startswith("| case |"))
            assert "ref / ceiling" in header  # conv and its transpose both count FLOPs
            assert line.count("|") == header.count("|")


def test_missing_framework_is_reported_not_raised():
    assert isinstance(load("no_such_framework", 1), str)


def test_cli_only_writes_json_and_markdown(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "CEILING_SIZE", 64)
    monkeypatch.setattr(bench, "SETTLE", 0.0)
    md, js = tmp_path / "b.md", tmp_path / "b.json"
    argv = ["bench", "--only", "global_avg_pool:resnet.head", "--frameworks", "", "--dtypes", "float64"]
    assert main([*argv, "--budget", "0.001", "--markdown", str(md), "--json", str(js)]) == 0
    data = json.loads(js.read_text())
    assert [r["case"] for r in data["records"]] == ["global_avg_pool:resnet.head"] * 2
    assert "resnet.head" in md.read_text()
    assert main(["bench", "--only", "no-such-case"]) == 2


def test_conv_transpose_shapes_and_work_follow_the_docstrings():
    """Output length ``(n - 1) * s - 2p + d * (k - 1) + 1 + output_padding``; the adjoint convolution's
    MACs ``N * C * H_in * W_in * O / groups * kh * kw``, 2 x forward and 4 x backward."""
    transposed = [c for c in CASES if c.op == "conv_transpose"]
    assert len(transposed) >= 4 and any(c.quick for c in transposed)
    for c in transposed:
        n, ch, h, w = c.x
        size = [(v - 1) * c.stride - 2 * c.padding + c.dilation * (c.kernel - 1) + 1 + c.output_padding for v in (h, w)]
        assert output_shape(c) == (n, c.out_channels, *size)
        macs = n * ch * h * w * (c.out_channels // c.groups) * c.kernel**2
        assert (work(c, "forward"), work(c, "backward")) == (2 * macs, 4 * macs)
        assert make_inputs(c, np.dtype("float32"))["w"].shape == (ch, c.out_channels // c.groups, c.kernel, c.kernel)
    dcgan = next(c for c in transposed if c.name == "dcgan.g2")
    assert output_shape(dcgan) == (8, 256, 8, 8) and dcgan.describe() == "8x512x4x4 *T 256 4x4 s2 p1"


def test_conv_transpose_is_listed_with_the_targets_without_one(results):
    """conv_transpose has no target: its geometric mean reference / PyTorch is an informational row,
    shown plain, and the convolution's targets ignore it."""
    summary = [
        {"op": "conv_transpose", "direction": d, "dtype": "float64", "cases": 1, "torch": {"geomean": g, "cases": 1}}
        for d, g in (("forward", 1.7), ("backward", 0.8))
    ]
    targets = evaluate_targets(results["records"], summary, results["ceiling"])
    rows = [t for t in targets if t["target"].startswith("conv_transpose")]
    assert [(t["measured"], t["verdict"]) for t in rows] == [(1.7, NO_TARGET), (0.8, NO_TARGET)]
    conv = next(t for t in targets if t["target"].startswith("conv forward float64"))
    assert conv["verdict"].startswith("not measured")
    large = next(t for t in targets if t["target"].startswith("large convs"))
    assert large["verdict"].startswith("not measured")  # tiny.conv is small; conv_transpose never counts
    md = render_markdown(dict(results, targets=targets, command="x"))
    assert f"| conv_transpose forward float64: geomean reference / PyTorch | 1.7 | {NO_TARGET} |" in md


def test_shape_set_keys_are_unique_and_quick_is_a_subset():
    keys = [c.key for c in CASES]
    assert len(keys) == len(set(keys))
    quick = select(CASES, quick=True)
    assert quick and len(quick) < len(CASES) and {c.op for c in quick} == {c.op for c in CASES}


# The framework builders must time the operation the reference defines: compare one tiny call of each.
CHECKED = [
    Case("conv", "conv", (2, 4, 7, 6), kernel=3, out_channels=6, stride=2, padding=1),
    Case("grouped", "conv", (2, 4, 7, 6), kernel=3, out_channels=6, padding=1, groups=2),
    Case("dilated", "conv", (2, 4, 7, 6), kernel=3, out_channels=6, padding=2, dilation=2),
    Case("depthwise", "conv", (2, 4, 7, 6), kernel=3, out_channels=4, stride=2, padding=1, groups=4),
    # Transposed: overlapping taps with output_padding, a non-overlapping 2x2 s2 (U-Net), grouped and dilated.
    Case("convT", "conv_transpose", (2, 3, 5, 4), kernel=3, out_channels=4, stride=2, padding=1, output_padding=1),
    Case("convT.k2s2", "conv_transpose", (3, 4, 4, 5), kernel=2, out_channels=5, stride=2),
    Case("convT.grouped", "conv_transpose", (2, 4, 5, 4), kernel=3, out_channels=6, stride=2, padding=1, groups=2),
    Case("convT.dilated", "conv_transpose", (2, 3, 5, 4), kernel=3, out_channels=2, padding=1, dilation=2),
    Case("max", "max_pool", (2, 3, 6, 7), kernel=2, stride=2),
    Case("avg", "avg_pool", (2, 3, 7, 7), kernel=3, stride=1, padding=1, count_include_pad=False),
    Case("depth", "depth_pool", (2, 6, 4, 5), kernel=3),
    Case("gavg", "global_avg_pool", (2, 3, 4, 5)),
    Case("gmax", "global_max_pool", (2, 3, 4, 5)),
]

# TensorFlow's CPU gradient kernels support neither groups nor dilation (the message each raises): the
# transposed conv's forward is one of them, and its backward's filter gradient fails on a grouped filter's size.
REFUSED = {
    ("tensorflow", "grouped", "backward"): "not supported",
    ("tensorflow", "dilated", "backward"): "not yet support",
    ("tensorflow", "convT.grouped", "forward"): "not supported on CPU",
    ("tensorflow", "convT.dilated", "forward"): "not yet support",
    ("tensorflow", "convT.dilated", "backward"): "not yet support",
    ("tensorflow", "convT.grouped", "backward"): "filter_size does not have enough elements",
}


def _canonical(value: object, case: Case, channels_last: bool) -> list[np.ndarray]:
    """A framework result as channels-first NumPy arrays (TensorFlow's NHWC / HWIO undone)."""
    values = value if isinstance(value, (tuple, list)) else [value]
    arrays = [np.asarray(v) for v in values]
    if not channels_last:
        return arrays
    out = []
    for a in arrays:
        if a.ndim == 4 and a.shape[0] == case.kernel and case.op in CONV_OPS:  # filter (kh, kw, I, O)
            depthwise = case.groups > 1 and case.groups == case.x[1]
            a = a.transpose(2, 3, 0, 1) if depthwise else a.transpose(3, 2, 0, 1)
        elif a.ndim == 4:
            a = a.transpose(0, 3, 1, 2)
        out.append(a)
    return out


def _terms(case: Case, direction: str) -> list[int] | None:
    """Rounded terms of one value of each output of the reference call, counted as reference.tolerance counts
    them; ``None`` where the op rounds nothing (a maximum, or copies of one gradient per input cell)."""
    k2 = case.kernel**2
    if case.op == "conv":
        if direction == "forward":
            return [case.x[1] // case.groups * k2 + 1]  # products and the bias
        n, _, *spatial = output_shape(case)
        per_output = n * math.prod(spatial)
        return [case.out_channels // case.groups * k2, per_output, per_output]  # dx, dw, db
    if case.op == "avg_pool":
        return [k2 + 1]  # a window sum and one division; backward: up to k2 windows' shares per cell
    if case.op == "global_avg_pool":
        return [case.x[2] * case.x[3] + 1] if direction == "forward" else [1]  # a mean / one division
    if direction == "backward" and case.op == "max_pool" and case.kernel > case.stride:
        return [k2 + 1]  # overlapping windows add their routed gradients
    return None


def _agree(case: Case, direction: str, got: list[np.ndarray], expected: list[np.ndarray], arrays) -> list[bool]:
    """Each float64 framework output against the float64 reference: within tolerance.agree's bound, whose
    magnitude is the same reference call on absolute values (max pooling keeps x, which decides the routing).
    The transposed convolution's bounds are reference.tolerance's own (they include the reference's rounding)."""
    if case.op == "conv_transpose":
        geo = {
            "stride": case.stride,
            "padding": case.padding,
            "output_padding": case.output_padding,
            "dilation": case.dilation,
            "groups": case.groups,
        }
        if direction == "forward":
            bounds = [tolerance.conv_transpose_bound(arrays["x"], arrays["w"], arrays["b"], dtype=np.float64, **geo)]
        else:
            bounds = list(
                tolerance.conv_transpose_backward_bound(arrays["x"], arrays["w"], arrays["dy"], dtype=np.float64, **geo)
            )
        return [bool(np.all(np.abs(g - e) <= bound)) for g, e, bound in zip(got, expected, bounds, strict=True)]
    terms = _terms(case, direction)
    if terms is None:
        return [np.array_equal(g, e) for g, e in zip(got, expected)]
    absolute = {k: (v if (k == "x" and case.op == "max_pool") else np.abs(v)) for k, v in arrays.items()}
    magnitudes = reference_call(case, direction, absolute)()
    magnitudes = list(magnitudes) if isinstance(magnitudes, tuple) else [magnitudes]
    terms = terms * len(got) if len(terms) == 1 else terms
    return [
        tolerance.agree(g, e, m, n, np.float64) for g, e, m, n in zip(got, expected, magnitudes, terms, strict=True)
    ]


@pytest.mark.parametrize("name", ["torch", "tensorflow"])
def test_framework_builders_compute_what_the_reference_computes(name):
    pytest.importorskip(name)
    framework = load(name, os.cpu_count() or 1)  # the libraries' defaults: later tests keep them
    assert isinstance(framework, Framework)
    for case in CHECKED:
        arrays = make_inputs(case, np.dtype("float64"), seed=3)
        for direction in DIRECTIONS:
            expected = reference_call(case, direction, arrays)()
            expected = list(expected) if isinstance(expected, tuple) else [expected]
            try:
                result = framework.build(case, direction, arrays)()
            except Exception as exc:  # refusals the benchmark reports as "unsupported"
                assert (name, case.name, direction) in REFUSED, exc
                assert REFUSED[name, case.name, direction] in str(exc)
                continue
            got = _canonical(result, case, name == "tensorflow")
            assert [g.shape for g in got] == [e.shape for e in expected], (case.name, direction)
            assert all(_agree(case, direction, got, expected, arrays)), (name, case.name, direction)
        assert output_shape(case) == reference_call(case, "forward", arrays)().shape


def test_markdown_regeneration_keeps_the_hand_written_section(tmp_path):
    from convequiv.bench import KEPT_MARKER, kept_section

    report = tmp_path / "benchmarks.md"
    assert kept_section(report) == ""
    report.write_text("# generated\nold numbers\n" + KEPT_MARKER + "\n## The suite's own speed\nby hand\n")
    tail = kept_section(report)
    assert tail.startswith("\n" + KEPT_MARKER) and "by hand" in tail and "old numbers" not in tail
    report.write_text("# generated, no hand-written part\n")
    assert kept_section(report) == ""


def test_small_cases_are_timed_for_every_op_and_direction(results):
    """Each small case is timed forward and backward, for the reference and each framework that
    builds small cases, and appears in the report's latency table."""
    assert [(r["case"], r["direction"]) for r in results["small"]] == [(c.name, d) for c in SMALL for d in DIRECTIONS]
    for r in results["small"]:
        assert set(r["times"]) == {"reference", "fake"} and r["ratio"]["fake"] > 0
        assert all(0 < t["min"] <= t["median"] for t in r["times"].values())
    md = render_markdown(dict(results, command="convequiv bench (test)"))
    assert "## Small cases: per-call latency" in md and "| conv.same.s2 |" in md
    assert {c.op for c in small.SMALL_CASES} == {c.op for c in CASES}  # every op has a small case


def test_blas_kernel_comes_from_the_loaded_library(results, monkeypatch):
    """The kernel is what threadpoolctl reports for NumPy's BLAS, never the environment: with a
    forced OPENBLAS_CORETYPE that the library did not use, the report still names the library's."""
    kernel = results["blas_kernel"]
    assert set(kernel) == {"library", "kernel", "threading"}
    threadpoolctl = pytest.importorskip("threadpoolctl")
    info = [
        {
            "user_api": "blas",
            "internal_api": "openblas",
            "version": "9",
            "architecture": "Zen",
            "threading_layer": "pthreads",
            "filepath": "/x/numpy.libs/libscipy_openblas.so",
        }
    ]
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: info)
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    assert timing.blas_kernel() == {"library": "openblas 9", "kernel": "Zen", "threading": "pthreads"}
    assert "| NumPy BLAS kernel | " in render_markdown(dict(results, command="x"))


def test_blas_kernel_without_threadpoolctl_is_unknown(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_threadpoolctl(name, *args, **kwargs):
        if name == "threadpoolctl":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_threadpoolctl)
    assert timing.blas_kernel()["kernel"].startswith("unknown")


def test_ceiling_fraction_uses_the_fastest_calls(results):
    """The ceiling is a peak, so the reference's fraction of it compares its fastest call."""
    for r in results["records"]:
        if r["op"] in CONV_OPS:
            best = r["work"] / r["times"]["reference"]["min"] / 1e9
            assert r["ceiling_fraction"] == pytest.approx(best / results["ceiling"]["float64"])


def _record(name: str, ratio: float, per_group: int = 1) -> dict:
    return {
        "op": "conv",
        "name": name,
        "direction": "forward",
        "dtype": "float64",
        "ratio": {"torch": ratio},
        "geometry": {"groups": 4, "out_channels": 4, "contraction": 9, "positions": 10, "in_per_group": per_group},
    }


def test_one_channel_and_small_targets():
    """Every depthwise / single-channel conv must be within 2 x PyTorch and every small case
    within 3 x; a miss names the case and its ratio."""
    records = [_record("dw.a", 1.5), _record("dw.b", 2.5), _record("dense", 9.0, per_group=8)]
    small_records = [{"case": "max", "direction": "backward", "ratio": {"torch": 3.5}}]
    targets = {
        t["target"].split(" (")[0].split(",")[0]: t
        for t in evaluate_targets(records, [], {"float64": 1.0}, small_records)
    }
    one = targets["depthwise and single-channel convs"]
    assert one["verdict"].startswith("MISSED in 1 of 2") and "dw.b forward 2.50" in one["verdict"]
    assert (
        targets["small cases"]["verdict"].startswith("MISSED in 1 of 1")
        and "max backward 3.50" in targets["small cases"]["verdict"]
    )
    met = evaluate_targets(
        [_record("dw.a", 1.5)], [], {"float64": 1.0}, [{"case": "c", "direction": "forward", "ratio": {"torch": 2.0}}]
    )
    assert all(t["verdict"] == "met" for t in met if t["target"].startswith(("depthwise", "small")))


def test_torch_small_builders_compute_what_the_reference_computes():
    """PyTorch's small-case calls time the reference's work: the same values within
    tolerance.agree's bound (max-based ops exactly)."""
    torch = pytest.importorskip("torch")
    for case in small.SMALL_CASES:
        arrays = small.make_inputs(case, seed=5)
        for direction in DIRECTIONS:
            expected = small.reference_call(case, direction, arrays)()
            got = small.torch_call(torch, case, direction, arrays)()
            expected = list(expected) if isinstance(expected, tuple) else [expected]
            got = [np.asarray(g) for g in (got if isinstance(got, (tuple, list)) else [got])]
            if case.name == "conv.same.s2" and direction == "forward":
                continue  # PyTorch pads (1, 1), the reference (0, 1): same shape and work, other values
            if case.name == "conv.same.s2":
                continue
            assert [g.shape for g in got] == [e.shape for e in expected], (case.name, direction)
            if case.note:  # PyTorch pads (1, 1) for the reference's (0, 1): the same shapes and work only
                continue
            for g, e in zip(got, expected):
                assert np.allclose(g, e, rtol=1e-12, atol=1e-12), (case.name, direction)


def test_suite_speed_times_the_reference_share_of_its_checks():
    """``bench --suite`` times the reference's values and bounds inside its checks (a share of the
    wall time strictly between 0 and 1) and puts ``Case.expected_and_bounds`` back afterwards."""
    pytest.importorskip("torch")
    from convequiv.bench import suite_speed
    from convequiv.reference.case_base import Case as ReferenceCase

    joint = ReferenceCase.expected_and_bounds
    result = suite_speed.measure("torch", {"max_pool": suite_speed.drawn_cases("max_pool", 2)})
    assert ReferenceCase.expected_and_bounds is joint
    assert result["checks"] >= 2 and result["outcomes"].get("fail", 0) == 0
    assert result["reference_seconds"] > 0 and 0 < result["reference_share"] < 1
    assert "reference share" in suite_speed.render([result])

"""The notes' models and the classics: every number the notes print, layer by layer, and the totals.

The printed numbers live in :mod:`convequiv.notes.models.printed`; ``test_printed_data_is_the_notes``
re-reads them from the notes' text (when the notes are available) so the data cannot drift from
its source, and the other tests compare the reference's own rows with them.
"""

from __future__ import annotations

import re

import pytest

from convequiv.notes.models import catalogue, get, infer
from convequiv.notes.models.plan_keras import model_name
from convequiv.notes.models.plan_keras import plan as keras_plan
from convequiv.notes.models.printed import PRINTED, Printed, printed_for
from convequiv.notes.models.render import keras_summary, torchsummary, torchsummary_numbers

# name: (keras total, keras trainable, keras non-trainable, torch trainable, torch non-trainable)
TOTALS = {
    "000-simpleconvnet": (433890, 433890, 0, 433890, 0),
    "001-keras-convnet": (55744, 55744, 0, 55744, 0),
    "001-keras-subclass": (50186, 50186, 0, 50186, 0),
    "001-torch-convnet": (61514, 61514, 0, 61514, 0),
    "002-conv2d-example": (896, 896, 0, 896, 0),
    "002-pooling-layers": (0, 0, 0, 0, 0),
    "002-fashion-mnist": (1413834, 1413834, 0, 1413834, 0),
    "003-torch-mnist": (55338, 55338, 0, 55338, 0),
    "003-torch-mnist-listing": (55338, 55338, 0, 55338, 0),
    "003-keras-snippet": (160, 160, 0, 160, 0),
    "004-mnist-convnet": (104202, 104202, 0, 104202, 0),
    "004-mnist-no-pool": (712202, 712202, 0, 712202, 0),
    "004-cats-vs-dogs": (991041, 991041, 0, 991041, 0),
    "004-cats-vs-dogs-augmented": (991041, 991041, 0, 991041, 0),
    "004-vgg16-base": (14714688, 14714688, 0, 14714688, 0),
    "004-vgg16-head": (3277313, 3277313, 0, 3277313, 0),
    "004-vgg16-frozen": (17992001, 3277313, 14714688, 3277313, 14714688),
    "004-vgg16-finetune": (17992001, 10356737, 7635264, 10356737, 7635264),
    "lenet5-1998": (60840, 60000, 840, 60000, 840),
    "lenet5": (61706, 61706, 0, 61706, 0),
    "alexnet": (60965224, 60965224, 0, 60965224, 0),
    "vgg16": (138357544, 138357544, 0, 138357544, 0),
    "vgg16-notop": (14714688, 14714688, 0, 14714688, 0),
}


def test_every_model_has_expected_totals():
    assert set(TOTALS) == set(catalogue.names())


@pytest.mark.parametrize("name", list(TOTALS))
def test_totals(name):
    info = infer(get(name))
    k, t = info.total("keras"), info.total("torch")
    assert (k.total, k.trainable, k.non_trainable, t.trainable, t.non_trainable) == TOTALS[name]


# --- the printed numbers, row by row ----------------------------------------------------------


def _keras_rows(name: str):
    return [
        (op.name, op.kind, (None, *op.output_shape), op.params.total) for op in keras_plan(infer(get(name)), "keras2")
    ]


@pytest.mark.parametrize("p", [p for p in PRINTED if p.layout.startswith("keras")], ids=lambda p: f"{p.model}")
def test_printed_keras_rows(p: Printed):
    rows = _keras_rows(p.model)
    assert len(rows) == len(p.rows)
    for printed, ours in zip(p.rows, rows):
        assert ours == printed, f"{p.model}: row {printed[0]}"
    total = sum(r[3] for r in rows)
    assert total == p.total == p.trainable
    if p.non_trainable is not None:
        assert p.non_trainable == 0
    assert model_name(infer(get(p.model)), "keras2") == p.model_name


def test_printed_torchsummary_rows():
    (p,) = printed_for("003-torch-mnist")
    s = torchsummary_numbers(infer(get("003-torch-mnist")))
    assert s.rows == p.rows
    assert (s.total_params, s.trainable_params, s.total_params - s.trainable_params) == (55338, 55338, 0)
    assert [line.rsplit(": ", 1)[1] for line in s.size_lines()] == list(p.sizes) == ["0.00", "0.27", "0.21", "0.49"]


def test_torchsummary_sizes_computed_as_torchsummary_does():
    s = torchsummary_numbers(infer(get("003-torch-mnist")))
    outputs = 16 * 26 * 26 * 2 + 16 * 14 * 14 + 32 * 12 * 12 * 2 + 32 * 7 * 7 + 32 * 3 + 10
    assert outputs == 35658
    assert s.input_mb == 28 * 28 * 4 / 2**20
    assert s.forward_backward_mb == 2 * outputs * 4 / 2**20
    assert s.params_mb == 55338 * 4 / 2**20
    assert s.total_mb == s.params_mb + s.forward_backward_mb + s.input_mb


def test_listing_variant_has_a_flatten_row():
    s = torchsummary_numbers(infer(get("003-torch-mnist-listing")))
    assert s.rows[6] == ("Flatten-7", (-1, 1568), 0)
    assert len(s.rows) == 11
    assert [line.rsplit(": ", 1)[1] for line in s.size_lines()] == ["0.00", "0.28", "0.21", "0.50"]


def test_printed_shapes_of_002():
    (p,) = printed_for("002-conv2d-example")
    info = infer(get("002-conv2d-example"))
    assert p.shapes == ((1, (2, 70, 120, 3)), (2, (2, 70, 120, 32)))
    assert info.layers[1].output_shape == (3, 70, 120)
    assert info.layers[2].output_shape == (32, 70, 120)
    assert info.layers[2].keras.total == 896
    assert p.weights == ((3, 3, 3, 32), (32,))


def test_check_printed_is_clean_for_every_model():
    from convequiv.notes.models.check import check_printed

    for name in catalogue.names():
        assert check_printed(infer(get(name))) == [], name


# --- layer-by-layer shapes of the models the notes do not print --------------------------------

SHAPES = {
    "000-simpleconvnet": [(30, 24, 24), (30, 24, 24), (30, 12, 12), (4320,), (100,), (100,), (10,)],
    "001-torch-convnet": [
        (32, 28, 28),
        (32, 28, 28),
        (32, 14, 14),
        (64, 14, 14),
        (64, 14, 14),
        (64, 7, 7),
        (64, 7, 7),
        (64, 7, 7),
        (64, 3, 3),
        (576,),
        (10,),
    ],
    "001-keras-subclass": [(32, 28, 28), (32, 14, 14), (64, 14, 14), (64, 7, 7), (3136,), (10,)],
    "002-fashion-mnist": [
        (64, 28, 28),
        (64, 14, 14),
        (128, 14, 14),
        (128, 14, 14),
        (128, 7, 7),
        (256, 7, 7),
        (256, 7, 7),
        (256, 3, 3),
        (2304,),
        (128,),
        (128,),
        (64,),
        (64,),
        (10,),
    ],
    "002-pooling-layers": [(32, 35, 60), (16, 35, 60), (16,)],
    "003-keras-snippet": [(16, 26, 26), (16, 25, 25)],
    "004-cats-vs-dogs": [
        (3, 180, 180),
        (32, 178, 178),
        (32, 89, 89),
        (64, 87, 87),
        (64, 43, 43),
        (128, 41, 41),
        (128, 20, 20),
        (256, 18, 18),
        (256, 9, 9),
        (256, 7, 7),
        (12544,),
        (1,),
    ],
    "004-vgg16-head": [(12800,), (256,), (256,), (1,)],
    "lenet5-1998": [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1), (120,), (84,), (10,)],
    "lenet5": [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (400,), (120,), (84,), (10,)],
    "alexnet": [
        (96, 55, 55),
        (96, 55, 55),
        (96, 27, 27),
        (256, 27, 27),
        (256, 27, 27),
        (256, 13, 13),
        (384, 13, 13),
        (384, 13, 13),
        (256, 13, 13),
        (256, 6, 6),
        (9216,),
        (9216,),
        (4096,),
        (4096,),
        (4096,),
        (1000,),
        (1000,),
    ],
}

PARAMS = {
    "000-simpleconvnet": [780, 0, 0, 0, 432100, 0, 1010],
    "002-fashion-mnist": [3200, 0, 73856, 147584, 0, 295168, 590080, 0, 0, 295040, 0, 8256, 0, 650],
    "004-cats-vs-dogs": [0, 896, 0, 18496, 0, 73856, 0, 295168, 0, 590080, 0, 12545],
    "004-vgg16-head": [0, 3277056, 0, 257],
    "lenet5-1998": [156, 12, 1516, 32, 48120, 0, 10164, 840],
    "lenet5": [156, 0, 2416, 0, 0, 48120, 10164, 850],
    "alexnet": [34944, 0, 0, 307456, 0, 0, 885120, 663936, 442624, 0, 0, 0, 37752832, 0, 16781312, 4097000, 0],
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_layer_shapes(name):
    assert [li.output_shape for li in infer(get(name)).layers] == SHAPES[name]


@pytest.mark.parametrize("name", list(PARAMS))
def test_layer_params(name):
    assert [li.keras.total for li in infer(get(name)).layers] == PARAMS[name]


def test_vgg16_blocks():
    info = infer(get("vgg16"))
    pools = [li.output_shape for li in info.layers if li.layer.name.endswith("pool")]
    assert pools == [(64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14), (512, 7, 7)]
    tops = [li.keras.total for li in info.layers[-3:]]
    assert tops == [102764544, 16781312, 4097000]
    assert infer(get("004-vgg16-base")).output_shape == (512, 5, 5)


def test_lenet5_c3_connection_table():
    from convequiv.notes.models.classics import LENET5_C3_TABLE

    sizes = [len(c) for c in LENET5_C3_TABLE]
    assert sizes.count(3) == 6 and sizes.count(4) == 9 and sizes.count(6) == 1
    assert sum(sizes) == 60
    assert sum(n * 25 + 1 for n in sizes) == 1516


# --- the notes' text ---------------------------------------------------------------------------


def _block(notes, p: Printed) -> list[str]:
    first, last = (int(x) for x in re.findall(r"\d+", p.lines))
    return notes.lines(p.note)[first - 1 : last]


KERAS_ROW = re.compile(r"^\s*(\S+) \((\w*)\s*\)?\s+\[?\((None(?:, \d+)+)\)\]?\s+(\d+)\s*$")
TORCH_ROW = re.compile(r"^\s*(\w+-\d+)\s+\[(-1(?:, \d+)+)\]\s+([\d,]+)\s*$")


def _totals(lines: list[str]) -> dict[str, int]:
    out = {}
    for line in lines:
        m = re.match(r"^(Total|Trainable|Non-trainable) params: ([\d,]+)\s*$", line.strip())
        if m:
            out[m.group(1)] = int(m.group(2).replace(",", ""))
    return out


@pytest.mark.notes
@pytest.mark.parametrize("p", PRINTED, ids=lambda p: f"{p.model}-{p.layout}")
def test_printed_data_is_the_notes(notes, p: Printed):
    lines = _block(notes, p)
    if p.layout.startswith("keras"):
        rows = [m.groups() for m in map(KERAS_ROW.match, lines) if m]
        assert len(rows) == len(p.rows)
        for (name, kind, shape, count), want in zip(rows, p.rows):
            assert name == want[0]
            assert want[1].startswith(kind)  # Keras 2 cuts long class names
            assert tuple(None if s == "None" else int(s) for s in shape.split(", ")) == want[2]
            assert int(count) == want[3]
        totals = _totals(lines)
        assert totals.get("Total") == p.total and totals.get("Trainable") == p.trainable
        assert totals.get("Non-trainable") == p.non_trainable
    elif p.layout == "torchsummary":
        rows = [m.groups() for m in map(TORCH_ROW.match, lines) if m]
        parsed = [(k, tuple(int(v) for v in s.split(", ")), int(c.replace(",", ""))) for k, s, c in rows]
        assert tuple(parsed) == p.rows
        totals = _totals(lines)
        assert (totals["Total"], totals["Trainable"], totals["Non-trainable"]) == (
            p.total,
            p.trainable,
            p.non_trainable,
        )
        sizes = [re.search(r"\(MB\): ([\d.]+)", line).group(1) for line in lines if "(MB)" in line]
        assert tuple(sizes) == p.sizes
    else:
        text = "\n".join(lines)
        for _, shape in p.shapes:
            assert f"TensorShape([{', '.join(map(str, shape))}])" in text
        for shape in p.weights:
            assert str(shape) in text


def _strip(lines: list[str]) -> list[str]:
    return [line.rstrip() for line in lines]


@pytest.mark.notes
@pytest.mark.parametrize("name", ["004-mnist-convnet", "004-mnist-no-pool"])
def test_keras2_layout_is_the_notes_text(notes, name):
    (p,) = printed_for(name)
    block = _strip(_block(notes, p))
    start = next(i for i, line in enumerate(block) if line.startswith("Model:"))
    ours = _strip(keras_summary(infer(get(name)), "keras2").splitlines())
    note = block[start:]
    assert ours[: len(note)] == note
    assert ours[len(note) :] == ["_" * 65]  # Keras' closing rule, which the note leaves out


@pytest.mark.notes
def test_torchsummary_layout_is_the_notes_text(notes):
    (p,) = printed_for("003-torch-mnist")
    lines = notes.lines("003")
    first = int(p.lines[1:].split("-")[0])
    note = _strip(lines[first - 1 : first + 22])
    assert _strip(torchsummary(infer(get("003-torch-mnist"))).splitlines()) == note

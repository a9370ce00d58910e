import os
import stat

import pytest

from lipexact.io import load, save, write_atomic
from lipexact.network import TwoLayerReLU
from reductions.validation import InvalidInputError


def test_atomic_write_leaves_no_temporary_and_uses_normal_permissions(tmp_path):
    path = tmp_path / "out.json"
    write_atomic(path, "{}\n")
    assert path.read_text() == "{}\n"
    assert os.listdir(tmp_path) == ["out.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old")

    class Boom:
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(TypeError):
        write_atomic(path, Boom())
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["out.json"]


def test_save_and_load_round_trip(tmp_path):
    net = TwoLayerReLU([[1, 2]], [[3]], b1=[1])
    save(net, tmp_path / "net.json")
    back = load(tmp_path / "net.json", "two_layer_relu")
    assert back.W1.tolist() == [[1, 2]] and back.b1.tolist() == [1]


@pytest.mark.parametrize("text, field", [("{", "valid JSON"), ('{"type": "nope"}', "type"), ("[1]", "JSON object"),
                                         ('{"a": Infinity}', "finite")])
def test_bad_documents_name_the_problem(tmp_path, text, field):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InvalidInputError) as error:
        load(path)
    assert field in str(error.value)

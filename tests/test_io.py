import errno
import os
import socket
import stat
import threading

import pytest

from lipexact.io import check_output, load, save, write_atomic
from reductions import files
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


def _disk_full_after(count: int):
    """A stand-in for ``reductions.files._write_all`` that writes ``count`` bytes, then fails with ENOSPC."""
    def write_all(descriptor, data):
        os.write(descriptor, bytes(data[:count]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return write_all


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "out.json"
    path.write_text("old")
    monkeypatch.setattr(files, "_write_all", _disk_full_after(3))
    with pytest.raises(OSError) as error:
        write_atomic(path, "new content")
    assert error.value.errno == errno.ENOSPC
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["out.json"]


def test_existing_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old")
    path.chmod(0o640)
    write_atomic(path, "new")
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o640


def test_symlink_is_followed_and_kept(tmp_path):
    folder = tmp_path / "real"
    folder.mkdir()
    target = folder / "result.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    chained = tmp_path / "chained.json"
    chained.symlink_to(link)                            # a link to a link: the final target is replaced
    write_atomic(chained, "new\n")
    assert link.is_symlink() and chained.is_symlink()
    assert target.read_text() == "new\n" and os.readlink(link) == str(target)
    assert sorted(os.listdir(folder)) == ["result.json"] and sorted(os.listdir(tmp_path)) == [
        "chained.json", "link.json", "real"]


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "later.json")
    write_atomic(link, "x")
    assert link.is_symlink() and (tmp_path / "later.json").read_text() == "x"


def _read_fifo(path, into):
    with open(path, encoding="utf-8") as stream:
        into.append(stream.read())


def test_fifo_is_written_in_place_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=_read_fifo, args=(fifo, received), daemon=True)
    reader.start()
    write_atomic(fifo, "through the pipe\n")
    reader.join(timeout=10)
    assert received == ["through the pipe\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)       # still the FIFO: nothing was renamed over it
    assert os.listdir(tmp_path) == ["pipe"]


def test_symlink_to_a_fifo_writes_into_the_fifo(tmp_path):
    fifo, link = tmp_path / "pipe", tmp_path / "out.json"
    os.mkfifo(fifo)
    link.symlink_to(fifo)
    received = []
    reader = threading.Thread(target=_read_fifo, args=(fifo, received), daemon=True)
    reader.start()
    write_atomic(link, "{}\n")
    reader.join(timeout=10)
    assert received == ["{}\n"] and link.is_symlink() and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_character_device_is_written_in_place_not_replaced(tmp_path):
    node = tmp_path / "null"                             # a /dev/null twin inside tmp_path: /dev is never touched
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError) as error:
        pytest.skip(f"cannot create a device node here: {error}")
    write_atomic(node, "discarded\n")
    assert stat.S_ISCHR(os.lstat(node).st_mode) and os.listdir(tmp_path) == ["null"]


def test_directories_and_sockets_are_refused(tmp_path):
    with pytest.raises(InvalidInputError, match="a regular file"):
        write_atomic(tmp_path, "x")
    with pytest.raises(InvalidInputError, match="directory"):
        check_output(tmp_path, "-o")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(tmp_path / "sock"))
        with pytest.raises(InvalidInputError, match="socket"):
            check_output(tmp_path / "sock", "-o")
        with pytest.raises(InvalidInputError, match="a regular file"):
            write_atomic(tmp_path / "sock", "x")
    finally:
        server.close()


def test_check_output_names_the_option_and_the_problem(tmp_path, monkeypatch):
    check_output(tmp_path / "new.json", "-o")            # a new file in a writable folder: fine
    with pytest.raises(InvalidInputError, match=r"^-o: expected a file in an existing folder"):
        check_output(tmp_path / "missing" / "out.json", "-o")
    monkeypatch.setattr(files, "_writable", lambda path: False)
    with pytest.raises(InvalidInputError, match=r"^--json: expected a file in a writable folder"):
        check_output(tmp_path / "new.json", "--json")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInputError, match="writable device or FIFO"):
        check_output(fifo, "-o")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(InvalidInputError, match="not writable"):
            check_output(folder / "out.json", "-o")
    finally:
        folder.chmod(0o755)


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

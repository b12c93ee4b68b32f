"""helpers/routes/archive.py: what a .pt holds, and load_torchscript's one-line errors for bad files."""
import json
import re
import struct
import zipfile
from pathlib import Path

import pytest
import torch

import helpers as H


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The trained digits CNN, scripted and saved with one extra file; also a state_dict file."""
    folder = tmp_path_factory.mktemp("archive")
    cnn = H.load_digits_cnn()
    path = folder / "digits.pt"
    torch.jit.save(torch.jit.script(cnn), str(path), _extra_files={"labels.json": json.dumps(list("0123456789"))})
    weights = folder / "weights.pt"
    torch.save(cnn.state_dict(), weights)
    return path, weights, cnn


def test_archive_lists_the_expected_entries(saved):
    path, _, cnn = saved
    entries = H.archive_contents(path)
    inner = {e.inner for e in entries}
    for name in ["data.pkl", "constants.pkl", "version", "byteorder", "extra/labels.json", "data/0"]:
        assert name in inner, name
    # the class's code (torch adds ___torch_mangle_N to the name when the class was scripted before in this process)
    assert any(re.fullmatch(r"code/__torch__/helpers/digits(/___torch_mangle_\d+)?\.py", name) for name in inner)
    assert all(e.name.startswith("digits/") for e in entries)  # the top folder is named after the file
    roles = {e.inner: e.role for e in entries}
    assert "pickle" in roles["data.pkl"] and "_extra_files" in roles["extra/labels.json"]
    assert all("TorchScript source" in role for name, role in roles.items() if name.startswith("code/__torch__/helpers/digits")
               and name.endswith(".py"))
    # The weights are stored raw: the data/N entries add up to exactly the parameters' bytes.
    tensor_bytes = sum(e.size for e in entries if e.role.startswith("raw bytes"))
    assert tensor_bytes == sum(p.numel() * p.element_size() for p in cnn.parameters())


def test_the_serialization_id_follows_the_contents_not_chance(tmp_path):
    """Its role says "computed from the entries": two saves of one model agree, other weights change it."""
    def save(model, folder):  # the same file name each time: the entries' names (in a folder named after it) match
        (tmp_path / folder).mkdir()
        torch.jit.save(model, str(tmp_path / folder / "digits.pt"))
        entry = next(e for e in H.archive_contents(tmp_path / folder / "digits.pt")
                     if e.inner == ".data/serialization_id")
        assert "computed from" in entry.role and "random" not in entry.role
        with zipfile.ZipFile(tmp_path / folder / "digits.pt") as archive:
            return archive.read(entry.name)

    scripted = torch.jit.script(H.load_digits_cnn())
    first, again = save(scripted, "a"), save(scripted, "b")
    assert first == again
    with torch.no_grad():
        next(scripted.parameters()).add_(1.0)
    assert save(scripted, "c") != first


def test_show_archive_collapses_and_renders(saved):
    path, _, _ = saved
    table = H.show_archive(path)
    names = [row[0] for row in table.rows()]
    assert any(n.startswith("data/0, data/1, ...") and "(6 entries)" in n for n in names)
    assert "version" in names and "extra/labels.json" in names
    assert len(H.show_archive(path, collapse=False).rows()) == len(table.entries)
    assert "<table>" in table._repr_html_() and "what it is for" in table._repr_html_()
    assert str(table).startswith("digits.pt:") and "version" in str(table)
    assert table.total_size == sum(e.size for e in table.entries)


def test_title_names_both_totals(saved):
    # The file on disk and the unpacked entries differ in size; the title says which is which.
    path, _, _ = saved
    table = H.show_archive(path)
    assert table.file_size == path.stat().st_size != table.total_size
    title = str(table).splitlines()[0]
    assert f"{table.file_size:,} bytes on disk" in title and f"{table.total_size:,} bytes unpacked" in title


def test_weights_are_stored_and_code_compressed(saved):
    path, _, _ = saved
    entries = H.archive_contents(path)
    assert all(not e.compressed and e.packed == e.size for e in entries if e.inner.startswith("data/"))
    assert any(e.compressed and e.packed < e.size for e in entries if e.inner.endswith(".debug_pkl"))
    assert all(e.inner.startswith("code/") for e in entries if e.compressed)  # as the notebook says


def test_torch_error_line_drops_the_cpp_bookkeeping(saved, tmp_path):
    path, _, _ = saved
    newer = H.copy_archive_with_changes(path, tmp_path / "newer.pt", {"version": "99\n"})
    with pytest.raises(RuntimeError) as raw:
        torch.jit.load(str(newer))
    assert "[enforce fail at" in str(raw.value)  # what torch says...
    line = H.torch_error_line(raw.value)
    assert line.startswith("Attempted to read a PyTorch file with version 99") and "enforce" not in line
    # A text file (longer than a zip's 22-byte end record) and a cut-short model: torch says the same for both.
    text, cut = tmp_path / "notes.pt", tmp_path / "cut.pt"
    text.write_text("the model will go here")
    cut.write_bytes(path.read_bytes()[:1000])
    lines = set()
    for broken in (text, cut):
        with pytest.raises(RuntimeError) as raw:
            torch.jit.load(str(broken))
        lines.add(H.torch_error_line(raw.value))
    assert lines == {"PytorchStreamReader failed reading zip archive: failed finding central directory."}
    assert len(H.torch_error_line("x" * 500, limit=40)) == 40
    with pytest.raises(TypeError, match="exception or its message"):
        H.torch_error_line(42)
    with pytest.raises(ValueError, match="at least 10"):
        H.torch_error_line("message", limit=0)


def test_archive_text_and_extra_files(saved):
    path, _, _ = saved
    assert "class DigitsCNN" in H.archive_text(path, "code/__torch__/helpers/digits.py")
    assert int(H.archive_text(path, "version")) >= 1
    assert json.loads(H.read_extra_files(path, "labels.json")["labels.json"]) == list("0123456789")
    assert set(H.read_extra_files(path)) == {"labels.json"}
    with pytest.raises(KeyError, match="no extra file 'classes.txt' .it has: labels.json"):
        H.read_extra_files(path, "classes.txt")
    with pytest.raises(KeyError, match="has no entry 'nope.py'; it has: "):
        H.archive_text(path, "nope.py")
    with pytest.raises(ValueError, match="binary"):
        H.archive_text(path, "data.pkl")


def test_load_torchscript_loads_a_good_file(saved):
    path, _, cnn = saved
    x, _ = H.load_digits("test")
    loaded = H.load_torchscript(path)
    assert torch.equal(loaded(x), cnn(x))
    assert next(H.load_torchscript(path, map_location="meta").parameters()).device.type == "meta"


def test_missing_file_and_wrong_types(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file at .*save it first with torch.jit.save"):
        H.load_torchscript(tmp_path / "nothing.pt")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        H.load_torchscript(tmp_path)
    with pytest.raises(TypeError, match="takes a file path"):
        H.load_torchscript(42)


def test_not_a_zip_empty_and_old_pickle(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(H.TorchScriptFileError, match="not a zip archive"):
        H.load_torchscript(text)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(H.TorchScriptFileError, match="empty"):
        H.load_torchscript(empty)
    legacy = tmp_path / "legacy.pt"
    torch.save({"w": torch.zeros(2)}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(H.TorchScriptFileError, match="plain pickle.*weights_only=True"):
        H.load_torchscript(legacy)


def test_truncated_file(saved, tmp_path):
    path, _, _ = saved
    data = path.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(RuntimeError, match="failed finding central directory"):  # torch's own words
        torch.jit.load(str(cut))
    with pytest.raises(H.TorchScriptFileError, match="truncated or damaged .* copy or download it again"):
        H.load_torchscript(cut)


def test_flipped_byte_fails_its_checksum(saved, tmp_path):
    path, _, _ = saved
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("/data/2"))
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len  # first byte of the entry's contents
    data[start + 10] ^= 0xFF
    broken = tmp_path / "flipped.pt"
    broken.write_bytes(bytes(data))
    with pytest.raises(H.TorchScriptFileError, match="damaged .entry .*data/2 fails its checksum"):
        H.load_torchscript(broken)


def test_state_dict_and_other_zips_are_not_torchscript(saved, tmp_path):
    _, weights, _ = saved
    with pytest.raises(RuntimeError, match="constants.pkl"):  # torch's own, puzzling, words
        torch.jit.load(str(weights))
    with pytest.raises(H.TorchScriptFileError, match="written by torch.save.*weights_only=True"):
        H.load_torchscript(weights)
    other = tmp_path / "photos.zip"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("a.txt", "hi")
    with pytest.raises(H.TorchScriptFileError, match="not a PyTorch file"):
        H.load_torchscript(other)


def test_newer_version_and_edited_code(saved, tmp_path):
    path, _, cnn = saved
    newer = H.copy_archive_with_changes(path, tmp_path / "newer.pt", {"version": "99\n"})
    with pytest.raises(RuntimeError, match="maximum supported version for reading"):
        torch.jit.load(str(newer))
    with pytest.raises(H.TorchScriptFileError, match="newer PyTorch .file format 99"):
        H.load_torchscript(newer)
    edited = H.copy_archive_with_changes(
        path, tmp_path / "edited.pt",
        {"code/__torch__/helpers/digits.py": lambda t: t.replace("return (classifier).forward(_0, )",
                                                                  "return -(classifier).forward(_0, )")})
    x, _ = H.load_digits("test")
    assert torch.equal(H.load_torchscript(edited)(x), -cnn(x))  # the file's code is what runs
    with pytest.raises(ValueError, match="other than the source"):
        H.copy_archive_with_changes(path, path, {"version": "3\n"})
    with pytest.raises(TypeError, match="needs a dict"):
        H.copy_archive_with_changes(path, tmp_path / "x.pt", {})


def test_class_code_entry_finds_the_class(saved, tmp_path):
    path, _, _ = saved
    assert H.class_code_entry(path, "DigitsCNN") == "code/__torch__/helpers/digits.py"
    # torch names a class's entry after its module, and adds a mangle suffix when this process compiled that class
    # before (another test scripting a Linear): either is the Linear's entry
    assert re.fullmatch(r"code/__torch__/torch/nn/modules/linear(/___torch_mangle_\d+)?\.py",
                        H.class_code_entry(path, "Linear"))
    with pytest.raises(KeyError, match="defines no class 'Nope' in its code; it defines: .*DigitsCNN"):
        H.class_code_entry(path, "Nope")
    with pytest.raises(TypeError, match="class name"):
        H.class_code_entry(path, "not a name")


class _Doubler(torch.nn.Module):  # a class of its own: scripting torch's layers here would rename their code entries
    def forward(self, x):
        return x * 2


def test_a_binary_extra_file_comes_back_as_its_bytes(tmp_path):
    path = tmp_path / "with_picture.pt"
    picture = b"\x89PNG\xff\x00"
    torch.jit.save(torch.jit.script(_Doubler()), str(path), _extra_files={"icon.png": picture, "note.txt": "hi"})
    extras = H.read_extra_files(path)
    assert extras == {"icon.png": picture, "note.txt": "hi"}


def test_a_pt2_is_named_for_what_it_is_and_how_to_load_it(tmp_path):
    program = torch.export.export(_Doubler(), (torch.ones(2),))
    exported = tmp_path / "doubler.pt2"
    torch.export.save(program, exported)
    with pytest.raises(H.TorchScriptFileError, match=r"a torch.export program \(.pt2\).*torch.export.load"):
        H.load_torchscript(exported)
    # an AOTInductor package has the same layout, with compiled code under data/aotinductor (made by hand here:
    # a compile takes a minute, and only the listing is read)
    package = tmp_path / "compiled.pt2"
    with zipfile.ZipFile(package, "w") as archive:
        for name in ("archive_format", "archive_version", "data/aotinductor/model/m.wrapper.so"):
            archive.writestr(f"compiled/{name}", b"x")
    with pytest.raises(H.TorchScriptFileError, match=r"an AOTInductor package \(.pt2\).*H.load_aoti"):
        H.parity(_Doubler(), package, inputs=[torch.ones(2)])


def _with_one_byte_flipped(path, out, deflate_code=False):
    """A copy of the TorchScript file ``path`` at ``out`` with one byte flipped inside its first stored weight, or,
    with ``deflate_code``, inside a code entry written compressed."""
    source = Path(path)
    if deflate_code:
        with zipfile.ZipFile(source) as original, zipfile.ZipFile(out, "w") as copy_:
            for info in original.infolist():
                deflated = "/code/" in info.filename and info.filename.endswith(".py")
                copy_.writestr(info.filename, original.read(info.filename),
                               compress_type=zipfile.ZIP_DEFLATED if deflated else zipfile.ZIP_STORED)
        source = Path(out)
    with zipfile.ZipFile(source) as archive:
        info = next(i for i in archive.infolist() if (i.compress_type == zipfile.ZIP_DEFLATED if deflate_code
                                                      else "/data/" in i.filename and i.file_size > 16))
    raw = bytearray(source.read_bytes())
    name_length, extra_length = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
    raw[info.header_offset + 30 + name_length + extra_length + 5] ^= 0xFF
    Path(out).write_bytes(raw)
    return info.filename


def test_a_flipped_byte_is_named_by_its_entry_whether_stored_or_compressed(tmp_path):
    path = tmp_path / "model.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(8, 4)), str(path))
    stored = _with_one_byte_flipped(path, tmp_path / "flipped.pt")
    torch.jit.load(str(tmp_path / "flipped.pt"))  # torch itself checks no checksum
    with pytest.raises(H.TorchScriptFileError, match=f"entry {stored} fails its checksum"):
        H.load_torchscript(tmp_path / "flipped.pt")
    deflated = _with_one_byte_flipped(path, tmp_path / "deflated.pt", deflate_code=True)
    with pytest.raises(H.TorchScriptFileError, match=f"entry {deflated} no longer decompresses"):
        H.load_torchscript(tmp_path / "deflated.pt")


def test_a_cuda_map_location_without_a_gpu_blames_the_argument_not_the_file(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    path = tmp_path / "model.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    with pytest.raises(ValueError, match=r"^map_location='cuda' names a device this machine does not have"):
        H.load_torchscript(path, map_location="cuda")


class _OnlyParameters(torch.nn.Module):  # a class of one's own, no torch.nn layer inside: its pickle names none
    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(3))


def test_a_pickled_module_of_ones_own_is_named_as_a_pickled_model(tmp_path):
    path = tmp_path / "pickled_custom.pt"
    torch.save(_OnlyParameters(), path)
    with pytest.raises(H.TorchScriptFileError, match="holds a whole pickled model"):
        H.load_torchscript(path)
    weights = tmp_path / "weights.pt"  # its state_dict is still tensors, told apart
    torch.save(_OnlyParameters().state_dict(), weights)
    with pytest.raises(H.TorchScriptFileError, match=r"written by torch.save \(tensors or a state_dict\)"):
        H.load_torchscript(weights)


def test_a_zip_not_in_one_folder_is_shown_whole_and_an_empty_zip_named(tmp_path):
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as z:
        z.writestr("a/x.txt", "hi")
        z.writestr("b/y.txt", "hi")
    shown = str(H.show_archive(two))
    assert "not in one folder" in shown and "a/x.txt" in shown and "b/y.txt" in shown
    assert "all inside the folder" not in shown
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(H.TorchScriptFileError, match="an empty zip archive"):
        H.load_torchscript(empty)

"""Pickles are found by content, in every form that would run code when loaded, and
nothing is ever unpickled while looking (the marker file never appears)."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import struct
import zipfile
import zlib

import joblib
import numpy as np
import pytest

from shipyard.models._safety import code_carrying_reason


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_the_exploit_is_live_so_the_other_tests_mean_something(exploit, marker):
    pickle.loads(exploit)
    assert marker.exists()


@pytest.mark.parametrize("protocol", range(6))
def test_every_pickle_protocol_is_found_by_content_whatever_the_name(
    tmp_path, marker, exploit_in, protocol
):
    path = write(tmp_path, "weights.json", exploit_in(protocol))
    reason = code_carrying_reason(path)
    assert reason is not None
    assert "pickle stream" in reason and "open" in reason
    assert not marker.exists()


COMPRESSIONS = {
    "gzip": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "lzma": lambda data: lzma.compress(data, format=lzma.FORMAT_ALONE),
    "zlib": zlib.compress,
}


@pytest.mark.parametrize("kind", sorted(COMPRESSIONS))
def test_a_compressed_pickle_is_found(tmp_path, marker, exploit, kind):
    reason = code_carrying_reason(write(tmp_path, "model.bin", COMPRESSIONS[kind](exploit)))
    assert reason is not None and f"{kind}-compressed" in reason
    assert not marker.exists()


def test_a_pickle_inside_a_zip_member_is_found_and_named(tmp_path, marker, exploit):
    data = zipped({"weights/readme.txt": b"just text", "weights/data.pkl": exploit})
    reason = code_carrying_reason(write(tmp_path, "model.skops", data))
    assert reason is not None and "inside ZIP member 'weights/data.pkl'" in reason
    assert not marker.exists()


def test_nested_forms_are_followed(tmp_path, marker, exploit):
    inner = zipped({"data.pkl": gzip.compress(exploit)})
    reason = code_carrying_reason(write(tmp_path, "m.bin", bz2.compress(inner)))
    assert reason is not None
    assert "(bz2-compressed, inside ZIP member 'data.pkl', gzip-compressed)" in reason
    assert not marker.exists()


def test_a_zip_appended_to_other_bytes_is_still_opened(tmp_path, exploit):
    data = b"an innocent header\n" * 10 + zipped({"data.pkl": exploit})
    assert "inside ZIP member" in code_carrying_reason(write(tmp_path, "m.bin", data))


def test_nesting_deeper_than_the_limit_is_refused_not_followed(tmp_path, exploit):
    data = b"harmless"
    for _ in range(6):
        data = gzip.compress(data)
    assert "more than 4 deep" in code_carrying_reason(write(tmp_path, "m.bin", data))


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)])
def test_joblib_files_are_found_compressed_or_not(tmp_path, compress):
    path = tmp_path / "model.joblib"
    joblib.dump({"weights": np.arange(10)}, path, compress=compress)
    reason = code_carrying_reason(path)
    assert reason is not None and "joblib.numpy_pickle.NumpyArrayWrapper" in reason


def test_a_numpy_array_of_objects_is_a_pickle_but_a_numeric_one_is_not(tmp_path, exploit):
    objects, numbers = io.BytesIO(), io.BytesIO()
    np.save(objects, np.array([1, "a"], dtype=object), allow_pickle=True)
    np.save(numbers, np.arange(50_000, dtype=np.float64))
    assert "pickle stream" in code_carrying_reason(write(tmp_path, "o.npy", objects.getvalue()))
    assert code_carrying_reason(write(tmp_path, "n.npy", numbers.getvalue())) is None


def _behind_a_blob(obj, protocol: int) -> bytes:
    """A pickle whose first opcode is 100 KB of bytes (then popped): what it imports
    comes after the first window."""
    blob = b"T" + struct.pack("<i", 100_000) + b"x" * 100_000 + b"0"
    body = pickle.dumps(obj, protocol=protocol)
    return body[:2] + blob + body[2:] if protocol >= 2 else blob + body


@pytest.mark.parametrize("protocol", [1, 2])
@pytest.mark.parametrize("compress", [None, "zlib", "gzip"])
def test_what_a_large_first_opcode_hides_is_still_found(
    tmp_path, marker, exploit_object, protocol, compress
):
    data = _behind_a_blob(exploit_object, protocol)
    stored = COMPRESSIONS[compress](data) if compress else data
    reason = code_carrying_reason(write(tmp_path, "m.bin", stored))
    assert reason is not None and "open" in reason
    assert not marker.exists()
    pickle.loads(data)  # and it is live
    assert marker.exists()


def test_a_pickle_longer_than_the_large_window_is_refused_unread(tmp_path):
    blob = b"\x80\x04\x8e" + struct.pack("<Q", 20 << 20) + b"\0" * (20 << 20)
    reason = code_carrying_reason(write(tmp_path, "big.bin", blob))
    assert "goes on past the 16 MiB Shipyard inspects" in reason


def test_long_text_that_starts_like_a_length_prefixed_opcode_is_not_a_pickle(tmp_path):
    text = ("The quick brown fox jumps over the lazy dog.\n" * 3000).encode()
    assert len(text) > 64 << 10
    assert code_carrying_reason(write(tmp_path, "notes.txt", text)) is None


def test_a_pickle_of_plain_data_imports_nothing_and_runs_nothing(tmp_path):
    data = pickle.dumps([1, 2.5, "three", {"four": (5,)}])
    assert code_carrying_reason(write(tmp_path, "data.bin", data)) is None


@pytest.mark.parametrize(
    "text",
    [
        "cloudpickle\nnumpy\npandas\n",  # requirements: 'c' is protocol 0's GLOBAL opcode
        "created_at: '2024-01-01'\nflavor: sklearn\n",
        "tree\nversion=v4\nnum_class=1\n",  # LightGBM's model text
        '{"learner": {"gradient_booster": {}}}',
        "age,income\n31,1.5\n",
        "(just a note)\n",
        "",
    ],
)
def test_text_that_merely_starts_like_a_protocol_0_pickle_is_not_one(tmp_path, text):
    assert code_carrying_reason(write(tmp_path, "file", text.encode())) is None


def test_a_hand_written_protocol_0_pickle_is_found(tmp_path, marker):
    data = f"cbuiltins\nopen\n(V{marker}\nVw\ntR.".encode()
    assert "'builtins.open'" in code_carrying_reason(write(tmp_path, "notes.txt", data))
    assert not marker.exists()


def test_an_unframed_stack_global_pickle_is_found(tmp_path):
    data = b"\x8c\x02os\x8c\x06system\x93\x8c\x04true\x85R."
    assert "'os.system'" in code_carrying_reason(write(tmp_path, "x", data))


def test_a_damaged_archive_that_starts_like_a_zip_is_refused(tmp_path):
    data = zipped({"a.txt": b"hello"})[:40]
    assert "cannot be inspected" in code_carrying_reason(write(tmp_path, "m.zip", data))


def _with_member_flags(data: bytes, *, flags: int = 0, method: int | None = None) -> bytes:
    """A ZIP whose one member is marked encrypted or uses an unknown compression method."""
    patched = bytearray(data)
    for signature, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        start = patched.find(signature)
        patched[start + flag_at] |= flags
        if method is not None:
            patched[start + method_at] = method
    return bytes(patched)


@pytest.mark.parametrize("patch", [{"flags": 1}, {"method": 99}], ids=["encrypted", "method-99"])
def test_a_zip_member_that_cannot_be_read_is_refused(tmp_path, exploit, marker, patch):
    data = _with_member_flags(zipped({"data.pkl": exploit}), **patch)
    assert "cannot be inspected" in code_carrying_reason(write(tmp_path, "m.zip", data))
    assert not marker.exists()


def test_a_truncated_numpy_header_is_not_an_error(tmp_path):
    assert code_carrying_reason(write(tmp_path, "n.npy", b"\x93NUMPY\x01\x00")) is None


def test_real_model_files_are_not_mistaken_for_pickles(tmp_path, numeric, labels):
    import lightgbm
    import xgboost
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestClassifier
    from skops.io import dump

    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(numeric, labels)
    dump(forest, tmp_path / "forest.skops")
    xgboost.XGBClassifier(n_estimators=3).fit(numeric, labels).save_model(tmp_path / "x.json")
    booster = lightgbm.LGBMClassifier(n_estimators=3, verbose=-1).fit(numeric, labels).booster_
    booster.save_model(tmp_path / "l.txt")
    onnx = to_onnx(forest, numeric.to_numpy(np.float32)[:1])
    (tmp_path / "m.onnx").write_bytes(onnx.SerializeToString())
    for name in ("forest.skops", "x.json", "l.txt", "m.onnx"):
        assert code_carrying_reason(tmp_path / name) is None, name

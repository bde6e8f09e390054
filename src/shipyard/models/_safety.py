"""Find pickle streams in a file by its content, without ever unpickling anything.

Loading a pickle runs whatever code the stream names, so every file of a model package
that its flavor does not declare as a pickle is inspected before anything is
deserialised. Detection goes by content, never by file name: a pickle's opcodes are read
with :mod:`pickletools` (which only parses), and archives and compressed streams are
opened and inspected the same way, nested, because joblib compresses its pickles and
torch-style formats keep them inside ZIP members.

>>> import pickle, tempfile
>>> path = Path(tempfile.mkdtemp()) / "model.bin"
>>> _ = path.write_bytes(pickle.dumps(Path("x")))
>>> code_carrying_reason(path)
"holds a pickle stream that imports 'pathlib.PosixPath' when loaded"
"""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import lzma
import pickletools
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["code_carrying_reason"]

#: How much of each stream is read: a pickle names what it imports at its start.
_WINDOW = 64 << 10
#: How much is read when something that parses as a pickle goes on past the window (a
#: large first opcode could hide what follows it).
_LARGE_WINDOW = 16 << 20
#: Archives and compressed streams nested deeper than this are refused, not opened.
_MAX_DEPTH = 4
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_NPY_MAGIC = b"\x93NUMPY"
_OPCODE_BYTES = frozenset(op.code.encode("latin-1")[0] for op in pickletools.opcodes)
# Opcodes that import a name; every call a pickle makes goes through one of them first.
_IMPORTS = frozenset({"GLOBAL", "INST", "STACK_GLOBAL", "EXT1", "EXT2", "EXT4"})
_STRINGS = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING"})
_STRINGS |= {"SHORT_BINSTRING", "BINSTRING"}
# Opcodes that leave the strings on the stack where STACK_GLOBAL finds them.
_NEUTRAL = frozenset({"MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT", "FRAME"})
_COMPUTED = "a name computed while loading"
_DECOMPRESS_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError)


def code_carrying_reason(path: Path) -> str | None:
    """Why loading ``path`` could run code, or None when it holds no code-carrying pickle.

    Looks for a pickle stream (protocol 0 to 5, joblib files included) at the start of
    the file, of every member of a ZIP archive, and of gzip, bz2, xz, lzma and zlib
    streams, nested up to a few levels. Nothing is ever unpickled.
    """
    # pickletools warns about odd string escapes in the files it parses: untrusted input,
    # not our code, so those warnings say nothing to the user
    with Path(path).open("rb") as handle, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        found = _inspect(handle, depth=0, top=True)
    if found is None:
        return None
    reason, places = found
    return f"{reason} ({', '.join(places)})" if places else reason


def _inspect(stream: BinaryIO, *, depth: int, top: bool = False) -> tuple[str, list[str]] | None:
    """The reason and where it was found (outermost first), or None."""
    head = _read_head(stream, _WINDOW)
    if not head:
        return None
    # A NumPy array of Python objects is a pickle after the array's header.
    start = _npy_header_end(head) if head.startswith(_NPY_MAGIC) else 0
    reason = _pickle_in(stream, head, start)
    if reason is not None:
        return reason, []
    try:
        return _inspect_nested(stream, head, depth=depth, top=top)
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, *_DECOMPRESS_ERRORS) as exc:
        # encrypted members, unknown compression methods, damaged streams: unreadable here
        return f"holds an archive or compressed stream that cannot be inspected ({exc})", []


def _inspect_nested(
    stream: BinaryIO, head: bytes, *, depth: int, top: bool
) -> tuple[str, list[str]] | None:
    nested = _nested_streams(stream, head, top=top)
    if nested is None:
        return None
    if depth >= _MAX_DEPTH:
        return f"nests archives or compressed streams more than {_MAX_DEPTH} deep", []
    for place, child in nested:
        found = _inspect(child, depth=depth + 1)
        if found is not None:
            return found[0], [place, *found[1]]
    return None


def _read_head(stream: BinaryIO, limit: int) -> bytes:
    """Up to ``limit`` bytes; a damaged compressed stream gives what it could."""
    chunks: list[bytes] = []
    size = 0
    try:
        while size < limit and (chunk := stream.read(min(1 << 16, limit - size))):
            chunks.append(chunk)
            size += len(chunk)
    except _DECOMPRESS_ERRORS:
        pass
    return b"".join(chunks)


def _pickle_in(stream: BinaryIO, head: bytes, start: int) -> str | None:
    """:func:`_pickle_reason` of the stream from ``start``, reading up to
    :data:`_LARGE_WINDOW` when the window ends inside what parses as a pickle."""
    try:
        return _pickle_reason(head[start:], more=len(head) >= _WINDOW)
    except _OutOfWindow:
        head += _read_head(stream, _LARGE_WINDOW - len(head))
    try:
        return _pickle_reason(head[start:], more=len(head) >= _LARGE_WINDOW)
    except _OutOfWindow:
        return (
            f"starts like a pickle stream that goes on past the {_LARGE_WINDOW >> 20} MiB "
            "Shipyard inspects, so what it imports when loaded is unknown"
        )


def _pickle_reason(head: bytes, *, more: bool) -> str | None:
    """A reason when ``head`` starts a pickle stream that imports a name, else None.

    A stream that starts with the PROTO opcode (protocol 2 and later) is a pickle for
    sure, and counts even when a malformed opcode follows the imports, because
    unpickling runs opcodes as it reads them. Protocol 0 and 1 have no header, so text
    could look like one: such a stream counts only when the names it imports are
    identifiers and it parses up to its STOP opcode. When the stream goes on (``more``)
    past ``head`` before a name was seen, :class:`_OutOfWindow` asks for more of it.
    """
    if not head or head[0] not in _OPCODE_BYTES:
        return None
    framed = head[0] == 0x80 and len(head) > 1 and 2 <= head[1] <= 5
    imports: list[str] = []
    complete = False
    try:
        for name in _imported_names(_Window(head, more=more), framed=framed):
            if name is None:
                complete = True
                break
            imports.append(name)
    except _NotAPickle:
        return None
    except _OutOfWindow:
        if not imports:
            raise
        complete = True
    except ValueError:  # a malformed opcode, or a pickle cut short
        complete = framed
    if not imports or not complete:
        return None
    named = [name for name in dict.fromkeys(imports) if name != _COMPUTED] or [_COMPUTED]
    shown = ", ".join(name if name == _COMPUTED else repr(name) for name in named[:3])
    return f"holds a pickle stream that imports {shown} when loaded"


class _NotAPickle(Exception):
    """The bytes only started like a protocol 0/1 pickle."""


class _OutOfWindow(Exception):
    """The parse needs bytes past the window, and the stream has more."""


class _Window(io.BytesIO):
    """The start of a stream: a read past its end raises :class:`_OutOfWindow` when the
    stream goes on (``more``), where a short read would otherwise look like a damaged
    pickle."""

    def __init__(self, head: bytes, *, more: bool) -> None:
        super().__init__(head)
        self._more = more

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if self._more and size is not None and 0 <= size != len(data):
            raise _OutOfWindow
        return data

    def readline(self, size: int | None = -1) -> bytes:
        line = super().readline(size)
        if self._more and not line.endswith(b"\n"):
            raise _OutOfWindow
        return line


def _imported_names(window: _Window, *, framed: bool) -> Iterator[str | None]:
    """Each name the stream imports, then None at its STOP opcode."""
    strings: list[str] = []  # the string opcodes just before, as STACK_GLOBAL takes them
    for opcode, arg, _ in pickletools.genops(window):
        name = opcode.name
        if name in ("GLOBAL", "INST"):
            module, _, attr = str(arg).partition(" ")
            if not framed and not (_dotted(module) and _dotted(attr)):
                raise _NotAPickle
            yield f"{module}.{attr}"
        elif name == "STACK_GLOBAL":
            if len(strings) >= 2 and all(_dotted(part) for part in strings[-2:]):
                yield ".".join(strings[-2:])
            elif framed:
                yield _COMPUTED
            else:
                raise _NotAPickle
        elif name in _IMPORTS:
            yield f"copyreg extension code {arg}"
        elif name == "STOP":
            yield None
            return
        if name in _STRINGS:
            strings.append(str(arg))
        elif name not in _NEUTRAL:
            strings.clear()


def _dotted(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def _npy_header_end(head: bytes) -> int:
    """Where the data of a ``.npy`` file starts (its format versions 1 to 3)."""
    try:
        if head[6:7] == b"\x01":
            return 10 + struct.unpack("<H", head[8:10])[0]
        return 12 + struct.unpack("<I", head[8:12])[0]
    except struct.error:  # too short to hold data
        return len(head)


_Nested = Iterator[tuple[str, BinaryIO]]


def _nested_streams(stream: BinaryIO, head: bytes, *, top: bool) -> _Nested | None:
    """The streams inside ``stream`` when it is an archive or compressed, else None.

    A file on disk is also opened as a ZIP when it only ends like one (a ZIP appended to
    other bytes); a nested stream only when it starts like one.
    """
    stream.seek(0)
    if head.startswith(_ZIP_MAGIC):
        return _zip_members(zipfile.ZipFile(stream))
    if top and zipfile.is_zipfile(stream):
        stream.seek(0)
        try:
            return _zip_members(zipfile.ZipFile(stream))
        except zipfile.BadZipFile:  # nothing opens it as a ZIP either
            return None
    opener = _decompressor(head)
    if opener is None:
        return None
    stream.seek(0)
    return opener(stream)


def _zip_members(archive: zipfile.ZipFile) -> _Nested:
    with archive:
        for info in archive.infolist():
            if not info.is_dir():
                with archive.open(info) as member:
                    yield f"inside ZIP member {info.filename!r}", member  # type: ignore[misc]


def _zlib_head(stream: BinaryIO) -> BinaryIO:
    """zlib has no file reader: the decompressed start is enough to find a pickle."""
    decompressor = zlib.decompressobj()
    output = bytearray()
    while len(output) < _LARGE_WINDOW and (chunk := stream.read(1 << 16)):
        try:
            output += decompressor.decompress(chunk, _LARGE_WINDOW - len(output))
        except zlib.error:
            break
    return io.BytesIO(bytes(output))


def _gunzip(stream: BinaryIO) -> BinaryIO:
    return gzip.GzipFile(mode="rb", fileobj=stream)  # type: ignore[return-value]


def _is_zlib(head: bytes) -> bool:
    # a deflate header whose two bytes are a multiple of 31 (RFC 1950)
    return len(head) > 1 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0


# (starts like it, what it is called, a reader of its decompressed bytes)
_COMPRESSIONS: tuple[tuple[Callable[[bytes], bool], str, Callable[[BinaryIO], Any]], ...] = (
    (
        lambda head: head.startswith(b"\x1f\x8b"),
        "gzip",
        lambda s: gzip.GzipFile(mode="rb", fileobj=s),
    ),
    (lambda head: head.startswith(b"BZh") and head[3:4].isdigit(), "bz2", bz2.BZ2File),
    (lambda head: head.startswith(b"\xfd7zXZ\x00"), "xz", lzma.LZMAFile),
    (
        lambda head: head.startswith(b"\x5d\x00\x00"),
        "lzma",
        functools.partial(lzma.LZMAFile, format=lzma.FORMAT_ALONE),
    ),
    (_is_zlib, "zlib", _zlib_head),  # joblib's default compression
)


def _decompressor(head: bytes) -> Callable[[BinaryIO], _Nested] | None:
    for matches, label, reader in _COMPRESSIONS:
        if matches(head):
            return lambda stream, label=label, reader=reader: iter(
                [(f"{label}-compressed", reader(stream))]
            )
    return None

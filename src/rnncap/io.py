"""Files a later stage reads: written atomically, with a checksum, and checked when read.

Writes: a file either does not exist or is complete (temporary file beside it + rename), and
it gets the permissions the process umask allows, like any file a shell command would write
(a shared lab filesystem must let the group read results). A write interrupted by a kill
leaves its temporary file behind; the next write of the same path removes it.

Integrity: data (`torch_save`), checkpoints (`torch_save`), run tables and aggregate tables
(`write_parquet`) and JSON state (`write_json`) carry a SHA-256 of their content, written
with them inside the same file, so one rename publishes data and checksum together. The
readers (`torch_load`, `read_parquet`, `read_json`) recompute it: a truncated, bit-flipped
or hand-edited file raises `DamagedFileError`, a one-line message naming the file and what
to do, instead of a traceback or a silently wrong result.

The checksum covers the decoded content (tensors' dtypes, shapes and bytes; an Arrow
table's schema and values), not the container's bytes, so it is independent of how
torch or pyarrow lay the file out.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

CHECKSUM_KEY = "rnncap_sha256"  # where the digest lives: a JSON key, a torch dict key, Parquet metadata
REMEDY = "delete it and rerun (Snakemake rebuilds it from its inputs)"


class DamagedFileError(ValueError):
    """A file that is truncated, corrupt or fails its checksum; the message names it."""

    def __init__(self, path: str | os.PathLike, reason: str, remedy: str = REMEDY):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: damaged file ({reason}); {remedy}")


# --------------------------------------------------------------------------- atomic writes

def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files an interrupted `atomic_path(path)` left (`.<name>.*.tmp`)."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    stale = list(path.parent.glob(f".{path.name}.*.tmp"))
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600: give the file what the umask allows
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# --------------------------------------------------------------------------- digests

def _digest_into(h: Any, o: Any) -> None:
    """Feed a canonical encoding of `o` (tensors, arrays, containers, scalars) into `h`."""
    import numpy as np
    import torch

    if isinstance(o, torch.Tensor):
        t = o.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(o, np.ndarray):
        a = np.ascontiguousarray(o)
        h.update(f"A{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    elif isinstance(o, dict):
        h.update(f"D{len(o)}".encode())
        for k in sorted(o, key=repr):
            _digest_into(h, k)
            _digest_into(h, o[k])
    elif isinstance(o, (list, tuple)):
        h.update(f"{type(o).__name__[0]}{len(o)}".encode())
        for v in o:
            _digest_into(h, v)
    elif o is None or isinstance(o, (bool, int, str, bytes)):
        h.update(f"{type(o).__name__}:{o!r}".encode())
    elif isinstance(o, float):
        h.update(f"float:{o.hex() if math.isfinite(o) else repr(o)}".encode())
    elif isinstance(o, (np.generic,)):
        _digest_into(h, o.item())
    elif isinstance(o, torch.dtype | torch.device):
        h.update(f"{type(o).__name__}:{o}".encode())
    else:
        raise TypeError(f"cannot checksum a {type(o).__name__}")


def digest(o: Any) -> str:
    """SHA-256 (hex) of the content of a nested structure of tensors, arrays and scalars."""
    h = hashlib.sha256()
    _digest_into(h, o)
    return h.hexdigest()


# --------------------------------------------------------------------------- torch files

def torch_save(path: str | os.PathLike, obj: dict[str, Any]) -> None:
    """Save a dict (data, checkpoint) with the digest of its content under CHECKSUM_KEY."""
    import torch

    if not isinstance(obj, dict) or CHECKSUM_KEY in obj:
        raise TypeError(f"torch_save: expected a dict without a {CHECKSUM_KEY!r} key")
    with atomic_path(path) as tmp:
        torch.save({**obj, CHECKSUM_KEY: digest(obj)}, tmp)


def torch_load(path: str | os.PathLike, map_location: Any = "cpu", weights_only: bool = True) -> dict[str, Any]:
    """Load what `torch_save` wrote; DamagedFileError if it is unreadable or its digest differs."""
    return torch_load_with_digest(path, map_location, weights_only)[0]


def torch_load_with_digest(path: str | os.PathLike, map_location: Any = "cpu",
                           weights_only: bool = True) -> tuple[dict[str, Any], str]:
    """`torch_load`, and the verified digest of the content (what identifies the data a run used)."""
    import torch

    path = Path(path)
    try:
        obj = torch.load(path, map_location=map_location, weights_only=weights_only)
    except FileNotFoundError:
        raise
    except Exception as e:  # truncated zip, bad pickle, ... : name the file, not torch's internals
        raise DamagedFileError(path, f"unreadable: {type(e).__name__}: {_first_line(e)}") from None
    if not isinstance(obj, dict) or CHECKSUM_KEY not in obj:
        raise DamagedFileError(path, "no checksum (not written by rnncap's torch_save)")
    want = obj.pop(CHECKSUM_KEY)
    try:
        ok = digest(obj) == want
    except TypeError as e:
        raise DamagedFileError(path, f"unexpected content: {e}") from None
    if not ok:
        raise DamagedFileError(path, "checksum mismatch: its content changed after it was written")
    return obj, want


# --------------------------------------------------------------------------- parquet tables

def _table_digest(table: Any) -> str:
    import pyarrow as pa

    meta = {k: v for k, v in (table.schema.metadata or {}).items() if k != CHECKSUM_KEY.encode()}
    table = table.replace_schema_metadata(meta).combine_chunks()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def write_parquet(path: str | os.PathLike, df: Any) -> None:
    """Write a DataFrame as Parquet with the digest of its decoded content in the footer.

    The digest is taken from the table as it reads back (Parquet may change types and
    chunking), so `read_parquet` recomputes exactly what was stored.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, write_page_checksum=True)
        back = pq.read_table(tmp)
        meta = dict(back.schema.metadata or {})
        meta[CHECKSUM_KEY.encode()] = _table_digest(back).encode()
        pq.write_table(table.replace_schema_metadata(meta), tmp, write_page_checksum=True)


def read_parquet(path: str | os.PathLike) -> Any:
    """Read what `write_parquet` wrote; DamagedFileError if unreadable or its digest differs."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found")
    try:
        table = pq.read_table(path, page_checksum_verification=True)
        want = (table.schema.metadata or {}).get(CHECKSUM_KEY.encode())
        if want is None:
            raise DamagedFileError(path, "no checksum (not written by rnncap's write_parquet)")
        if _table_digest(table) != want.decode():
            raise DamagedFileError(path, "checksum mismatch: its content changed after it was written")
        meta = {k: v for k, v in table.schema.metadata.items() if k != CHECKSUM_KEY.encode()}
        return table.replace_schema_metadata(meta).to_pandas()
    except DamagedFileError:
        raise
    except Exception as e:  # a damaged footer can fail anywhere in decoding: name the file
        raise DamagedFileError(path, f"unreadable: {type(e).__name__}: {_first_line(e)}") from None


# --------------------------------------------------------------------------- JSON

def _canonical(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=_jsonable)


def json_roundtrip(obj: Any) -> Any:
    """`obj` as it reads back from JSON (tuples become lists, numpy scalars numbers), to compare
    an object in memory with one read from a file."""
    return json.loads(_canonical(obj))


def write_json(path: str | os.PathLike, obj: Any, checksum: bool = False) -> None:
    """Write JSON atomically; with `checksum`, a dict gets the digest of its text under CHECKSUM_KEY."""
    if checksum:
        if not isinstance(obj, dict) or CHECKSUM_KEY in obj:
            raise TypeError(f"write_json: a checksummed object is a dict without a {CHECKSUM_KEY!r} key")
        plain = json_roundtrip(obj)
        obj = {**plain, CHECKSUM_KEY: hashlib.sha256(_canonical(plain).encode()).hexdigest()}
    with atomic_path(path) as tmp:
        tmp.write_text(_canonical(obj) + "\n")


def read_json(path: str | os.PathLike, checksum: bool = False) -> Any:
    """Read JSON; DamagedFileError naming the file if it does not parse (or, with `checksum`,
    if the digest `write_json(..., checksum=True)` stored is missing or differs)."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DamagedFileError(path, f"not valid JSON: {_first_line(e)}") from None
    if not checksum:
        return obj
    if not isinstance(obj, dict) or CHECKSUM_KEY not in obj:
        raise DamagedFileError(path, "no checksum (not written by rnncap)")
    want = obj.pop(CHECKSUM_KEY)
    if hashlib.sha256(_canonical(obj).encode()).hexdigest() != want:
        raise DamagedFileError(path, "checksum mismatch: its content changed after it was written")
    return obj


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _jsonable(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")

"""text8 next-character prediction (spec §3.4, §9 #19): 27 symbols, random
pointers into the text, 50-step sequences whose first 13 steps only warm up
the state; splits are the first 90% / next 5% / last 5% of the file."""

from __future__ import annotations

import hashlib
import math
import random
import shutil
import urllib.request
import zipfile
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .. import io
from .base import Batch, Task, TaskError, f64, np_rng, save_data

ALPHABET = "abcdefghijklmnopqrstuvwxyz "  # index = symbol; ' ' -> 26
N_SYMBOLS = len(ALPHABET)
FRACTIONS = {"train": 0.90, "valid": 0.05}  # eval: the rest
URL = "http://mattmahoney.net/dc/text8.zip"

_LUT = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(ALPHABET):
    _LUT[ord(_c)] = _i


def encode_text(raw: bytes) -> np.ndarray:
    """bytes over a-z and ' ' -> uint8 symbols 0..26; any other byte raises TaskError."""
    codes = _LUT[np.frombuffer(raw, dtype=np.uint8)]
    bad = np.flatnonzero(codes == 255)
    if len(bad):
        i = int(bad[0])
        raise TaskError(f"text8.path: character {raw[i:i + 1]!r} at offset {i} is outside a-z and space "
                        f"({len(bad)} such characters)")
    return codes


def decode_text(codes) -> str:
    return "".join(ALPHABET[int(c)] for c in codes)


def split_bounds(n: int) -> dict[str, tuple[int, int]]:
    """[start, end) of train/valid/eval in a text of n characters (90M/5M/5M on the real file)."""
    a = int(n * FRACTIONS["train"])
    b = a + int(n * FRACTIONS["valid"])
    return {"train": (0, a), "valid": (a, b), "eval": (b, n)}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_corpus(path: Path) -> bytes:
    """The text of a plain file, or of the single file inside a .zip."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise TaskError(f"text8.path: {path} must hold exactly one file, found {names}")
            return z.read(names[0])
    return path.read_bytes()


def fetch_corpus(o: dict[str, Any]) -> bytes:
    """Locate (and with download: true, fetch) the file named by text8.path; verify text8.sha256."""
    if not o["path"]:
        raise TaskError("text8.path: not set (set text8.path to a local copy of text8, or text8.download: true "
                        "with text8.path naming where to put it)")
    path = Path(o["path"]).expanduser()
    if not path.exists():
        if not o["download"]:
            raise TaskError(f"text8.path: file not found: {path} (set text8.path to a local copy of text8, "
                            "or text8.download: true)")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.download")
        print(f"text8: downloading {o['url']} -> {path}", flush=True)
        try:
            with urllib.request.urlopen(o["url"]) as r, open(tmp, "wb") as f:
                shutil.copyfileobj(r, f)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise TaskError(f"text8.url: download of {o['url']} failed: {err}") from err
        _verify(tmp, o["sha256"], path)
        tmp.replace(path)
    else:
        _verify(path, o["sha256"], path)
    return read_corpus(path)


def write_synthetic(path: str | Path, chars: int, seed: int = 0) -> None:
    """`text8.synthetic: true` (tests only): `chars` characters of random words over a-z and
    space, deterministic in `seed`, written atomically. Stands in for text8 where it can't
    be fetched; its losses mean nothing."""
    r = random.Random(int(seed))
    letters = ALPHABET[:-1]
    words = ["".join(r.choice(letters) for _ in range(r.randint(1, 9))) for _ in range(500)]
    parts, n = [], 0
    while n < chars:
        w = r.choice(words)
        parts.append(w)
        n += len(w) + 1
    with io.atomic_path(path) as tmp:
        tmp.write_text(" ".join(parts)[:chars])


def _verify(file: Path, want: str | None, shown: Path) -> None:
    if want is None:
        print(f"text8: WARNING: no text8.sha256 given; {shown} is not verified", flush=True)
        return
    got = sha256_of(file)
    if got.lower() != want.strip().lower():
        if file != shown:
            file.unlink(missing_ok=True)
        raise TaskError(f"text8.sha256: checksum mismatch for {shown}: expected {want}, got {got}")


class Text8Task(Task):
    name = "text8"
    metric_name = "bits_per_char"
    higher_is_better = False
    input_kind = "index"
    # sha256: expected checksum of the file at `path` (zip or plain text); None skips the check (with a warning)
    DEFAULTS = {"path": None, "url": URL, "sha256": None, "download": False,
                "seq_len": 50, "warmup": 13, "n_eval": 1024}

    @classmethod
    def validate(cls, o: dict[str, Any]) -> None:
        cls.require(o["seq_len"] >= 1, "seq_len", f"must be >= 1, got {o['seq_len']}")
        cls.require(0 <= o["warmup"] < o["seq_len"], "warmup", f"must be in [0, seq_len), got {o['warmup']}")
        cls.require(o["n_eval"] >= 1, "n_eval", f"must be >= 1, got {o['n_eval']}")

    @classmethod
    def layout(cls, o: dict[str, Any]) -> tuple[int, int, Sequence[int]]:
        """One symbol in, the next symbol out at every step after the warm-up."""
        return N_SYMBOLS, N_SYMBOLS, range(o["warmup"], o["seq_len"])

    @classmethod
    def make_data(cls, seed: int, out_dir: Path | str, **options: Any) -> None:
        o = cls.check_options(options)
        codes = encode_text(fetch_corpus(o))
        tensors, sizes = {}, {"chars": len(codes)}
        for i, (s, (a, b)) in enumerate(split_bounds(len(codes)).items()):
            n_start = (b - a) - o["seq_len"]  # a window is seq_len inputs + 1 target
            cls.require(n_start >= 1, "path", f"the {s} split has {b - a} characters, fewer than "
                                              f"seq_len + 1 = {o['seq_len'] + 1}")
            tensors[s] = torch.from_numpy(codes[a:b].copy())
            # fixed evaluation pointers ('train' too: a fixed sample of training windows)
            tensors[f"{s}_ptr"] = torch.from_numpy(np_rng(seed, "text8", i).integers(0, n_start, o["n_eval"]))
            sizes[s] = b - a
        save_data(out_dir, cls.name, seed, o, tensors, sizes)

    def __init__(self, data_dir: Path | str, device: str | torch.device = "cpu", **options: Any):
        super().__init__(data_dir, device, **options)
        self.warmup = self.options["warmup"]
        self._win = torch.arange(self.seq_len + 1, device=self.device)

    def _batch(self, text: Tensor, starts: Tensor) -> Batch:
        """starts (E, B) -> x (E, T, B, 1) chars t = 0..T-1; y (E, R, B) the next char at each readout step."""
        chars = text[starts[..., None] + self._win].long().transpose(1, 2)  # (E, T + 1, B)
        return Batch(chars[:, :-1, :, None], chars[:, self.warmup + 1:])

    def train_batch(self, gens: Sequence[torch.Generator], hps: Sequence[dict], batch_size: int) -> Batch:
        self._check_members(gens, hps)
        text = self.data["train"]
        n_start = text.numel() - self.seq_len
        starts = torch.stack([torch.randint(0, n_start, (batch_size,), generator=g, device=self.device)
                              for g in gens])
        return self._batch(text, starts)

    def eval_batches(self, split: str, hps: Sequence[dict], batch_size: int) -> Iterator[Batch]:
        self._check_split(split)
        text, ptr = self.data[split], self.data[f"{split}_ptr"]
        for s in range(0, ptr.numel(), batch_size):
            yield self._batch(text, ptr[s:s + batch_size].expand(len(hps), -1))

    @staticmethod
    def _nll(out: Tensor, y: Tensor) -> Tensor:
        """(E, R, B) CE in nats."""
        return -F.log_softmax(out.float(), -1).gather(-1, y.unsqueeze(-1)).squeeze(-1)

    def loss(self, out: Tensor, batch: Batch) -> Tensor:
        return self._nll(out, batch.y).mean(dim=(1, 2))

    def eval_sums(self, out: Tensor, batch: Batch) -> dict[str, Tensor]:
        nll = f64(self._nll(out, batch.y)).sum(dim=(1, 2))
        return {"nll": nll, "count": torch.full_like(nll, float(batch.y.shape[1] * batch.y.shape[2]))}

    def finalize(self, sums: dict[str, Tensor], hps: Sequence[dict]) -> dict[str, Tensor]:
        bpc = sums["nll"] / sums["count"].clamp(min=1) / math.log(2)
        return {"loss": bpc, "metric": bpc}

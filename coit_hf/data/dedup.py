"""De-duplication across all tasks of a build from signatures on disk.

Each reading task writes one signature per record that passed the per-record filters: (bucket, near key, exact
key, position, contaminated), sorted by bucket. One de-duplication task per bucket merges that bucket's slice of
every task's file, so its memory is the bucket's size (the build picks enough buckets to keep it small), never the
corpus. The decisions equal a single pass in reading order: a record is a ``duplicate`` when an earlier kept record
has the same exact key, a ``near_duplicate`` when an earlier kept record has the same near key, else
``contaminated`` when it overlaps evaluation text; contaminated records are never "kept", so they do not hide later
copies.

datatrove's dedup steps (URL/exact/MinHash) keep one document per cluster by a priority, not "first in reading
order, with contaminated ones skipped", so these decisions are computed here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from coit_hf.files import replacing

SIGNATURE = np.dtype([("bucket", "<u4"), ("near", "<u8"), ("exact", "<u8"), ("pos", "<i8"), ("bad", "u1")])
KEPT, DUPLICATE, NEAR_DUPLICATE, CONTAMINATED = 0, 1, 2, 3
REASONS = {DUPLICATE: "duplicate", NEAR_DUPLICATE: "near_duplicate", CONTAMINATED: "contaminated"}


def _save(path: Path, **arrays: np.ndarray) -> None:
    with replacing(path) as tmp, tmp.open("wb") as handle:  # a handle: np.savez would append .npz to a name
        np.savez(handle, **arrays)


def write_signatures(path: Path, near: list[int], exact: list[int], pos: list[int], bad: list[int],
                     buckets: int) -> None:
    """Sort one task's signatures by (bucket, near key, position) and save them."""
    table = np.empty(len(near), dtype=SIGNATURE)
    table["near"] = np.asarray(near, dtype=np.uint64)
    table["exact"] = np.asarray(exact, dtype=np.uint64)
    table["pos"] = np.asarray(pos, dtype=np.int64)
    table["bad"] = np.asarray(bad, dtype=np.uint8)
    table["bucket"] = (table["near"] % np.uint64(buckets)).astype(np.uint32)
    table = table[np.lexsort((table["pos"], table["near"], table["bucket"]))]
    _save(path, signatures=table)


def _bucket_slice(path: Path, bucket: int) -> np.ndarray:
    with np.load(path) as data:
        table = data["signatures"]
    lo, hi = np.searchsorted(table["bucket"], [bucket, bucket + 1])
    return table[lo:hi]


def decide(table: np.ndarray, *, dedup: bool, near_dedup: bool) -> np.ndarray:
    """Decision code per signature (KEPT, DUPLICATE, NEAR_DUPLICATE, CONTAMINATED) for one bucket.

    ``table`` must be sorted by (group key, position), where the group key is the near key (near_dedup on), the
    exact key (only dedup on) or the position (both off).
    """
    n = len(table)
    codes = np.zeros(n, dtype=np.uint8)
    if n == 0:
        return codes
    key = table["near"] if near_dedup else table["exact"] if dedup else table["pos"]
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = key[1:] != key[:-1]
    group = np.cumsum(new_group) - 1
    starts = np.flatnonzero(new_group)
    index = np.arange(n)
    first_clean = np.minimum.reduceat(np.where(table["bad"] == 0, index, n), starts)[group]
    has_kept = first_clean < n
    kept_exact = table["exact"][np.minimum(first_clean, n - 1)]
    codes[index < first_clean] = CONTAMINATED  # before the group's first kept record: only contaminated ones
    after = has_kept & (index > first_clean)
    same_exact = table["exact"] == kept_exact
    codes[after & same_exact & dedup] = DUPLICATE
    codes[after & ~(same_exact & dedup)] = NEAR_DUPLICATE
    return codes


def dedup_bucket(signature_files: list[Path], bucket: int, out: Path, *, dedup: bool, near_dedup: bool) -> int:
    """Decide one bucket from every task's signature file; saves the removed records as (origin task, position,
    code) sorted by origin and position. Returns the number of signatures seen."""
    slices, origins = [], []
    for origin, path in enumerate(signature_files):
        part = _bucket_slice(path, bucket)
        slices.append(part)
        origins.append(np.full(len(part), origin, dtype=np.int32))
    table = np.concatenate(slices) if slices else np.empty(0, dtype=SIGNATURE)
    origin = np.concatenate(origins) if origins else np.empty(0, dtype=np.int32)
    key = table["near"] if near_dedup else table["exact"] if dedup else table["pos"]
    order = np.lexsort((table["pos"], key))
    table, origin = table[order], origin[order]
    codes = decide(table, dedup=dedup, near_dedup=near_dedup)
    removed = codes != KEPT
    origin, pos, codes = origin[removed], table["pos"][removed], codes[removed]
    order = np.lexsort((pos, origin))
    _save(out, origin=origin[order], pos=pos[order], code=codes[order])
    return len(table)


def removed_of_task(decision_files: list[Path], task: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions, codes) of the records of ``task`` that de-duplication removed, sorted by position."""
    positions, codes = [], []
    for path in decision_files:
        with np.load(path) as data:
            origin = data["origin"]
            lo, hi = np.searchsorted(origin, [task, task + 1])
            positions.append(data["pos"][lo:hi])
            codes.append(data["code"][lo:hi])
    pos = np.concatenate(positions) if positions else np.empty(0, dtype=np.int64)
    code = np.concatenate(codes) if codes else np.empty(0, dtype=np.uint8)
    order = np.argsort(pos, kind="stable")
    return pos[order], code[order]


def lookup(removed_pos: np.ndarray, removed_code: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Decision code for each of ``positions`` (KEPT where de-duplication removed nothing)."""
    if len(removed_pos) == 0:
        return np.zeros(len(positions), dtype=np.uint8)
    index = np.searchsorted(removed_pos, positions)
    clipped = np.minimum(index, len(removed_pos) - 1)
    hit = (index < len(removed_pos)) & (removed_pos[clipped] == positions)
    return np.where(hit, removed_code[clipped], KEPT).astype(np.uint8)

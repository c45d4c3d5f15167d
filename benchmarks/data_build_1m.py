"""Measure `coit_hf.data.build.build_corpus` on N synthetic en→zh pairs: rows/s and peak memory (ru_maxrss).

Usage: python benchmarks/data_build_1m.py [--pairs 1000000] [--workdir /tmp/coit-bench] [--decontaminate FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import time
from pathlib import Path

from coit_hf.data.build import BuildConfig, build_corpus

HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
WORDS = ("data model language people world river city music light history science system water number point "
         "market school family story friend garden window morning evening question answer energy").split()


def write_pairs(workdir: Path, pairs: int, seed: int = 0) -> tuple[Path, Path]:
    """Line-aligned synthetic files (unique lines: each carries its row number)."""
    rng = random.Random(seed)
    en_path, zh_path = workdir / "train.en", workdir / "train.zh"
    with en_path.open("w", encoding="utf-8") as en, zh_path.open("w", encoding="utf-8") as zh:
        for i in range(pairs):
            n = rng.randint(6, 20)
            en.write(" ".join(rng.choice(WORDS) for _ in range(n)) + f" {i}.\n")
            zh.write("".join(rng.choice(HAN) for _ in range(n + 4)) + f"{i}。\n")
    return en_path, zh_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--workdir", default="/tmp/coit-bench")
    parser.add_argument("--decontaminate", action="append", default=[])
    args = parser.parse_args()
    workdir = Path(args.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    en_path, zh_path = write_pairs(workdir, args.pairs)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    config = BuildConfig(
        name="bench", validation_size=0.01,
        sources=[{"type": "parallel", "paths": [str(en_path), str(zh_path)], "tgt_lang": "zh"}],
        decontamination={"files": args.decontaminate},
    )
    started = time.perf_counter()
    report = build_corpus(config, workdir / "corpus", progress=True)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size_mb = sum(p.stat().st_size for p in (workdir / "corpus").rglob("*.parquet")) / 2**20
    result = {"pairs": args.pairs, "kept": report["totals"]["kept"], "seconds": round(elapsed, 1),
              "rows_per_s": round(args.pairs / elapsed), "peak_rss_mb": round(peak_mb),
              "rss_before_build_mb": round(rss_before / 1024), "parquet_mb": round(size_mb, 1),
              "decontaminate": args.decontaminate}
    print(json.dumps(result))


if __name__ == "__main__":
    main()

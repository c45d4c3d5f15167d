"""`coit-hf data build|push|mixture`: build a CoIT corpus folder, publish it, resolve a mixture."""

from __future__ import annotations

import argparse
from pathlib import Path

from coit_hf.errors import CoitError, ConfigError
from coit_hf.files import parse_key_values, split_key_value, write_json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``coit-hf data`` and its sub-commands."""
    data = subparsers.add_parser("data", help="Build, publish and mix CoIT corpora.")
    commands = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND")

    build = commands.add_parser("build", help="Build a corpus folder (Parquet configs translation/general/all + card).")
    build.add_argument("--config", help="Build config YAML (sources:, name:, quality:, decontamination:, ...).")
    build.add_argument("--output", "-o", required=True, help="Output corpus folder (written atomically).")
    build.add_argument("--overwrite", action="store_true", help="Replace an existing output folder.")
    build.add_argument("--name", help="Dataset name shown in the card (default: output folder name).")
    build.add_argument("--src-lang", default="en", help="Source language of translation options below (default en).")
    build.add_argument("--tgt-lang", help="Target language of translation options below (e.g. zh).")
    build.add_argument("--parallel", nargs=2, action="append", default=[], metavar=("SRC_FILE", "TGT_FILE"),
                       help="Line-aligned parallel files (repeatable).")
    build.add_argument("--pairs", action="append", default=[], metavar="FILE",
                       help="Translation pairs file: .jsonl (fields = language codes or OPUS `translation`), .tsv, "
                       ".po, .mo or .tmx (repeatable).")
    build.add_argument("--gettext", action="store_true",
                       help="Add English→TGT pairs from all system gettext catalogs of --tgt-lang.")
    build.add_argument("--alpaca", action="append", default=[], metavar="LANG=FILE",
                       help="Alpaca-format JSON/JSONL instruction data whose outputs are in LANG (repeatable).")
    build.add_argument("--direction", choices=["en-x", "x-en", "both"], help="Translation direction (default en-x).")
    build.add_argument("--validation-size", type=float,
                       help="Validation rows per subset: a fraction < 1 or a row count (default 0.01).")
    build.add_argument("--decontaminate", action="append", default=[], metavar="EVAL_FILE",
                       help="Evaluation file to decontaminate against (XQuAD/MLQA JSON, Flores text; repeatable).")
    build.add_argument("--languages-file", action="append", default=[], help="Extra language registry YAML/JSON.")
    build.add_argument("--report", help="Also write the build report JSON here.")
    build.add_argument("--workers", type=int,
                       help="Tasks run at once (local: processes; default: this machine's cores).")
    build.add_argument("--executor", choices=["local", "slurm", "ray"], default="local",
                       help="Where the tasks run: local processes, Slurm job arrays or a Ray cluster (default local).")
    build.add_argument("--slurm-partition", help="Slurm partition (required with --executor slurm).")
    build.add_argument("--slurm-time", default="24:00:00", help="Slurm time limit per job (default 24:00:00).")
    build.add_argument("--slurm-cpus-per-task", type=int, default=1, help="CPUs per Slurm task (default 1).")
    build.add_argument("--slurm-mem-per-cpu-gb", type=int, default=2, help="Memory per CPU in GB (default 2).")
    build.add_argument("--slurm-env-command",
                       help="Shell line activating the environment on the nodes (default: this virtualenv).")
    build.add_argument("--ray-address", help="Address of a running Ray cluster (default: start a local instance).")
    build.add_argument("--no-progress", action="store_true", help="Hide progress bars.")
    build.set_defaults(func=run_build)

    push = commands.add_parser("push", help="Publish a corpus folder to the Hub as a dataset repo.")
    push.add_argument("folder", help="Corpus folder written by `coit-hf data build`.")
    push.add_argument("--repo", required=True, help="Dataset repo id, e.g. org/coit-zh.")
    push.add_argument("--private", action="store_true", help="Create the repo as private.")
    push.add_argument("--revision", help="Branch to push to (created if missing).")
    push.add_argument("--commit-message", help="Commit message.")
    push.set_defaults(func=run_push)

    mixture = commands.add_parser("mixture", help="Resolve a mixture (YAML or shorthand) and print its row counts.")
    mixture.add_argument("spec", help="Mixture YAML file, or shorthand like translation_en-zh[:1000]+alpaca_zh.")
    mixture.add_argument("--corpus", action="append", default=[], metavar="[LANG=]CORPUS",
                         help="Corpus folder or Hub id the shorthand refers to (LANG=... for m-models; repeatable).")
    mixture.add_argument("--seed", type=int, default=42, help="Mixture seed (shorthand only).")
    mixture.add_argument("--write-yaml", help="Write the resolved mixture YAML here.")
    mixture.set_defaults(func=run_mixture)
    data.set_defaults(func=lambda args: data.print_help() or 2)


def _build_config(args: argparse.Namespace):
    from coit_hf.data.build import BuildConfig
    from coit_hf.data.sources import SourceSpec
    from coit_hf.languages import load_language_file

    for path in args.languages_file:
        load_language_file(path)
    config = BuildConfig.from_yaml(args.config) if args.config else BuildConfig()
    config.languages_files.extend(str(Path(p).resolve()) for p in args.languages_file)  # the tasks load them too
    extra: list[SourceSpec] = []
    needs_target = bool(args.parallel or args.pairs or args.gettext)
    if needs_target and not args.tgt_lang:
        raise ConfigError("--tgt-lang is required with --parallel/--pairs/--gettext")
    for src_file, tgt_file in args.parallel:
        extra.append(SourceSpec(type="parallel", paths=[src_file, tgt_file], src_lang=args.src_lang,
                                tgt_lang=args.tgt_lang))
    suffix_types = {".jsonl": "jsonl", ".tsv": "tsv", ".po": "po", ".mo": "mo", ".tmx": "tmx", ".json": "json"}
    for path in args.pairs:
        kind = suffix_types.get(Path(path).suffix)
        if kind is None:
            raise ConfigError(f"cannot tell the format of {path}; use one of {', '.join(suffix_types)}")
        extra.append(SourceSpec(type=kind, path=path, src_lang=args.src_lang, tgt_lang=args.tgt_lang))
    if args.gettext:
        extra.append(SourceSpec(type="gettext", src_lang=args.src_lang, tgt_lang=args.tgt_lang, license="GPL/LGPL (per package)"))
    for item in args.alpaca:
        lang, path = split_key_value(item, "--alpaca", form="LANG=FILE")
        extra.append(SourceSpec(type="alpaca", path=path, lang=lang))
    config.sources.extend(extra)
    if args.name:
        config.name = args.name
    elif not args.config:
        config.name = Path(args.output).name
    if args.direction:
        config.direction = args.direction
    if args.validation_size is not None:
        config.validation_size = args.validation_size
    if args.decontaminate:
        config.decontamination.files.extend(args.decontaminate)
    config.__post_init__()
    return config


def _executor_options(args: argparse.Namespace):
    from coit_hf.data.executors import ExecutorOptions

    return ExecutorOptions(
        kind=args.executor, workers=args.workers, slurm_partition=args.slurm_partition, slurm_time=args.slurm_time,
        slurm_cpus_per_task=args.slurm_cpus_per_task, slurm_mem_per_cpu_gb=args.slurm_mem_per_cpu_gb,
        slurm_env_command=args.slurm_env_command, ray_address=args.ray_address,
    )


def run_build(args: argparse.Namespace) -> int:
    """Build the corpus and print the filter table."""
    from coit_hf.data.build import build_corpus, format_report_table

    options = _executor_options(args)
    config = _build_config(args)
    report = build_corpus(config, args.output, overwrite=args.overwrite, progress=not args.no_progress,
                          executor=options)
    if report.get("submitted"):
        print(f"submitted the build of {args.output} to Slurm (last job {report['job_id']}); the corpus appears "
              f"there when the jobs finish; run the same command again to resume after a failure")
        return 0
    if args.report:  # temp file + rename: a full disk never leaves half a report
        target = Path(args.report)
        try:
            write_json(target, report)
        except OSError as exc:
            raise CoitError(f"cannot write the build report {target}: {exc.strerror or exc}") from exc
    print(format_report_table(report))
    print(f"wrote {args.output} ({report['totals']['train']} train / {report['totals']['validation']} validation rows, "
          f"{report['records_per_s']} records/s)")
    return 0


def run_push(args: argparse.Namespace) -> int:
    """Push a corpus folder to the Hub."""
    from coit_hf.data.publish import push_corpus

    url = push_corpus(args.folder, args.repo, private=args.private, revision=args.revision,
                      commit_message=args.commit_message)
    print(f"pushed {args.folder} to {args.repo}: {url}")
    return 0


def run_mixture(args: argparse.Namespace) -> int:
    """Resolve a mixture and print rows per subset and source."""
    from collections import Counter

    from coit_hf.data.mixture import load_mixture, load_mixture_file, parse_shorthand
    from coit_hf.files import require_output_file

    if Path(args.spec).suffix in (".yaml", ".yml") or Path(args.spec).is_file():
        config = load_mixture_file(args.spec)
    else:
        if not args.corpus:
            raise ConfigError("a shorthand mixture needs --corpus")
        if len(args.corpus) == 1 and "=" not in args.corpus[0]:
            corpus: object = args.corpus[0]
        else:
            corpus = parse_key_values(args.corpus, "--corpus", form="LANG=FOLDER (or one folder)")
        config = parse_shorthand(args.spec, corpus, seed=args.seed)  # type: ignore[arg-type]
    if args.write_yaml:
        require_output_file(args.write_yaml, "--write-yaml")
    mixture = load_mixture(config)  # loads every part: nothing is written for a mixture that cannot be read
    if args.write_yaml:
        config.to_yaml(args.write_yaml)
    for split, dataset in mixture.items():
        counts = Counter(zip(dataset["subset"], dataset["source"], strict=True))
        print(f"{split}: {len(dataset)} rows")
        for (subset, source), count in sorted(counts.items()):
            print(f"  {subset:28} {source:40} {count}")
    return 0

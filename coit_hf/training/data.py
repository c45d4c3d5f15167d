"""Training data: a CoIT corpus (folder or Hub id, as `coit-hf data build` writes it) or a mixture YAML, reduced to
chat rows."""

from __future__ import annotations

import importlib.util
import logging
import os

from datasets import Dataset, DatasetDict, load_dataset

from coit_hf.errors import CoitError, ConfigError, InputError
from coit_hf.training.config import CoitScriptArguments

logger = logging.getLogger(__name__)


def _mixture_module():
    """``coit_hf.data.mixture`` when present in this checkout, else None."""
    if importlib.util.find_spec("coit_hf.data.mixture") is None:
        return None
    import coit_hf.data.mixture as mixture  # noqa: PLC0415 - optional stage module

    return mixture


def load_training_data(script_args: CoitScriptArguments,
                       with_eval: bool = False) -> tuple[DatasetDict, list[dict]]:
    """Load the splits named by a recipe, keeping only the messages column; also return the card's data summary.

    Precedence: ``mixture_file`` > ``mixture`` (shorthand over ``dataset_name``) > ``dataset_name`` +
    ``dataset_config``. Local folders and Hub ids go through the same ``datasets`` code path; a local folder is
    read through :func:`coit_hf.data.loading.load_corpus` (cache keyed by content, so a corpus rebuilt in place is
    read as built). Only the train split is loaded, plus the test split when ``with_eval`` (a corpus built with
    no validation rows may declare an empty one, which ``datasets`` cannot load).
    """
    if script_args.mixture_file or script_args.mixture:
        mixture = _mixture_module()
        if mixture is None:
            raise ConfigError("`mixture`/`mixture_file` need coit_hf.data.mixture, which is not installed")
        if script_args.mixture_file:
            config = mixture.load_mixture_file(script_args.mixture_file)
        else:
            if not script_args.dataset_name:
                raise ConfigError("`mixture` shorthand needs `dataset_name` (the corpus it refers to)")
            config = mixture.parse_shorthand(script_args.mixture, script_args.dataset_name)
        dataset = mixture.load_mixture(config)
        source = script_args.mixture_file or script_args.mixture
        entries = {d.subset: (str(d.path), d.name) for d in config.datasets if d.subset}
        paths = sorted({str(d.path) for d in config.datasets}) or [str(source)]
        name = None
    elif script_args.dataset_name:
        splits = [script_args.dataset_train_split]
        if with_eval and script_args.dataset_test_split not in splits:
            splits.append(script_args.dataset_test_split)
        try:
            dataset = load_splits(script_args.dataset_name, script_args.dataset_config, splits,
                                  streaming=script_args.dataset_streaming)
        except CoitError:
            raise
        except Exception as exc:  # noqa: BLE001 - any loading failure names the dataset and config
            raise InputError(f"cannot load dataset (config {script_args.dataset_config!r}): {type(exc).__name__}: "
                             f"{exc}", path=script_args.dataset_name, field="dataset_name") from exc
        source = script_args.dataset_name
        paths, name, entries = [script_args.dataset_name], script_args.dataset_config, {}
    else:
        raise ConfigError("a recipe needs `dataset_name`, `mixture` or `mixture_file`")
    dataset = select_chat_columns(dataset, script_args, source=str(source), keep=["subset"])
    summary = summarise(dataset[script_args.dataset_train_split], paths=paths, name=name, entries=entries)
    for entry in summary:  # the card keeps the corpus's language-name style; `coit-hf eval` compares it
        entry["name_style"] = _name_style(entry["path"])
    return DatasetDict({k: v.select_columns(["messages"]) for k, v in dataset.items()}), summary


def _name_style(path: str) -> str | None:
    from coit_hf.data.card import corpus_name_style  # the corpus stage's card reader

    return corpus_name_style(path) if os.path.isdir(path) else None


def load_splits(path: str, name: str | None, splits: list[str], *, streaming: bool = False) -> DatasetDict:
    """The named splits of a corpus (folder or Hub id). A split the corpus lacks is left out (the caller reports a
    missing train split); a local folder goes through ``load_corpus``."""
    from coit_hf.data.loading import load_corpus  # noqa: PLC0415 - data stage reader, content-keyed cache

    try:
        from datasets import get_dataset_split_names  # noqa: PLC0415

        available = set(get_dataset_split_names(path, name))
    except Exception:  # noqa: BLE001 - split names are a hint; loading below gives the real error
        available = None
    out = {}
    fix_eval = "build the corpus with --validation-size > 0, set `dataset_test_split`, or set `eval_strategy: \"no\"`"
    for split in splits:
        if available is not None and split not in available:
            if split != splits[0]:  # evaluation was asked for: skipping it silently would hide the mistake
                raise InputError(f"no split {split!r} to evaluate on (have: {', '.join(sorted(available))}): "
                                 f"{fix_eval}", path=path, field="dataset_test_split")
            continue
        try:
            if os.path.isdir(path):
                out[split] = load_corpus(path, name, split=split, streaming=streaming)
            else:
                out[split] = load_dataset(path, name=name, split=split, streaming=streaming)
        except ValueError as exc:
            if "corresponds to no data" not in str(exc):
                raise
            fix = "rebuild it with rows in that split" if split == splits[0] else fix_eval
            raise InputError(f"split {split!r} of config {name!r} is empty: {fix}", path=path,
                             field="dataset_train_split" if split == splits[0] else "dataset_test_split") from None
    if splits[0] not in out:
        raise InputError(f"no split {splits[0]!r} (have: {', '.join(sorted(available or []))})", path=path)
    return DatasetDict(out)


def summarise(train: Dataset, *, paths: list[str], name: str | None,
              entries: dict[str, tuple[str, str | None]] | None = None) -> list[dict]:
    """Rows per mixture subset of the training split (for the card): ``[{path, name, subset, rows}]``.

    ``entries`` maps a subset to the (path, config) of the mixture entry it came from.
    """
    path = ", ".join(paths)
    if not isinstance(train, Dataset):
        return [{"path": path, "name": name, "subset": None, "rows": None}]
    if "subset" not in train.column_names:
        return [{"path": path, "name": name, "subset": None, "rows": len(train)}]
    counts: dict[str, int] = {}
    for subset in train["subset"]:
        counts[subset] = counts.get(subset, 0) + 1
    entries = entries or {}
    return [{"path": entries.get(s, (path, name))[0], "name": entries.get(s, (path, name))[1], "subset": s, "rows": n}
            for s, n in counts.items()]


def select_chat_columns(
    dataset: DatasetDict, script_args: CoitScriptArguments, *, source: str, keep: list[str] | None = None
) -> DatasetDict:
    """Keep the conversational column as ``messages`` (TRL's conversational format) and cap the train size.

    Columns in ``keep`` survive when present (e.g. ``subset`` for the card's summary).
    """
    train_split = script_args.dataset_train_split
    if train_split not in dataset:
        raise InputError(f"no split {train_split!r} (have: {', '.join(dataset)})", path=source)
    column = script_args.messages_column
    out = {}
    for split, ds in dataset.items():
        if column not in (ds.column_names or []):
            raise InputError(
                f"split {split!r} has no column {column!r} (columns: {ds.column_names}); CoIT corpora carry "
                "`messages` built with coit_hf.templates.user_message/assistant_message",
                path=source,
                field=column,
            )
        ds = ds.select_columns([column, *[c for c in keep or [] if c in ds.column_names and c != column]])
        if column != "messages":
            ds = ds.rename_column(column, "messages")
        if split == train_split and script_args.max_train_samples is not None and isinstance(ds, Dataset):
            ds = ds.select(range(min(script_args.max_train_samples, len(ds))))
        out[split] = ds
    return DatasetDict(out)

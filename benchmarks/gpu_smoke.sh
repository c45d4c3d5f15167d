#!/usr/bin/env bash
# GPU smoke test of the training recipes: a tiny Llama (built here, < 2M parameters, pad-less tokenizer) for 3 steps
# through each distributed path the README documents, then one line per run: loss, tokens/s, peak memory, what
# output_dir holds. Budget: well under 10 minutes on one H200 (each run is a few seconds of compute plus start-up).
#
#   bash benchmarks/gpu_smoke.sh                 # on a GPU machine: all runs, as many processes as GPUs
#   bash benchmarks/gpu_smoke.sh --cpu           # CPU smoke (tests/test_benchmarks_smoke.py): 1 process, no bf16
#   bash benchmarks/gpu_smoke.sh --only zero3,ddp-pack
#   RUN_TIMEOUT=300 bash benchmarks/gpu_smoke.sh --cpu   # a slower CPU machine (default 110 s per run)
#
# Runs: zero3 (DeepSpeed ZeRO-3), fsdp2 (FSDP2, full state dict), ddp-nopack / ddp-pack (DDP, packing off/on),
# qlora-merge (4-bit QLoRA + LoRA, then `coit-hf model merge`; CUDA + bitsandbytes only, skipped otherwise).
# Exit status: 0 when every run that was not skipped trained with finite losses and saved weights.
#
# Wheels a machine without internet must be given (pip download them elsewhere for its CUDA/Python, then
# `pip install --no-index --find-links DIR ...`): torch (CUDA build), transformers, trl, peft, accelerate, datasets,
# huggingface_hub, tokenizers, safetensors, deepspeed (+ hjson, ninja, py-cpuinfo, msgpack, einops), bitsandbytes,
# pyarrow, jinja2, pyyaml, numpy, and coit-hf itself (plus its other dependencies: `pip download coit-hf[dev,bitsandbytes]`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
CPU=0
ONLY="zero3,fsdp2,ddp-nopack,ddp-pack,qlora-merge"
WORK=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) CPU=1 ;;
    --only) ONLY="$2"; shift ;;
    --work) WORK="$2"; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "gpu_smoke: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
WORK="${WORK:-$(mktemp -d -t coit-gpu-smoke.XXXXXX)}"
# Per-run limit: 5 runs x 110 s keeps the whole script under 10 minutes even if one hangs (a healthy run takes far less).
RUN_TIMEOUT="${RUN_TIMEOUT:-110}"
mkdir -p "$WORK"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1

if [ "$CPU" = 1 ]; then
  NPROC=1
else
  NPROC="$("$PY" -c 'import torch; print(max(torch.cuda.device_count(), 1))')"
fi
echo "gpu_smoke: work dir $WORK, processes per run: $NPROC, cpu mode: $CPU"

# 1. Tiny model (pad token removed: the recipe must add one, mean-initialised) and a tiny CoIT corpus.
"$PY" - "$ROOT" "$WORK" <<'EOF'
import json, sys
from pathlib import Path
from coit_hf.cli import main
from coit_hf.tiny_model import build_tiny_model, collect_texts

root, work = Path(sys.argv[1]), Path(sys.argv[2])
fixtures = root / "tests" / "fixtures"
model = work / "tiny-padless"
if not model.exists():
    build_tiny_model(model, collect_texts([fixtures / "udhr_sample_7way.jsonl"]))
    cfg = json.loads((model / "tokenizer_config.json").read_text()); cfg.pop("pad_token", None)
    (model / "tokenizer_config.json").write_text(json.dumps(cfg))
    tok = json.loads((model / "tokenizer.json").read_text())
    for added in tok["added_tokens"]:
        if added["content"] == "<pad>":
            added["content"] = "<unused0>"
    tok["model"]["vocab"]["<unused0>"] = tok["model"]["vocab"].pop("<pad>")
    (model / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False))
    for name in ("config.json", "generation_config.json"):
        data = json.loads((model / name).read_text()); data.pop("pad_token_id", None)
        (model / name).write_text(json.dumps(data))
corpus = work / "corpus"
if not corpus.exists():
    assert main(["data", "build", "--output", str(corpus), "--no-progress", "--tgt-lang", "zh", "--validation-size",
                 "1", "--pairs", str(fixtures / "udhr_sample_7way.jsonl"), "--alpaca",
                 f"zh={fixtures / 'alpaca_zh.jsonl'}"]) == 0
EOF

# 2. One accelerate config per run, edited for this machine (process count; bf16 only on GPU).
launch_config() {  # NAME -> path of the edited copy
  "$PY" - "$ROOT/recipes/accelerate_configs/$1.yaml" "$WORK/launch-$1.yaml" "$NPROC" "$CPU" <<'EOF'
import sys, yaml
src, dst, nproc, cpu = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
config = yaml.safe_load(open(src))
config.update(num_processes=nproc, num_machines=1, machine_rank=0)
config.pop("main_process_ip", None)
if cpu:
    config.update(use_cpu=True, mixed_precision="no")
yaml.safe_dump(config, open(dst, "w"))
EOF
  echo "$WORK/launch-$1.yaml"
}

COMMON=(--model_name_or_path "$WORK/tiny-padless" --dataset_name "$WORK/corpus" --max_steps 3 --logging_steps 1
        --save_strategy no --report_to none)
if [ "$CPU" = 1 ]; then
  COMMON+=(--use_cpu true --bf16 false --dtype float32)
else
  COMMON+=(--bf16 true --dtype float32)  # fp32 master weights, bf16 autocast
fi

peak_sampler() {  # background: highest GPU memory in use (MiB) until killed
  if command -v nvidia-smi >/dev/null 2>&1 && [ "$CPU" = 0 ]; then
    local max=0
    while true; do
      for v in $(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null); do
        [ "$v" -gt "$max" ] && max=$v && echo "$max" > "$1"
      done
      sleep 0.2
    done
  fi
}

SUMMARY="$WORK/summary.jsonl"
: > "$SUMMARY"
run() {  # NAME COMMAND... : run one training, then summarise its log and output_dir
  local name=$1; shift
  local log="$WORK/$name.log" peak="$WORK/$name.peak" rc=0
  echo "gpu_smoke: [$name] $*"
  peak_sampler "$peak" & local sampler=$!
  if [ -x /usr/bin/time ]; then
    timeout "$RUN_TIMEOUT" /usr/bin/time -v -o "$WORK/$name.time" "$@" > "$log" 2>&1 || rc=$?
  else
    timeout "$RUN_TIMEOUT" "$@" > "$log" 2>&1 || rc=$?
  fi
  if [ "$rc" = 124 ]; then echo "gpu_smoke: [$name] stopped after ${RUN_TIMEOUT}s (RUN_TIMEOUT)"; fi
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  "$PY" - "$name" "$log" "$WORK/out-$name" "$peak" "$WORK/$name.time" "$rc" >> "$SUMMARY" <<'EOF'
import json, math, os, re, sys
name, log, out, peak, timing, rc = sys.argv[1:]
text = open(log, errors="replace").read()
losses = [float(x) for x in re.findall(r"'loss': '([^']+)'", text)]
tokens = [float(x) for x in re.findall(r"'num_tokens': '([^']+)'", text)]
runtime = re.findall(r"'train_runtime': '([^']+)'", text)
rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(timing).read()) if os.path.exists(timing) else None
saved = {}
for folder, _, files in os.walk(out):
    for f in files:
        if f.endswith((".safetensors", ".bin")) and f != "training_args.bin" and "checkpoint-" not in folder:
            saved[os.path.relpath(os.path.join(folder, f), out)] = os.path.getsize(os.path.join(folder, f))
ok = rc == "0" and bool(losses) and all(math.isfinite(x) for x in losses) and bool(saved)
print(json.dumps({"run": name, "ok": ok, "exit": int(rc), "losses": losses,
                  "tokens_per_s": round(tokens[-1] / float(runtime[0]), 1) if tokens and runtime else None,
                  "peak_gpu_mib": int(open(peak).read()) if os.path.exists(peak) else None,
                  "peak_rss_mib": round(int(rss.group(1)) / 1024) if rss else None, "saved": saved}))
EOF
  tail -1 "$SUMMARY"
}

LAUNCH=("$PY" -m accelerate.commands.launch)
wants() { [[ ",$ONLY," == *",$1,"* ]]; }

if wants zero3; then
  if "$PY" -c "import deepspeed" 2>/dev/null; then
    run zero3 "${LAUNCH[@]}" --config_file "$(launch_config zero3)" "$ROOT/recipes/sft_coit.py" \
      --config "$ROOT/recipes/demo/tiny.yaml" "${COMMON[@]}" --output_dir "$WORK/out-zero3"
  else
    echo '{"run": "zero3", "ok": null, "skipped": "deepspeed not installed (pip install coit-hf[deepspeed])"}' | tee -a "$SUMMARY"
  fi
fi
if wants fsdp2; then
  run fsdp2 "${LAUNCH[@]}" --config_file "$(launch_config fsdp2)" "$ROOT/recipes/sft_coit.py" \
    --config "$ROOT/recipes/demo/tiny.yaml" "${COMMON[@]}" --output_dir "$WORK/out-fsdp2"
fi
if wants ddp-nopack; then
  run ddp-nopack "${LAUNCH[@]}" --config_file "$(launch_config ddp)" "$ROOT/recipes/sft_coit.py" \
    --config "$ROOT/recipes/demo/tiny.yaml" "${COMMON[@]}" --packing false --output_dir "$WORK/out-ddp-nopack"
fi
if wants ddp-pack; then
  run ddp-pack "${LAUNCH[@]}" --config_file "$(launch_config ddp)" "$ROOT/recipes/sft_coit.py" \
    --config "$ROOT/recipes/demo/tiny.yaml" "${COMMON[@]}" --packing true --packing_strategy bfd \
    --output_dir "$WORK/out-ddp-pack"
fi
if wants qlora-merge; then
  if [ "$CPU" = 0 ] && "$PY" -c "import bitsandbytes, torch; assert torch.cuda.is_available()" 2>/dev/null; then
    # one process: the merge loads the full base model (multi-process runs merge afterwards, as here)
    run qlora-merge "$PY" "$ROOT/recipes/sft_coit.py" --config "$ROOT/recipes/demo/tiny-lora.yaml" "${COMMON[@]}" \
      --load_in_4bit true --bnb_4bit_quant_type nf4 --bnb_4bit_quant_storage bfloat16 --merge_adapter true \
      --output_dir "$WORK/out-qlora-merge"
    "$PY" -m coit_hf.cli model merge "$WORK/out-qlora-merge" --out "$WORK/out-qlora-merge/merged-cli" --overwrite \
      > "$WORK/qlora-merge-cli.log" 2>&1 && echo "gpu_smoke: [qlora-merge] coit-hf model merge ok" \
      || { echo "gpu_smoke: [qlora-merge] coit-hf model merge FAILED (see $WORK/qlora-merge-cli.log)"; echo '{"run": "qlora-merge-cli", "ok": false}' >> "$SUMMARY"; }
  else
    echo '{"run": "qlora-merge", "ok": null, "skipped": "needs CUDA and bitsandbytes (pip install coit-hf[bitsandbytes])"}' | tee -a "$SUMMARY"
  fi
fi

# 3. Summary table; the exit status says whether every run that ran was healthy.
"$PY" - "$SUMMARY" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print(f"{'run':<12} {'ok':<6} {'last loss':>10} {'tok/s':>10} {'GPU MiB':>8} {'RSS MiB':>8}  saved")
for r in rows:
    if r.get("skipped"):
        print(f"{r['run']:<12} {'skip':<6} {r['skipped']}")
        continue
    loss = f"{r['losses'][-1]:.4f}" if r.get("losses") else "-"
    saved = ", ".join(f"{k} ({v / 1e6:.1f} MB)" for k, v in (r.get("saved") or {}).items()) or "NOTHING"
    print(f"{r['run']:<12} {str(r['ok']):<6} {loss:>10} {str(r.get('tokens_per_s')):>10} "
          f"{str(r.get('peak_gpu_mib')):>8} {str(r.get('peak_rss_mib')):>8}  {saved}")
sys.exit(0 if all(r.get("ok") is not False for r in rows) else 1)
EOF

#!/usr/bin/env bash
# The ablation of docs/ablation.md: short CPU runs on real data (Nottingham), every setting that
# matters pinned on the command line so later edits of the registry do not change the numbers.
#   scripts/ablation.sh [train|eval|all]          (default: all)
#   SEEDS="0 1" STEPS_MEL=300 scripts/ablation.sh  (more seeds, longer runs)
#   PAIRS="mel_long roll_long" scripts/ablation.sh          (second stage of docs/ablation.md)
#   PAIRS="melb_tf melb_ss roll_bow" scripts/ablation.sh    (third stage)
#   SEEDS="0 1" PAIRS="roll_q1_vae roll_q1_bar" scripts/ablation.sh   (fourth: MuseBar's 4 frames per bar)
#   PAIRS="drums_tf drums_ss" scripts/ablation.sh          (fifth: scheduled sampling on 2-bar drums)
# The pairs named in PAIRS train side by side (one torch thread each). Outputs: runs/ablation/<run>_s<seed>/
# (checkpoint.pt, metrics.jsonl) and runs/ablation/<run>_s<seed>.json (python -m training.evaluate).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-runs/ablation}
SEEDS=${SEEDS:-0}
STEPS_MEL=${STEPS_MEL:-300}
STEPS_ROLL=${STEPS_ROLL:-300}
STEPS_NOTES=${STEPS_NOTES:-150}
STEPS_LONG=${STEPS_LONG:-1000}
STEPS_MELB=${STEPS_MELB:-2000}
STEPS_Q1=${STEPS_Q1:-2000}
STEPS_DRUMS=${STEPS_DRUMS:-2000}
PAIRS=${PAIRS:-mel roll notes}
WHAT=${1:-all}
COMMON="--threads 1 --batch-size 32 --quiet --set train.eval_every=0 --set train.checkpoint_every=100"

# datasets (python -m training.prepare), built once
[ -d data/mel_2bar ] || $PY -m training.prepare shared:nottingham data/mel_2bar --kind mel --bars 2
[ -d data/nottingham_pianoroll ] || $PY -m training.prepare shared:nottingham/full data/nottingham_pianoroll --kind pianoroll --bars 2
[ -d data/nottingham_roll_q1 ] || $PY -m training.prepare shared:nottingham/full data/nottingham_roll_q1 --kind pianoroll --bars 16 --steps-per-quarter 1
[ -d data/drums_2bar ] || $PY -m training.prepare shared:groove data/drums_2bar --kind drums --bars 2
[ -d data/nottingham_notes ] || $PY -m training.prepare shared:nottingham/full data/nottingham_notes --kind notes --notes 100

MEL="--set model.enc_rnn_size=[128] --set model.dec_rnn_size=[128] --set model.z_size=64 --set model.free_bits=0 --set model.max_beta=0.2 --set model.kl_schedule=magenta --set model.beta_rate=0.999"
ROLL="--set model.hidden_size=128 --set model.layers=2 --set model.z_size=32 --set model.steps_per_bar=16 --set model.kl_schedule=constant --set model.max_beta=1.0"
# long stage: smaller and faster models, higher learning rate, 1000 steps
MEL_LONG="--set model.enc_rnn_size=[64] --set model.dec_rnn_size=[64] --set model.z_size=32 --set model.free_bits=0 --set model.max_beta=0.2 --set model.kl_schedule=magenta --set model.beta_rate=0.995 --set train.learning_rate=0.003"
ROLL_LONG="--set model.hidden_size=64 --set model.layers=2 --set model.z_size=32 --set model.steps_per_bar=16 --set model.kl_schedule=constant --set model.max_beta=1.0 --set train.learning_rate=0.003"
# third stage: 2-bar melody with a lighter KL weight (z gets used sooner), and KL annealing (BOW)
MEL_B="--set model.enc_rnn_size=[64] --set model.dec_rnn_size=[64] --set model.z_size=32 --set model.free_bits=0 --set model.max_beta=0.05 --set model.kl_schedule=magenta --set model.beta_rate=0.999 --set train.learning_rate=0.003"
ROLL_BOW="--set model.hidden_size=64 --set model.layers=2 --set model.z_size=32 --set model.steps_per_bar=16 --set model.kl_schedule=linear --set model.kl_anneal_steps=1000 --set model.max_beta=1.0 --set train.learning_rate=0.003"
# fourth stage: MuseBar's own setting, 4 frames per 4/4 bar (16-bar, 64-frame rolls), KL at every 2nd bar
ROLL_Q1="--set model.hidden_size=64 --set model.layers=2 --set model.z_size=32 --set model.steps_per_bar=4 --set model.kl_schedule=constant --set model.max_beta=1.0 --set train.learning_rate=0.003"
# fifth stage: 2-bar drums, the shipped drums_2bar's settings (it shows a next-step/free-running gap)
DRUMS="--set model.z_size=64 --set model.enc_rnn_size=[128] --set model.dec_rnn_size=[128] --set model.free_bits=12 --set model.max_beta=0.2 --set train.decay_rate=0.9995"
NOTES="--set model.hidden_size=64 --set model.embed_size=32 --set model.z_size=32 --set model.kl_schedule=linear --set model.kl_anneal_steps=100 --set model.max_beta=1.0"

# pair | run name | config | data | steps | settings
RUNS=(
  "mel|mel_tf|lb-mel_2bar|data/mel_2bar|$STEPS_MEL|$MEL --set model.sampling_schedule=constant --set model.sampling_rate=0"
  "mel|mel_ss|lb-mel_2bar|data/mel_2bar|$STEPS_MEL|$MEL --set model.sampling_schedule=constant --set model.sampling_rate=0.5"
  "roll|roll_lstmvae|lb-pianoroll_lstmvae|data/nottingham_pianoroll|$STEPS_ROLL|$ROLL --set model.barwise_every=0"
  "roll|roll_musebar|lb-pianoroll_musebar|data/nottingham_pianoroll|$STEPS_ROLL|$ROLL --set model.barwise_every=1"
  "notes|notes_unroll|lb-notes_modular|data/nottingham_notes|$STEPS_NOTES|$NOTES --set model.unroll=true"
  "notes|notes_nounroll|lb-notes_modular|data/nottingham_notes|$STEPS_NOTES|$NOTES --set model.unroll=false"
  "mel_long|mel_long_tf|lb-mel_2bar|data/mel_2bar|$STEPS_LONG|$MEL_LONG --set model.sampling_schedule=constant --set model.sampling_rate=0"
  "mel_long|mel_long_ss|lb-mel_2bar|data/mel_2bar|$STEPS_LONG|$MEL_LONG --set model.sampling_schedule=inverse_sigmoid --set model.sampling_rate=100"
  "roll_long|roll_long_lstmvae|lb-pianoroll_lstmvae|data/nottingham_pianoroll|$STEPS_LONG|$ROLL_LONG --set model.barwise_every=0"
  "roll_long|roll_long_musebar|lb-pianoroll_musebar|data/nottingham_pianoroll|$STEPS_LONG|$ROLL_LONG --set model.barwise_every=1"
  "melb_tf|melb_tf|lb-mel_2bar|data/mel_2bar|$STEPS_MELB|$MEL_B --set model.sampling_schedule=constant --set model.sampling_rate=0"
  "melb_ss|melb_ss|lb-mel_2bar|data/mel_2bar|$STEPS_MELB|$MEL_B --set model.sampling_schedule=inverse_sigmoid --set model.sampling_rate=200"
  "roll_q1_vae|roll_q1_lstmvae|lb-pianoroll_lstmvae|data/nottingham_roll_q1|$STEPS_Q1|$ROLL_Q1 --set model.barwise_every=0"
  "roll_q1_bar|roll_q1_musebar|lb-pianoroll_musebar|data/nottingham_roll_q1|$STEPS_Q1|$ROLL_Q1 --set model.barwise_every=2"
  "drums_tf|drums_tf|lb-drums_2bar|data/drums_2bar|$STEPS_DRUMS|$DRUMS --set model.sampling_schedule=constant --set model.sampling_rate=0"
  "drums_ss|drums_ss|lb-drums_2bar|data/drums_2bar|$STEPS_DRUMS|$DRUMS --set model.sampling_schedule=inverse_sigmoid --set model.sampling_rate=200"
  "roll_bow|roll_bow_vae|lb-pianoroll_vae_bow|data/nottingham_pianoroll|$STEPS_LONG|$ROLL_BOW --set model.barwise_every=0"
  "roll_bow|roll_bow_musebar|lb-pianoroll_musebar_bow|data/nottingham_pianoroll|$STEPS_LONG|$ROLL_BOW --set model.barwise_every=1"
)

run_pair() {  # train (and/or evaluate) every run of one pair, one after the other
  local pair=$1 seed=$2
  for run in "${RUNS[@]}"; do
    IFS='|' read -r p name config data steps settings <<< "$run"
    [ "$p" = "$pair" ] || continue
    dir="$OUT/${name}_s$seed"
    if [ "$WHAT" != eval ]; then
      # shellcheck disable=SC2086
      $PY -m training.train "$config" --data "$data" --out "$dir" --steps "$steps" --seed "$seed" $COMMON $settings
    fi
    if [ "$WHAT" != train ]; then
      examples=256; [ "$pair" = notes ] && examples=64
      split=test; [ "$data" = data/drums_2bar ] && split=valid   # Groove's shared copy has no test split
      $PY -m training.evaluate "$dir" --data "$data" --split "$split" --max-examples "$examples" \
        --samples 32 --pairs 4 --seed "$seed" --threads 1 --quiet --json "$dir.json" > "$dir.txt"
    fi
  done
}

for seed in $SEEDS; do
  pids=()
  mkdir -p "$OUT"
  for pair in $PAIRS; do
    run_pair "$pair" "$seed" > "$OUT.$pair.$seed.log" 2>&1 &
    pids+=($!)
  done
  status=0
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  [ $status = 0 ] || { echo "a run failed: see $OUT.*.log" >&2; exit 1; }
done
$PY - "$OUT" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
rows = []
for path in sorted(out.glob("*.json")):
    r = json.loads(path.read_text())
    a, l = r["accuracy"], r["latent"]
    rows.append(f"| {path.stem} | {a['next_step']:.3f} | {a['reconstruction']:.3f} | "
                f"{r['recon_loss']:.2f} | {l['kl']:.2f} | {l['mutual_information']:.2f} | "
                f"{l['active_units']}/{l['z_size']} |")
if rows:
    print("| run | next-step acc | recon acc | recon loss | KL | MI | active units |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
PY

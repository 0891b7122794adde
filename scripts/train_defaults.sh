#!/usr/bin/env bash
# The exact commands that trained and exported the shipped models in runtime/models/<name>/.
#   scripts/train_defaults.sh                 # all nine, two at a time
#   scripts/train_defaults.sh mel_2bar        # one of: mel_2bar drums_2bar mel_16bar trio_16bar notes_poly
#                                             #   groove_2bar drumify_2bar hier_mel_16bar hier_trio_16bar
# Model sizes and schedules are pinned here (--set) so later edits of the config registry do not
# change what these commands produce. Runs go to runs/<name>/ (checkpoint.pt, metrics.jsonl);
# rerunning a command continues from its checkpoint. Each run uses one torch thread: the shipped
# models were trained on a shared 2-core CPU (see the step counts: short, CPU-sized runs).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
TRAIN="$PY -m training.train"
EXPORT="$PY -m training.export"

# -- datasets (python -m training.prepare; docs/data.md), built once -------------------------------
dataset() {
  case $1 in
    mel_2bar)   [ -f data/mel_2bar/manifest.json ]   || $PY -m training.prepare shared:nottingham data/mel_2bar --kind mel --bars 2
                # stage 3's 7.7x larger training set: Nottingham + music21's folk tunes (its Nottingham
                # tunes fall in the same splits by name, so data/mel_2bar's test tunes stay unseen)
                [ -f data/mel_2bar_folk/manifest.json ] || $PY -m training.prepare shared:nottingham music21:essenFolksong music21:oneills1850 music21:ryansMammoth data/mel_2bar_folk --kind mel --bars 2 --fold-2-4 ;;
    drums_2bar) [ -f data/drums_2bar/manifest.json ] || $PY -m training.prepare shared:groove data/drums_2bar --kind drums --bars 2
                # stage 4's 1-bar windows (the same takes in each split: Groove's own)
                [ -f data/drums_1bar/manifest.json ] || $PY -m training.prepare shared:groove data/drums_1bar --kind drums --bars 1 ;;
    mel_16bar|hier_mel_16bar)  [ -f data/mel_16bar/manifest.json ]  || $PY -m training.prepare shared:nottingham data/mel_16bar --kind mel --bars 16
                # the training set since 6 Dec: Nottingham + music21's folk tunes (~20 min of music21)
                [ -f data/mel_16bar_folk/manifest.json ] || $PY -m training.prepare shared:nottingham music21:essenFolksong music21:oneills1850 music21:ryansMammoth data/mel_16bar_folk --kind mel --bars 16 --fold-2-4 ;;
    trio_16bar|hier_trio_16bar) [ -f data/trio_16bar/manifest.json ] || $PY -m training.prepare music21:bach music21:haydn music21:mozart music21:beethoven music21:monteverdi data/trio_16bar --kind trio --bars 16 --trio-voices --trio-without-drums
                # the training set since 6 Dec: Nottingham's tunes (the chord track's lowest notes as the bass) + the above
                [ -f data/trio_16bar_nott/manifest.json ] || $PY -m training.prepare shared:nottingham/full music21:bach music21:haydn music21:mozart music21:beethoven music21:monteverdi data/trio_16bar_nott --kind trio --bars 16 --trio-voices --trio-without-drums ;;
    notes_poly) [ -f data/nottingham_notes/manifest.json ] || $PY -m training.prepare shared:nottingham/full data/nottingham_notes --kind notes --notes 100
                # stage 4's 25-note windows (the same dictionaries: the same tunes)
                [ -f data/nottingham_notes25/manifest.json ] || $PY -m training.prepare shared:nottingham/full data/nottingham_notes25 --kind notes --notes 25 ;;
    # one dataset of played grooves for both GrooVAEs (the config picks the input transform)
    groove_2bar|drumify_2bar) [ -f data/groove_2bar/manifest.json ] || $PY -m training.prepare shared:groove data/groove_2bar --kind groove --bars 2 ;;
  esac
}

COMMON="--threads 1 --quiet"
# mel_2bar (retrained 5 Dec): 1x256 encoder, 2x256 decoder, z 128, Magenta's 48 free bits, inverse
# sigmoid scheduled sampling (rate 2000), learning rate 3e-3 decayed by 0.9998 a step
MEL2="--set model.z_size=128 --set model.enc_rnn_size=[256] --set model.dec_rnn_size=[256,256] --set model.free_bits=48 --set model.max_beta=0.2 --set model.beta_rate=0.999 --set model.kl_schedule=magenta --set train.batch_size=64 --set train.decay_rate=0.9998 --set train.learning_rate=0.003 --set model.sampling_schedule=inverse_sigmoid --set model.sampling_rate=2000 --set train.checkpoint_every=500 --set train.eval_every=500"
# drums_2bar (6 Dec): z 128, 1x128 encoder, 2x256 decoder (7.7 MB; trained 5 Dec, best.pt = step 7500), Magenta's
# 48 free bits and scheduled sampling (inverse sigmoid 1000), lr 3e-3; then stage 2: scheduled sampling at 1.0
# (free-running) at lr 5e-4 for 2000 steps. Groove alone limits it: the 1 Dec 1x128 model reached hit F1 0.772
DRUMS2="--set model.z_size=128 --set model.enc_rnn_size=[128] --set model.dec_rnn_size=[256,256] --set model.free_bits=48 --set model.max_beta=0.2 --set model.beta_rate=0.999 --set train.batch_size=64 --set train.decay_rate=0.9998 --set train.learning_rate=0.003 --set model.sampling_schedule=inverse_sigmoid --set model.sampling_rate=1000 --set train.checkpoint_every=500 --set train.eval_every=500 --set train.eval_batches=8"
DRUMS2_SS="$DRUMS2 --set train.learning_rate=0.0005 --set model.sampling_rate=1 --set train.sample_every=0"
# drums_2bar stage 3 (6 Dec, late morning): 128 free bits (the KL sat at the 48: 37 nats), lr 1e-3, 4000
# steps: validation hit F1 0.791 -> 0.805; 256 free bits, word dropout or more steps: no better
DRUMS2_FB="$DRUMS2_SS --set model.free_bits=128 --set train.learning_rate=0.001"
# mel_16bar (retrained 5 Dec, evening): Magenta's hierarchical encoder (a bidirectional 256 LSTM per
# bar, another over the 16 bar embeddings), conductor + bar decoder of 256, z 256, 256 free bits
# (Magenta's hierdec/hier-mel_16bar value), learning rate 2e-3 decayed by 0.9999 a step, and a
# batch-normalised mu (BN-VAE) with Glorot-initialised latent layers: without those two the encoder
# gave every window the same z within 200 steps (docs/training.md, "The 16-bar models")
HIER16="--set model.latent_init_stddev=0 --set model.mu_batch_norm=1.0 --set model.z_size=256 --set model.enc_level_lengths=[16,16] --set model.enc_rnn_size=[256,256] --set model.dec_rnn_size=[256] --set model.free_bits=256 --set model.max_beta=0.2 --set model.beta_rate=0.9995 --set train.batch_size=32 --set train.decay_rate=0.9999 --set train.learning_rate=0.002 --set train.checkpoint_every=250 --set train.eval_every=250"
# mel_16bar stage 2 (6 Dec, morning): scheduled sampling (inverse sigmoid 150: ~1.0 by step 1500), lr 1e-3
HIER16_SS="$HIER16 --set model.sampling_schedule=inverse_sigmoid --set model.sampling_rate=150 --set train.learning_rate=0.001 --set train.sample_every=0"
# trio_16bar since 6 Dec (midday; the 5 Dec one, trained from scratch on data/trio_16bar, read no z): started from mel_16bar's stage 2 (training/transfer.py: its encoder
# reads the trio's melody, its conductor and bar decoder become the melody decoder and start the bass
# decoder); those stay frozen, batch norm statistics too (train.freeze), while the bass and drums decoders
# learn; no transposition (mel_16bar's latent is normalised on untransposed tunes), scheduled sampling
# at 1.0 (free-running), lr 5e-4
TRIO16_MEL="$HIER16 --set train.learning_rate=0.0005 --set train.sample_every=0 --set model.sampling_schedule=inverse_sigmoid --set model.sampling_rate=1 --set train.freeze=[encoder,mu,sigma,mu_norm,conductor_initial_state,conductor,decoders.0] --set train.freeze_steps=0 --set data.transpose=[0,0]"
# notes_poly (retrained 5 Dec): GRUs of 160, embeddings of 48, z 96 (8.5 MB of weights), 128 free
# bits (the old beta-1 recipe without them collapsed to 4.8 nats), beta annealed to 0.5 over 3000
# steps, learning rate 2e-3 decayed by 0.9998, pitches transposed by -5..5 semitones at load time
NOTES="--set model.hidden_size=160 --set model.embed_size=48 --set model.z_size=96 --set model.free_bits=128 --set model.max_beta=0.5 --set model.kl_anneal_steps=3000 --set train.batch_size=32 --set train.learning_rate=0.002 --set train.decay_rate=0.9998 --set train.checkpoint_every=250 --set train.eval_every=250 --set train.eval_batches=8 --set data.transpose=[-5,5]"
# mel_2bar stage 2 (6 Dec): --init-from the 18000-step run, 16 free bits, beta up to 0.5, scheduled
# sampling restarted (inverse sigmoid 400: ~1.0 by step 4000), lr 1e-3; 0.57 -> 0.74 steady paths
MEL2_FT="--set model.z_size=128 --set model.enc_rnn_size=[256] --set model.dec_rnn_size=[256,256] --set model.kl_schedule=magenta --set model.beta_rate=0.999 --set train.batch_size=64 --set train.decay_rate=0.9998 --set train.learning_rate=0.001 --set model.sampling_schedule=inverse_sigmoid --set model.sampling_rate=400 --set train.checkpoint_every=500 --set train.eval_every=500 --set train.sample_every=0 --set model.free_bits=16 --set model.max_beta=0.5"
# mel_2bar stage 3 (6 Dec, morning): --init-from stage 2 on data/mel_2bar_folk, lr 5e-4, scheduled sampling
# at 1.0 from the start (free-running), the rest as stage 2; 0.74 -> 0.81 steady paths, F1 0.862 -> 0.870
MEL2_FOLK="$MEL2_FT --set train.learning_rate=0.0005 --set model.sampling_rate=1"
# notes_poly stages 2-3 (6 Dec): 512 free bits (the KL sat at the 128), lr 1.5e-3; then scheduled sampling
NOTES_FT="--set model.hidden_size=160 --set model.embed_size=48 --set model.z_size=96 --set model.max_beta=0.5 --set model.kl_anneal_steps=3000 --set train.batch_size=32 --set train.learning_rate=0.0015 --set train.decay_rate=0.9998 --set train.checkpoint_every=250 --set train.eval_every=250 --set train.eval_batches=8 --set data.transpose=[-5,5] --set model.free_bits=512"
NOTES_SS="--set model.sampling_schedule=inverse_sigmoid --set model.sampling_rate=200"
# groove_2bar and drumify_2bar (GrooVAE, trained 5 Dec: stopped at 15000 / 8500 steps, best.pt at 9500 / 5500): 1x256 bidirectional encoder, 2x256
# decoder, z 128 (~7 MB), 48 free bits, beta 0.2 reached over ~3k steps, decoder/encoder input
# dropout 0.3 (Magenta's groovae: 0.7), velocity and offset errors on the played hits only,
# teacher forcing (as Magenta's GrooVAE), learning rate 3e-3 decayed by 0.9998; one step of
# batch 64 took 0.36 s on a core shared with two other runs (measured 5 Dec): 20000 steps ~2 h
GROOVE2="--set model.z_size=128 --set model.enc_rnn_size=[256] --set model.dec_rnn_size=[256,256] --set model.free_bits=48 --set model.max_beta=0.2 --set model.beta_rate=0.999 --set model.dropout=0.3 --set model.mse_on_hits_only=true --set train.batch_size=64 --set train.decay_rate=0.9998 --set train.learning_rate=0.003 --set train.checkpoint_every=500 --set train.eval_every=500 --set train.eval_batches=8"
# every shipped bundle then records its benchmark (full test split, baselines) in model.json;
# a 4th argument: the training set for the baselines when the model learnt from another folder
bench() {
  $PY -m training.evaluate "runtime/models/$1" --data "$2" ${4:+--train-data "$4"} --split "$3" --quiet --record
}

train_one() {
  dataset "$1"
  case $1 in
    mel_2bar)
      $TRAIN lb-mel_2bar --data data/mel_2bar --out runs/mel_2bar --steps 18000 $COMMON $MEL2
      # stage 2 (6 Dec): fine-tuned for steadier interpolation (docs/training.md)
      $TRAIN lb-mel_2bar --data data/mel_2bar --out runs/mel2_ft16 --steps 11000 $COMMON $MEL2_FT --init-from runs/mel_2bar/checkpoint.pt
      # stage 3 (6 Dec, morning): the same on Nottingham + folk tunes, step 6000 picked on validation
      $TRAIN lb-mel_2bar --data data/mel_2bar_folk --out runs/mel2_folk --steps 6000 $COMMON $MEL2_FOLK --init-from runs/mel2_ft16/checkpoint.pt
      $EXPORT runs/mel2_folk/checkpoint.pt runtime/models/mel_2bar --data data/mel_2bar_folk
      bench mel_2bar data/mel_2bar test data/mel_2bar_folk ;;   # Nottingham's test tunes; baselines from its training set
    drums_2bar)
      # validation loss lowest at step 7500 (best.pt); stage 2 from there, step 2000 picked on validation
      $TRAIN lb-drums_2bar --data data/drums_2bar --out runs/drums_2bar_big --steps 8500 $COMMON $DRUMS2
      $TRAIN lb-drums_2bar --data data/drums_2bar --out runs/drums_ss --steps 2000 $COMMON $DRUMS2_SS --init-from runs/drums_2bar_big/best.pt
      # stage 3 (the shipped one started from the stage-2 bundle itself: --init-from runtime/models/drums_2bar)
      $TRAIN lb-drums_2bar --data data/drums_2bar --out runs/drums_fb128 --steps 4000 $COMMON $DRUMS2_FB --init-from runs/drums_ss/checkpoint.pt
      # stage 4 (6 Dec, afternoon): the same weights on 1-bar windows (best.pt: step 2500) -> drums_1bar;
      # drums_2bar is two drums_1bar codes and an LSTM prior over them (training/segments.py)
      $TRAIN lb-drums_2bar --data data/drums_1bar --out runs/drums1_ft --steps 4000 $COMMON $DRUMS2_FB --init-from runs/drums_fb128/checkpoint.pt
      $EXPORT runs/drums1_ft/best.pt runtime/models/drums_1bar --data data/drums_1bar
      $PY -m training.segments runtime/models/drums_1bar --data data/drums_2bar --out runs/drums_seg --steps 4000 --layers 1 $COMMON --export runtime/models/drums_2bar
      bench drums_1bar data/drums_1bar valid
      bench drums_2bar data/drums_2bar valid ;;   # Groove has no test split: its validation split
    mel_16bar)
      # since 6 Dec (afternoon): mel_2bar window by window, an LSTM prior over its eight 2-bar codes
      # (training/segments.py; docs/training.md "16 bars from 2-bar codes"), on mel_2bar's bundle
      $PY -m training.segments runtime/models/mel_2bar --data data/mel_16bar_folk --out runs/mel16_seg --steps 4000 --layers 1 --prior-scale 0.55 $COMMON --export runtime/models/mel_16bar
      bench mel_16bar data/mel_16bar test data/mel_16bar_folk ;;   # Nottingham's test tunes; baselines from its training set
    trio_16bar)
      # the same with two codes per 2 bars, the melody's and the bass's, both through mel_2bar
      $PY -m training.segments runtime/models/mel_2bar --data data/trio_16bar_nott --parts melody,bass --out runs/trio_seg --steps 4000 --layers 1 --prior-scale 0.55 $COMMON --export runtime/models/trio_16bar
      bench trio_16bar data/trio_16bar_nott test ;;
    hier_mel_16bar)
      # the one-code hierarchical MusicVAE (shipped as mel_16bar until 6 Dec, afternoon)
      # on Nottingham + folk tunes: validation loss lowest at step 3250 (best.pt, the starting point)
      $TRAIN lb-mel_16bar --data data/mel_16bar_folk --out runs/mel_16bar_folk --steps 3500 $COMMON $HIER16
      # stage 2 (6 Dec, morning): scheduled sampling, step 4000 picked on Nottingham's validation split
      $TRAIN lb-mel_16bar --data data/mel_16bar_folk --out runs/mel16_ss_folk --steps 4000 $COMMON $HIER16_SS --init-from runs/mel_16bar_folk/best.pt
      $EXPORT runs/mel16_ss_folk/checkpoint.pt runtime/models/hier_mel_16bar --data data/mel_16bar_folk --eval-windows 64
      $PY -m training.float16 runtime/models/hier_mel_16bar     # 14.9 -> 7.5 MB
      bench hier_mel_16bar data/mel_16bar test data/mel_16bar_folk ;;
    hier_trio_16bar)
      # starts from hier_mel_16bar's stage 2 (step 4000): train that first
      [ -f runs/mel16_ss_folk/checkpoint.pt ] || train_one hier_mel_16bar
      # step 500 picked on validation (bass F1 on 256 windows: 0.355 at 500, 0.341 at 750, 0.350 at 1000)
      $TRAIN lb-trio_16bar --data data/trio_16bar_nott --out runs/trio_16bar_mel --steps 500 $COMMON $TRIO16_MEL --init-from runs/mel16_ss_folk/checkpoint.pt
      $EXPORT runs/trio_16bar_mel/checkpoint.pt runtime/models/hier_trio_16bar --data data/trio_16bar_nott --eval-windows 123
      $PY -m training.float16 runtime/models/hier_trio_16bar --int8   # 24.1 -> 6.2 MB (float16: 12.1)
      bench hier_trio_16bar data/trio_16bar_nott test ;;
    notes_poly)
      $TRAIN lb-notes_modular --data data/nottingham_notes --out runs/notes_poly --steps 2250 $COMMON $NOTES
      # stages 2 and 3 (6 Dec): 512 free bits, then scheduled sampling on top (docs/training.md)
      $TRAIN lb-notes_modular --data data/nottingham_notes --out runs/notes_ft512 --steps 750 $COMMON $NOTES_FT --init-from runs/notes_poly/checkpoint.pt
      $TRAIN lb-notes_modular --data data/nottingham_notes --out runs/notes_ft512ss --steps 6750 $COMMON $NOTES_FT $NOTES_SS --init-from runs/notes_ft512/checkpoint.pt
      # stage 4 (6 Dec, afternoon): the same weights on 25-note windows, free-running (scheduled
      # sampling at 1.0), best.pt -> notes_poly_25; notes_poly is four notes_poly_25 codes and an
      # LSTM prior over them (training/segments.py; a 192-unit prior keeps the bundle under 10 MB)
      $TRAIN lb-notes_modular --data data/nottingham_notes25 --out runs/notes25_ft --steps 8000 $COMMON $NOTES_FT $NOTES_SS --set model.sampling_rate=1 --init-from runs/notes_ft512ss/checkpoint.pt
      $EXPORT runs/notes25_ft/best.pt runtime/models/notes_poly_25 --data data/nottingham_notes25 --bars 2 --eval-windows 64
      $PY -m training.segments runtime/models/notes_poly_25 --data data/nottingham_notes --out runs/notes_seg --steps 4000 --layers 1 --hidden-size 192 --prior-scale 0.5 $COMMON --export runtime/models/notes_poly
      bench notes_poly_25 data/nottingham_notes25 test
      bench notes_poly data/nottingham_notes test ;;
    groove_2bar)    # Groove (humanize): hits in, velocities and microtiming out
      $TRAIN lb-groovae_2bar_humanize --data data/groove_2bar --out runs/groove_2bar --steps 15000 $COMMON $GROOVE2
      $EXPORT runs/groove_2bar/best.pt runtime/models/groove_2bar --data data/groove_2bar
      bench groove_2bar data/groove_2bar valid ;;   # Groove has no test split
    drumify_2bar)   # Drumify (tap): one tapped rhythm in, drums with a groove out
      $TRAIN lb-groovae_2bar_tap --data data/groove_2bar --out runs/drumify_2bar --steps 8500 $COMMON $GROOVE2
      $EXPORT runs/drumify_2bar/best.pt runtime/models/drumify_2bar --data data/groove_2bar
      bench drumify_2bar data/groove_2bar valid ;;
    *) echo "unknown model $1 (mel_2bar drums_2bar mel_16bar trio_16bar hier_mel_16bar hier_trio_16bar notes_poly groove_2bar drumify_2bar)" >&2; exit 2 ;;
  esac
}

if [ $# -gt 0 ]; then
  for name in "$@"; do train_one "$name"; done
else
  # two at a time, as they were trained
  train_one mel_2bar & train_one drums_2bar & wait
  train_one hier_mel_16bar & train_one notes_poly & wait
  train_one hier_trio_16bar   # from hier_mel_16bar's weights
  train_one mel_16bar & train_one trio_16bar & wait   # both on mel_2bar's bundle
  dataset groove_2bar   # once, before the two runs that read it
  train_one groove_2bar & train_one drumify_2bar & wait
fi

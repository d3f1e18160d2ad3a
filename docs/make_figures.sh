#!/usr/bin/env bash
# Regenerates the figures in docs/img/ by running each verb as a user would (make docs-figures).
# Needs Fashion-MNIST-free data only: the built-ins and, for the time-series example, ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
AEKIT=${AEKIT:-.venv/bin/aekit}
PY=$(dirname "$AEKIT")/python
W=$(mktemp -d)
IMG=docs/img
trap 'rm -rf "$W"' EXIT

$AEKIT train --data digits --out "$W/digits" --quiet                      # VAE, latent 8
$AEKIT encode --model "$W/digits" --data digits --projection tsne
$AEKIT evaluate --model "$W/digits" --data digits
$AEKIT interpolate --model "$W/digits" --data digits --pair 0,7
$AEKIT attribute --model "$W/digits" --data digits --group-a 1 --group-b 7
$AEKIT sample --model "$W/digits" --data digits --mixture 10
$AEKIT density --model "$W/digits" --data digits --k 200
$AEKIT report "$W/digits"

$AEKIT train --data shapes --count 6000 --latent-dim 6 --epochs 40 --out "$W/shapes" --quiet
$AEKIT traverse --model "$W/shapes" --data shapes --count 100 --index 3
$AEKIT attribute --model "$W/shapes" --data shapes --count 3000 --factor size

# Which value does what (docs/latent.md): beta-TCVAE on small sprites, evaluated against their factors.
$AEKIT train --data sprites --size 32 --count 20000 --network mlp --likelihood bernoulli --tc-weight 6 \
  --epochs 30 --out "$W/sprites" --quiet
$AEKIT evaluate --model "$W/sprites" --data sprites --size 32 --count 5000 \
  --factors shape,scale,orientation,x,y
$AEKIT traverse --model "$W/sprites" --steps 7

$AEKIT train --data parabola --model ae --latent-dim 1 --epochs 150 --out "$W/parabola" --quiet
$AEKIT evaluate --model "$W/parabola" --data parabola

$AEKIT train --data digits --model dae --corruption gaussian --corruption-level 0.3 --epochs 60 \
  --out "$W/dae" --quiet
$AEKIT denoise --model "$W/dae" --data digits
$AEKIT train --data digits --model dae --corruption mask --mask-mode patches --patch-size 2 \
  --corruption-level 0.25 --epochs 60 --out "$W/inpaint" --quiet
$AEKIT inpaint --model "$W/inpaint" --data digits
$AEKIT train --data photos --model dae --corruption greyscale --latent-dim 32 --epochs 30 --out "$W/colour" --quiet
$AEKIT colourise --model "$W/colour" --data photos --count 500 --n-show 8

$AEKIT detect --model "$W/shapes" --data shapes --count 500
NAB=../shared/data/nab/data/realKnownCause/machine_temperature_system_failure.csv
if [ -f "$NAB" ]; then
  $AEKIT train --data "$NAB" --window 64 --stride 16 --model ae --latent-dim 4 --epochs 30 --out "$W/nab" --quiet
  $AEKIT detect --model "$W/nab" --data "$NAB" --window 64 --stride 16 --contamination 0.02
  cp "$W/nab/detect/timeseries.png" $IMG/detect_timeseries.png
fi
"$PY" - "$W" <<'PY'
import numpy as np, pandas as pd, sys
rng = np.random.default_rng(0)
normal = rng.normal(size=(1500, 3)) @ rng.normal(size=(3, 10))
odd = rng.normal(size=(60, 10)) * 2
pd.DataFrame(normal[:1000]).add_prefix("f").to_csv(f"{sys.argv[1]}/normal.csv", index=False)
test = pd.DataFrame(np.vstack([normal[1000:], odd])).add_prefix("f")
test["anomaly"] = np.r_[np.zeros(500), np.ones(60)].astype(int)
test.to_csv(f"{sys.argv[1]}/test.csv", index=False)
PY
$AEKIT train --data "$W/normal.csv" --model ae --latent-dim 3 --epochs 60 --out "$W/table" --quiet
$AEKIT detect --model "$W/table" --data "$W/test.csv" --label-column anomaly --normal-data "$W/normal.csv"

cp "$W/digits/encode/latent_map.png" $IMG/encode_latent_map.png
cp "$W/digits/evaluate/representation.png" $IMG/evaluate_representation.png
cp "$W/digits/interpolate/interpolate.png" $IMG/interpolate.png
cp "$W/digits/attribute/attribute.png" $IMG/attribute_digits.png
cp "$W/digits/sample/samples.png" $IMG/sample_mixture.png
cp "$W/digits/density/uncertainty.png" $IMG/density_uncertainty.png
cp "$W/shapes/traverse/traverse.png" $IMG/traverse_shapes.png
cp "$W/sprites/evaluate/factors.png" $IMG/factors_sprites.png
cp "$W/sprites/traverse/traverse.png" $IMG/traverse_sprites_named.png
cp "$W/shapes/attribute/attribute.png" $IMG/attribute_shapes_bigger.png
cp "$W/parabola/evaluate/parabola.png" $IMG/evaluate_parabola.png
cp "$W/dae/denoise/denoise.png" $IMG/denoise.png
cp "$W/inpaint/inpaint/inpaint.png" $IMG/inpaint.png
cp "$W/colour/colourise/colourise.png" $IMG/colourise.png
cp "$W/shapes/detect/most_anomalous.png" $IMG/detect_heatmaps.png
cp "$W/table/detect/roc_pr.png" $IMG/detect_roc_pr.png
"$PY" -c "import json,sys; [print(p, json.load(open(p)).get('quality') or json.load(open(p)).get('curve') or json.load(open(p)).get('representation') or {k: v for k, v in json.load(open(p)).items() if k in ('auroc', 'average_precision', 'mean_bits_per_dim')}) for p in sys.argv[1:]]" \
  "$W"/digits/evaluate/evaluate.json "$W"/parabola/evaluate/evaluate.json "$W"/dae/denoise/denoise.json \
  "$W"/inpaint/inpaint/inpaint.json "$W"/colour/colourise/colourise.json "$W"/table/detect/detect.json \
  "$W"/digits/density/density.json
"$PY" -c "import json,sys; d=json.load(open(sys.argv[1]))['disentanglement']; print({k: d[k] for k in ('mig', 'sap', 'dci', 'latent_names')})" \
  "$W"/sprites/evaluate/evaluate.json

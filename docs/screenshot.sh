#!/usr/bin/env bash
# Regenerates docs/report-index.png: six real runs of the reference project
# (one of them failing) in a scratch clone, `nbprod report --out`, then a
# headless chromium screenshot of the index. Takes about 3 minutes on 2 cores.
# Needs the project's venv (.venv) and Debian's chromium.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$repo"/notebooks "$repo"/pipeline.yaml "$repo"/env.yaml "$repo"/nbprod.yaml "$work"/
cd "$work"
printf "outputs/\nsite/\n" > .gitignore
git init -q -b main && git add -A
git -c user.name=nbprod -c user.email=nbprod@example.invalid commit -qm "reference project"
. "$repo/.venv/bin/activate"
export PLOOMBER_STATS_ENABLED=false PLOOMBER_VERSION_CHECK_DISABLED=true NBPROD_STORE="$work/outputs/store"
nbprod build --force
nbprod build --force --env--C 0.05
nbprod build --force --env--years 2008
nbprod build --force --env--C -1 || true   # fails in train: shown as a red cross
nbprod build --force --env--years 2009 --env--C 0.3
nbprod build --force --env--C 0.01
nbprod report --out "$work/site"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,900 \
  --screenshot="$repo/docs/report-index.png" "file://$work/site/index.html"
echo "wrote $repo/docs/report-index.png"

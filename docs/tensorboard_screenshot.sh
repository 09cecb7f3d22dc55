#!/usr/bin/env bash
# The screenshot in docs/tensorboard_tour.png: TensorBoard as a person first
# sees the tour's logs, without clicking (headless Chromium; Debian's package
# `chromium`). Usage, after `keras-collapse run tour --output_dir runs/tour`:
#   docs/tensorboard_screenshot.sh runs/tour/tensorboard docs/tensorboard_tour.png
set -euo pipefail
logdir=${1:-runs/tour/tensorboard}
out=${2:-docs/tensorboard_tour.png}
port=${PORT:-6123}
tensorboard --logdir "$logdir" --port "$port" --host 127.0.0.1 > /tmp/tensorboard_screenshot.log 2>&1 &
board=$!
trap 'kill $board' EXIT
for _ in $(seq 60); do
  curl -sf "http://127.0.0.1:$port/data/runs" > /dev/null && break
  sleep 1
done
# TensorBoard's default view (Time Series) with every run selected, as it opens;
# forceSVG=true draws the line charts as SVG (headless Chromium leaves
# TensorBoard's WebGL charts blank; a browser draws the same lines with WebGL).
chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
  --window-size=1600,1200 --virtual-time-budget=30000 \
  --screenshot="$out" "http://127.0.0.1:$port/?forceSVG=true"
echo "runs: $(curl -s "http://127.0.0.1:$port/data/runs" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"

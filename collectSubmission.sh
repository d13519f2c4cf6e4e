#!/usr/bin/env bash
# Check an assignment and pack it for Gradescope: ./collectSubmission.sh [--partial] [a1|a2]
# Writes a1_submission.zip / a2_submission.zip and a PDF (or HTML) of the notebooks; the work is done by
# `python3 -m cs231n.collect` (cs231n/collect.py says what it checks and writes), run from this folder so
# that it packs this kit's package, not another one installed elsewhere.
set -eu
cd "$(dirname "$0")"
if ! command -v python3 >/dev/null 2>&1; then
  echo "collectSubmission: python3 not found; activate the environment you use for the notebooks" >&2
  exit 2
fi
exec python3 -m cs231n.collect "$@"

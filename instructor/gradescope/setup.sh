#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image of @@ASSIGNMENT@@
# (written by `coursekit gradescope`; see README.md beside it). It prepares what run_autograder needs:
#   1. system packages (Python, a C compiler for the Cython extension, curl for the data sets);
#   2. a virtual environment with the course requirements and the grader, but not the reference package:
#      student code runs with it, so the solutions must not be importable from it;
#   3. the data sets (Fashion-MNIST, CIFAR-10) the grader and the notebooks read;
#   4. the kit each grade starts from (the release with the Cython extension built), so no grade compiles;
#   5. permissions for the grader's "uid" isolation (Gradescope's Docker has no CAP_SYS_ADMIN, so no
#      namespaces; student code runs as uid @@WORKER_UID@@ and up, no account needed): source, reference and
#      hidden tests readable by root only, interpreter and data by everyone; then checks that the worker
#      uid can run the interpreter but can neither read the reference nor import the package from the venv.
# Each step fails the build with a message naming what broke, so a broken image is never graded with.
#
# Environment (the defaults are Gradescope's; the local simulation test overrides them):
#   AUTOGRADER_ROOT     /autograder
#   COURSEKIT_APT       1: install system packages with apt-get; 0: use what is installed
#   COURSEKIT_PYTHON    interpreter the virtual environment is made from (default: python3)
#   COURSEKIT_DATASETS  data sets to fetch, among fashion_mnist cifar10 (default: both)
set -euo pipefail

AG=${AUTOGRADER_ROOT:-/autograder}
# The grader's secret (coursekit/grading/secret.py) lives in the image, root-only; setup.sh makes it.
export COURSEKIT_SECRET_FILE=$AG/secret/grader-secret
SRC=$AG/source
REF=$SRC/reference
VENV=$AG/venv
DATA=$AG/datasets
BASE=$AG/base/kit
WORKER_UID=@@WORKER_UID@@
DATASETS=${COURSEKIT_DATASETS-fashion_mnist cifar10}
START=$SECONDS

die() {
    echo "setup.sh: error: $*" >&2
    exit 1
}

step() {
    echo "== [$((SECONDS - START)) s] $*"
}

[[ $(id -u) == 0 ]] || die "run as root (Gradescope does): it sets root-only permissions and checks the worker uid"
[[ -d $REF ]] || die "$REF is missing: unzip @@ASSIGNMENT@@_autograder.zip into $SRC"
umask 022

if [[ ${COURSEKIT_APT:-1} == 1 ]]; then
    step "system packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3 python3-venv python3-dev build-essential \
        curl ca-certificates >/dev/null
fi

step "virtual environment $VENV"
PYTHON=${COURSEKIT_PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    || die "$PYTHON is $("$PYTHON" --version 2>&1); the kit needs Python 3.10 or newer (choose a newer base image)"
"$PYTHON" -m venv "$VENV" || die "cannot create a virtual environment with $PYTHON (install python3-venv)"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
"$VENV/bin/python" -m pip install -q -r "$REF/requirements.txt" "$SRC/coursekit" \
    || die "pip could not install $REF/requirements.txt and the grader"

step "data sets: ${DATASETS:-none}"
mkdir -p "$DATA"
for name in $DATASETS; do
    CS231N_DATA_DIR=$DATA bash "$REF/get_datasets.sh" "$name" || die "could not fetch the data set $name"
done

step "grading kit $BASE: the release with its Cython extension built, once for every grade"
rm -rf "$AG/base"
# build_base says so when a kit's extension did not build: a grade would then run the slow numpy fallback.
"$VENV/bin/python" - "$REF" "@@ASSIGNMENT@@" "$BASE" <<'EOF' || die "the grading kit did not build"
import sys

from coursekit.grading.grade import build_base
from coursekit.reference import Reference

notes = build_base(Reference(sys.argv[1]), sys.argv[2], sys.argv[3])
if notes:
    sys.exit("; ".join(notes))
EOF

step "the grader's secret"
# Hidden inputs are drawn from an HMAC of the graded code under this secret (coursekit/grading/secret.py): made once in
# the image, so every submission's container and a regrade share it, and readable by root only.
"$VENV/bin/python" -c 'from coursekit.grading.secret import grader_secret, secret_path; grader_secret(); print(secret_path())' \
    || die "cannot create the grader's secret"

step "permissions, checked as the worker uid $WORKER_UID"
chmod 755 "$AG"
chmod -R u+rwX,go-rwx "$SRC" "$AG/base"
chmod -R go+rX,go-w "$VENV" "$DATA"
as_worker() {
    (cd / && setpriv --reuid="$WORKER_UID" --regid="$WORKER_UID" --clear-groups -- "$@")
}
as_worker "$VENV/bin/python" -I -c 'import numpy' \
    || die "uid $WORKER_UID cannot run $VENV/bin/python with numpy (is a folder above it unreadable?)"
if as_worker "$VENV/bin/python" -I -c 'import @@PACKAGE@@' 2>/dev/null; then
    die "uid $WORKER_UID can import @@PACKAGE@@ from the virtual environment: the reference must not be installed"
fi
if as_worker test -r "$REF/instructor/grading.toml"; then
    die "uid $WORKER_UID can read the reference tree"
fi
if as_worker test -r "$("$VENV/bin/python" -c 'from coursekit.grading.secret import secret_path; print(secret_path())')"; then
    die "uid $WORKER_UID can read the grader's secret"
fi

step "versions"
"$VENV/bin/python" --version
"$VENV/bin/python" -m pip freeze | tee "$AG/versions.txt"
step "done"

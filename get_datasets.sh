#!/usr/bin/env bash
# Download the course datasets into cs231n/datasets/ next to this script, or into $CS231N_DATA_DIR if set
# (cs231n.data_utils looks in both places).
#
#   ./get_datasets.sh [cifar10]    CIFAR-10 (python version, 163 MB) -> cifar-10-batches-py/
#   ./get_datasets.sh fashion_mnist  Fashion-MNIST: Debian's dataset-fashion-mnist package, else a download
#   ./get_datasets.sh mnist        MNIST -> mnist/
#   ./get_datasets.sh all          all three
#
# Downloads go to a temporary file that is moved into place only once its md5 checksum matches, so an
# interrupted or corrupted download leaves nothing behind. Environment overrides (for mirrors and tests):
#   CIFAR10_URL, CIFAR10_MD5       URL and md5 of the CIFAR-10 tarball
#   FASHION_MNIST_URL, MNIST_URL   base URLs of the IDX files (the official md5s are still checked)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCRIPT="$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")"
DATA_DIR=${CS231N_DATA_DIR:-$SCRIPT_DIR/cs231n/datasets}

CIFAR10_URL=${CIFAR10_URL:-https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz}
CIFAR10_MD5=${CIFAR10_MD5:-c58f30108f718f92721af3b95e74349a}
FASHION_MNIST_URL=${FASHION_MNIST_URL:-http://fashion-mnist.s3-website.eu-central-1.amazonaws.com}
MNIST_URL=${MNIST_URL:-https://ossci-datasets.s3.amazonaws.com/mnist}
SYSTEM_FASHION_DIR=/usr/share/datasets/fashion-mnist

IDX_FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
FASHION_MD5S=(8d4fb7e6c68d591d4c3dfef9ec88bf0d 25c81989df183df01b3e8a0aad5dffbe
              bef4ecab320f06d8554ea6380940ec79 bb300cfdad3c16e7a12a480ee83cd310)
MNIST_MD5S=(f68b3c2dcbeaaa9fbdd348bbdeb94873 d53e105ee54ea40749a09fcbcd1e9432
            9fb629c4189551a2d022fa330f9573f3 ec29112dd5afa0611ce80d1b7f02629c)

usage() {
    cat <<EOF
Usage: $(basename "$SCRIPT") [cifar10|fashion_mnist|mnist|all|--help]

Download a course dataset into $DATA_DIR (set CS231N_DATA_DIR to use another folder).
  cifar10        CIFAR-10, the default (needs internet)
  fashion_mnist  Fashion-MNIST: installs Debian's dataset-fashion-mnist when apt-get is usable,
                 else downloads the four IDX files
  mnist          MNIST
  all            all three
Overrides: CIFAR10_URL, CIFAR10_MD5, FASHION_MNIST_URL, MNIST_URL.
EOF
}

die() {
    echo "get_datasets.sh: error: $*" >&2
    exit 1
}

# Removed on every exit, so an interrupted run leaves no partial download or extraction.
TMP_DIR=""
cleanup() {
    if [[ -n "$TMP_DIR" ]]; then rm -rf "$TMP_DIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

make_tmp_dir() {
    mkdir -p "$DATA_DIR" || die "cannot create $DATA_DIR"
    # Inside DATA_DIR so the final mv is a rename on the same file system.
    TMP_DIR=$(mktemp -d "$DATA_DIR/.download.XXXXXX")
}

md5_of() {
    if command -v md5sum >/dev/null 2>&1; then
        md5sum "$1" | cut -d' ' -f1
    elif command -v md5 >/dev/null 2>&1; then
        md5 -q "$1"
    else
        die "neither md5sum nor md5 is installed: cannot verify downloads"
    fi
}

# What to do when a download fails: Fashion-MNIST from Debian's package needs no internet.
offline_hint() {
    local debian="Debian's dataset-fashion-mnist package (sudo apt-get install dataset-fashion-mnist)"
    if [[ "$DATASET" == fashion_mnist ]]; then
        echo "without internet access, install $debian, then start Jupyter with CS231N_DATASET=fashion_mnist jupyter lab"
    else
        echo "without internet access, use Fashion-MNIST instead: run ./get_datasets.sh fashion_mnist (it installs" \
            "$debian when it can), then start Jupyter with CS231N_DATASET=fashion_mnist jupyter lab"
    fi
}

# download URL FILE: fetch URL into FILE with retries.
download() {
    local url=$1 out=$2
    echo "Downloading $url"
    if command -v curl >/dev/null 2>&1; then
        curl -fL --progress-bar --retry 3 --retry-delay 2 --connect-timeout 30 -o "$out" "$url" \
            || die "download of $url failed; $(offline_hint)"
    elif command -v wget >/dev/null 2>&1; then
        wget -q --tries=3 --timeout=30 -O "$out" "$url" \
            || die "download of $url failed; $(offline_hint)"
    else
        die "neither curl nor wget is installed: install one of them and re-run"
    fi
}

# verify FILE MD5 NAME: die, deleting FILE, unless its md5 is MD5.
verify() {
    local file=$1 expected=$2 name=$3 actual
    actual=$(md5_of "$file")
    if [[ "$actual" != "$expected" ]]; then
        rm -f "$file"
        die "checksum mismatch for $name (expected $expected, got $actual); the download was deleted, re-run to try again"
    fi
}

get_cifar10() {
    local dest="$DATA_DIR/cifar-10-batches-py" missing=0 f
    for f in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch; do
        [[ -f "$dest/$f" ]] || missing=1
    done
    if [[ $missing == 0 ]]; then
        echo "CIFAR-10 is already in $dest: skipping."
        return 0
    fi
    make_tmp_dir
    download "$CIFAR10_URL" "$TMP_DIR/cifar-10-python.tar.gz"
    verify "$TMP_DIR/cifar-10-python.tar.gz" "$CIFAR10_MD5" cifar-10-python.tar.gz
    tar -xzf "$TMP_DIR/cifar-10-python.tar.gz" -C "$TMP_DIR" || die "cannot extract cifar-10-python.tar.gz"
    rm -f "$TMP_DIR/cifar-10-python.tar.gz"
    for f in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch; do
        [[ -f "$TMP_DIR/cifar-10-batches-py/$f" ]] || die "the CIFAR-10 archive has no cifar-10-batches-py/$f"
    done
    if [[ -e "$dest" ]]; then
        echo "Replacing the incomplete $dest"
        rm -rf "$dest"
    fi
    mv "$TMP_DIR/cifar-10-batches-py" "$dest"
    echo "CIFAR-10 is ready in $dest"
}

# get_idx NAME BASE_URL DEST MD5...: the four IDX .gz files of an (Fashion-)MNIST dataset into DEST.
get_idx() {
    local name=$1 base=$2 dest=$3 i f
    shift 3
    local md5s=("$@") missing=0
    for f in "${IDX_FILES[@]}"; do
        [[ -f "$dest/$f.gz" ]] || missing=1
    done
    if [[ $missing == 0 ]]; then
        echo "$name is already in $dest: skipping."
        return 0
    fi
    make_tmp_dir
    for i in "${!IDX_FILES[@]}"; do
        f=${IDX_FILES[$i]}.gz
        download "$base/$f" "$TMP_DIR/$f"
        verify "$TMP_DIR/$f" "${md5s[$i]}" "$f"
    done
    mkdir -p "$dest"
    for f in "${IDX_FILES[@]}"; do
        mv "$TMP_DIR/$f.gz" "$dest/$f.gz"
    done
    echo "$name is ready in $dest"
}

get_fashion_mnist() {
    if [[ -d "$SYSTEM_FASHION_DIR" ]]; then
        echo "Fashion-MNIST is already installed in $SYSTEM_FASHION_DIR (Debian package dataset-fashion-mnist)."
        return 0
    fi
    local sudo=""
    if [[ $(id -u) != 0 ]] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=sudo
    fi
    if command -v apt-get >/dev/null 2>&1 && { [[ $(id -u) == 0 ]] || [[ -n "$sudo" ]]; }; then
        echo "Installing Debian's dataset-fashion-mnist package"
        if $sudo apt-get update -qq && $sudo apt-get install -y -qq dataset-fashion-mnist \
            && [[ -d "$SYSTEM_FASHION_DIR" ]]; then
            echo "Fashion-MNIST is installed in $SYSTEM_FASHION_DIR"
            return 0
        fi
        echo "apt-get could not install dataset-fashion-mnist: downloading the files instead."
    fi
    get_idx Fashion-MNIST "$FASHION_MNIST_URL" "$DATA_DIR/fashion-mnist" "${FASHION_MD5S[@]}"
}

main() {
    if [[ $# -gt 1 ]]; then
        usage >&2
        exit 2
    fi
    case "${1:-cifar10}" in
        cifar10 | cifar-10 | CIFAR10) DATASET=cifar10 get_cifar10 ;;
        fashion_mnist | fashion-mnist) DATASET=fashion_mnist get_fashion_mnist ;;
        mnist | MNIST) DATASET=mnist get_idx MNIST "$MNIST_URL" "$DATA_DIR/mnist" "${MNIST_MD5S[@]}" ;;
        all)
            # Each dataset in its own run, so one failure (say, no internet for CIFAR-10) does not stop the others.
            local status=0 name
            for name in cifar10 fashion_mnist mnist; do
                bash "$SCRIPT" "$name" || status=1
            done
            if [[ $status != 0 ]]; then
                echo "get_datasets.sh: error: some datasets could not be fetched (see above)" >&2
            fi
            exit "$status"
            ;;
        -h | --help) usage ;;
        *)
            echo "get_datasets.sh: unknown argument '$1'" >&2
            usage >&2
            exit 2
            ;;
    esac
}

main "$@"

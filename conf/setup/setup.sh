#!/usr/bin/env bash
# One set-up step for debut: .venv with pinned dependencies, Horovod built from
# source (Gloo + PyTorch), Delta jars inside pyspark's jars/ so Spark needs no
# network at run time. Idempotent: a second run only checks stamps (seconds).
#
#   bash conf/setup/setup.sh            # what `make setup` runs
#   DEBUT_CACHE=/some/dir bash ...      # where the Horovod wheel and jars are kept
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SETUP_DIR="$ROOT/conf/setup"
VENV="${DEBUT_VENV:-$ROOT/.venv}"
CACHE="${DEBUT_CACHE:-$HOME/.cache/debut}"
PY="${DEBUT_PYTHON:-python3}"
TORCH_VERSION=2.13.0
HOROVOD_VERSION=0.28.1
DELTA_VERSION=3.3.3
STAMP="$VENV/.debut-setup-stamp"

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- system tools
missing=()
command -v "$PY" >/dev/null || missing+=("python3 (3.10 or 3.11): apt-get install python3 python3-venv")
if command -v java >/dev/null; then
  jv=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ "${jv:-0}" -ge 17 ] || missing+=("Java 17 (found ${jv:-unknown}): apt-get install openjdk-17-jdk-headless")
else
  missing+=("Java 17: apt-get install openjdk-17-jdk-headless")
fi
command -v mvn >/dev/null || missing+=("Maven (fetches the Delta jars once): apt-get install maven")
command -v g++ >/dev/null || missing+=("a C++17 compiler (builds Horovod): apt-get install g++")
command -v cmake >/dev/null || missing+=("cmake (builds Horovod): apt-get install cmake")
if [ ${#missing[@]} -gt 0 ]; then
  printf '[setup] missing system tools:\n' >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
"$PY" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 11) else 1)' \
  || die "$PY is $("$PY" -V 2>&1); debut needs Python 3.10 or 3.11 (pyspark 3.5 + torch + horovod). Set DEBUT_PYTHON."

# Fingerprint of everything that decides what gets installed.
fingerprint=$( { cat "$SETUP_DIR/requirements.txt" "$SETUP_DIR/setup.sh" "$ROOT/setup.py";
  cat "$SETUP_DIR/constraints.txt" 2>/dev/null || true; } | sha256sum | cut -c1-16)
# Java class data sharing: an archive of the classes a Spark session loads, mapped by every
# driver JVM debut starts (lib/debut/cds.py; about a minute, once; rebuilt when the JDK or jars change).
class_archive() {
  "$VENV/bin/python" -m debut.cds build \
    || say "WARNING: the Spark class archive was not built; Spark starts without it (slower by seconds)"
}
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$fingerprint" ] && [ -x "$VENV/bin/python" ]; then
  class_archive
  say "up to date ($VENV)"
  exit 0
fi

mkdir -p "$CACHE/wheels" "$CACHE/jars"
[ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PY" -m venv "$VENV"; }
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip install --disable-pip-version-check -q)

# ---------------------------------------------------------------- torch
# A local +cpu wheel (on pip's configured find-links) is preferred: PyPI only
# has the CUDA build, several GB, which also runs on CPU.
TORCH_SPEC="torch==$TORCH_VERSION"
for d in ${PIP_FIND_LINKS:-} $(pip config get global.find-links 2>/dev/null || true); do
  if ls "$d"/torch-"$TORCH_VERSION"+cpu-*.whl >/dev/null 2>&1; then TORCH_SPEC="torch==$TORCH_VERSION+cpu"; fi
done
CONSTRAINTS="$VENV/debut-constraints.txt"
grep -v '^torch==' "$SETUP_DIR/constraints.txt" > "$CONSTRAINTS" 2>/dev/null || true
echo "$TORCH_SPEC" >> "$CONSTRAINTS"
say "installing Python dependencies ($TORCH_SPEC; first run downloads a few GB)"
"${PIP[@]}" --upgrade "pip==24.3.1" "setuptools==80.9.0" "wheel==0.45.1"
"${PIP[@]}" -c "$CONSTRAINTS" "$TORCH_SPEC" -r "$SETUP_DIR/requirements.txt"
"${PIP[@]}" --no-deps "petastorm==0.13.1"

# ---------------------------------------------------------------- horovod
TORCH_REAL=$("$VPY" -c 'import torch; print(torch.__version__)')
HVD_WHEELS="$CACHE/wheels/horovod-$HOROVOD_VERSION-torch-$TORCH_REAL"
if ! "$VPY" -c 'import horovod.torch' >/dev/null 2>&1; then
  if ! ls "$HVD_WHEELS"/horovod-*.whl >/dev/null 2>&1; then
    say "building Horovod $HOROVOD_VERSION against torch $TORCH_REAL (about 7 minutes on 2 cores, once)"
    mkdir -p "$HVD_WHEELS"
    wrap="$CACHE/cxx17"
    printf '#!/bin/bash\nexec g++ "$@" -std=c++17\n' > "$wrap" && chmod +x "$wrap"
    CXX="$wrap" MAKEFLAGS="-j$(nproc)" HOROVOD_WITH_PYTORCH=1 HOROVOD_WITH_GLOO=1 \
      HOROVOD_WITHOUT_MPI=1 HOROVOD_WITHOUT_TENSORFLOW=1 HOROVOD_WITHOUT_MXNET=1 \
      HOROVOD_CPU_OPERATIONS=GLOO \
      "$VPY" -m pip wheel --disable-pip-version-check -q --no-build-isolation --no-deps \
        -c "$CONSTRAINTS" "horovod==$HOROVOD_VERSION" -w "$HVD_WHEELS" \
      || die "Horovod build failed (see above). It needs g++, cmake and the torch headers."
  fi
  "${PIP[@]}" -c "$CONSTRAINTS" "$HVD_WHEELS"/horovod-*.whl
fi
"$VENV/bin/horovodrun" --check-build | tee "$VENV/horovod-check-build.txt" | grep -E '\[X\] (PyTorch|Gloo)' >/dev/null \
  || die "horovodrun --check-build does not list PyTorch and Gloo: $(cat "$VENV/horovod-check-build.txt")"

# ---------------------------------------------------------------- delta jars
SPARK_JARS=$("$VPY" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')
for art in delta-spark_2.12 delta-storage; do
  jar="$art-$DELTA_VERSION.jar"
  if [ ! -f "$SPARK_JARS/$jar" ]; then
    if [ ! -f "$CACHE/jars/$jar" ]; then
      say "fetching io.delta:$art:$DELTA_VERSION from Maven Central (once)"
      mvn -q dependency:copy -Dartifact="io.delta:$art:$DELTA_VERSION" -DoutputDirectory="$CACHE/jars" \
        || die "could not fetch io.delta:$art:$DELTA_VERSION with Maven"
    fi
    cp "$CACHE/jars/$jar" "$SPARK_JARS/"
  fi
done

# ---------------------------------------------------------------- debut itself
"${PIP[@]}" --no-deps --no-build-isolation --use-pep517 -e "$ROOT"
"$VPY" -c 'import debut, pyspark, delta, torch, horovod.torch, petastorm, mlflow' \
  || die "imports failed after install"
say "archiving Spark's classes for faster JVM starts"
class_archive
echo "$fingerprint" > "$STAMP"
say "done: $VENV (torch $TORCH_REAL, horovod $HOROVOD_VERSION, delta $DELTA_VERSION)"

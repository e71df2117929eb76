# Shared by scripts/run and scripts/test: make .venv and install the requirements
# when they changed since the last install. Sourced, not run.

PYTHON_BIN="${PYTHON:-}"
if [ -z "$PYTHON_BIN" ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      PYTHON_BIN="$candidate"
      break
    fi
  done
fi
if [ -z "$PYTHON_BIN" ]; then
  echo "PeerLoop needs Python 3.11 or newer (python3.11, python3.12 …) on the PATH." >&2
  exit 1
fi

ensure_venv() {
  local requirements="$1"
  if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $PYTHON_BIN"
    "$PYTHON_BIN" -m venv .venv
  fi
  local stamp=".venv/.installed-$(basename "$requirements")"
  local wanted
  wanted="$(cat requirements*.txt | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    echo "==> installing $requirements"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$wanted" > "$stamp"
  fi
  export PATH="$PWD/.venv/bin:$PATH"
}

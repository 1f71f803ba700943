# Sourced by scripts/test.sh and benches/compare/run.sh.
# venv DIR REQUIREMENTS [PACKAGE==VERSION ...]: (re)creates the pinned venv DIR when what it was
# built from changed.
venv() {
  local dir="$1" reqs="$2"; shift 2
  local stamp; stamp="$(cat "$reqs"; echo "$@")"
  if [ ! -x "$dir/bin/python" ] || [ "$(cat "$dir/.granary-requirements" 2>/dev/null)" != "$stamp" ]; then
    echo "== creating the pinned venv $dir ($reqs $*)"
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$reqs"
    if [ $# -gt 0 ]; then "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"; fi
    printf '%s' "$stamp" > "$dir/.granary-requirements"
  fi
}

# shellcheck shell=bash
# Shared by the scripts that install Python tools (check-template, check-ci, iam-lint): one venv per
# set of pins under $CACHE, installed once (under a lock, so two scripts starting at once on a
# fresh machine share one install) and reinstalled when the pins change. The caller defines
# CACHE, say and die.

# cfn-lint, in both the SAM venv and the CI venv: one version.
# shellcheck disable=SC2034 # used by the scripts that source this file
CFN_LINT_PIN='cfn-lint==1.58.0'

# parliament (duo-labs' IAM policy linter) in its own venv, iam-venv: check-template installs it,
# and scripts/iam-lint installs it itself when run on its own. setuptools for the pkg_resources
# parliament 1.6.4 imports (a venv of Python 3.12 or later has no setuptools).
# shellcheck disable=SC2034 # used by the scripts that source this file
IAM_LINT_PINS='parliament==1.6.4 setuptools==80.9.0'

venv_ok() {  # venv_ok DIR PINS IMPORT-CHECK-CMD...
  local dir=$1 pins=$2; shift 2
  [ "$(cat "$dir/.pins" 2>/dev/null)" = "$pins" ] && "$@" >/dev/null 2>&1
}

install_venv() {  # install_venv DIR PINS CHECK-CMD...
  local dir=$1 pins=$2; shift 2
  venv_ok "$dir" "$pins" "$@" && return 0
  mkdir -p "$CACHE"
  (
    flock 9
    venv_ok "$dir" "$pins" "$@" && exit 0
    local log="$dir.pip.log"
    rm -rf "$dir"
    python3 -m venv "$dir" >"$log" 2>&1 || { tail -20 "$log" >&2; exit 1; }
    # shellcheck disable=SC2086
    "$dir/bin/pip" install -q --disable-pip-version-check $pins >>"$log" 2>&1 ||
      { tail -20 "$log" >&2; exit 1; }
    echo "$pins" >"$dir/.pins"
  ) 9>"$CACHE/install.lock" || die "installing $pins into $dir failed (log: $dir.pip.log)"
  venv_ok "$dir" "$pins" "$@" || die "$dir installed but '$*' fails"
  say "installed $pins"
}


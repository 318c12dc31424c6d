#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine, and nothing that is already there.
#   scripts/bootstrap.sh python    uv and the locked Python environment (enough for `make run`)
#   scripts/bootstrap.sh services  also redis-server, mosquitto and chromium from Debian (for `make test`;
#                                  the browser tests drive Debian's chromium, never a downloaded browser)
# As root it installs missing Debian packages itself; as a normal user it says what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

want=${1:-python}
export UV_PYTHON_DOWNLOADS=never   # use the machine's Python (>= 3.11); never download one

say() { printf 'bootstrap: %s\n' "$*" >&2; }
is_root() { [ "$(id -u)" -eq 0 ]; }

apt_install() {
    # Missing Debian packages: install them as root, otherwise stop with the command to run.
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! is_root; then
        say "missing Debian packages: ${missing[*]}"
        say "install them with: sudo apt-get install -y ${missing[*]}   (then run make again)"
        exit 1
    fi
    say "installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

find_uv() {
    command -v uv 2>/dev/null || { [ -x "$HOME/.local/bin/uv" ] && echo "$HOME/.local/bin/uv"; } || true
}

ensure_uv() {
    [ -n "$(find_uv)" ] && return 0
    if ! python3 -m pip --version >/dev/null 2>&1; then
        if is_root && command -v apt-get >/dev/null; then
            apt_install python3-pip
        else
            say "uv is missing and so is pip; install uv with: python3 -m pip install --user uv"
            exit 1
        fi
    fi
    say "installing uv with pip"
    # Debian marks its Python as externally managed (PEP 668): uv is a standalone binary, so a
    # --user install next to it is harmless.
    python3 -m pip install --quiet --user uv 2>/dev/null \
        || python3 -m pip install --quiet --user --break-system-packages uv
    [ -n "$(find_uv)" ] || { say "uv was installed but is not on PATH nor in ~/.local/bin"; exit 1; }
}

ensure_python_env() {
    local uv
    uv=$(find_uv)
    # --reinstall-package: the editable install is in strict mode and must see newly added modules.
    "$uv" sync --quiet --locked --all-extras --python python3 --reinstall-package fanet
}

ensure_uv
if [ "$want" = services ]; then
    # fonts-dejavu-core: a headless chromium without any font draws the map's labels as boxes.
    # systemd: systemd-analyze checks the Raspberry Pi unit file (nothing is started).
    apt_install redis-server mosquitto chromium fonts-dejavu-core systemd
fi
ensure_python_env

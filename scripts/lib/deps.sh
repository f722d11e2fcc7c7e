# Installs, with apt, what building and testing need when it is missing. Sourced by scripts.

ensure_packages() {
    local missing=("$@")
    [ ${#missing[@]} -gt 0 ] || return 0
    echo "installing: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_test_dependencies() {
    local missing=()
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    pkg-config --exists libffi 2>/dev/null || missing+=(libffi-dev)
    command -v cc >/dev/null 2>&1 || missing+=(gcc)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    command -v tmux >/dev/null 2>&1 || missing+=(tmux)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    ensure_packages "${missing[@]}"
}

#!/usr/bin/env bash
# End-to-end deploy test (`make test-deploy`): build both images on this machine's Docker engine,
# run the compose stack with the host-networking test override, and check that
#   1. both containers become healthy,
#   2. the exporter reports a sibling busybox container through SERVICE_URL_sibling=docker:<name>,
#   3. stopping that container produces a service_down alert at a webhook receiver on 127.0.0.1
#      (and heartbeats arrive there while all is well),
#   4. libcurl inside the image verifies TLS against the image's CA store: a local HTTPS service
#      with a certificate from a private CA is refused with a verification error (the store
#      loaded, the CA is not in it), and is healthy once HTTP_CA_BUNDLE names that CA.
# Works on an engine that cannot pull and has no bridge network: the base image is debootstrapped
# (build-base-image.sh, cached), wheels are built on the host, builds run with --network none.
# Everything it starts is removed on exit; every wait and build is bounded, and so is the whole
# run (HB_TEST_DEPLOY_TIMEOUT).
#
# Usage: deploy/scripts/test-deploy.sh [--exporter-only]
#   --exporter-only  skip the alerter (checks 1-2 only); a development aid, not for CI.
# Environment: HB_BASE_IMAGE (default heartbeat-monitor/base:bookworm), PYTHON (default .venv's),
#   HB_TEST_DEPLOY_TIMEOUT (seconds, default 1200), HB_KEEP_IMAGES=1 keeps the built test images.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
deploy="$repo/deploy"
base_image="${HB_BASE_IMAGE:-heartbeat-monitor/base:bookworm}"
python="${PYTHON:-$repo/.venv/bin/python}"
[[ -x "$python" ]] || python="$(command -v python3)"
limit="${HB_TEST_DEPLOY_TIMEOUT:-1200}"
with_alerter=1
[[ "${1:-}" == "--exporter-only" ]] && with_alerter=0

run_id="hbdeploy-$$"
image_tag="test-deploy"
sibling="$run_id-sibling"
busybox_image="hbtest/busybox:latest"
work="$(mktemp -d "/tmp/$run_id.XXXXXX")"
receiver_pid=""
tls_pid=""
compose_cmd=()

log() { printf '[test-deploy %4ss] %s\n' "$SECONDS" "$*"; }
fail() { log "FAIL: $*" >&2; exit 1; }

compose() { "${compose_cmd[@]}" --project-name "$run_id" --project-directory "$work" \
    --env-file "$work/.env" -f "$deploy/docker-compose.yml" -f "$deploy/docker-compose.test.yml" "$@"; }

cleanup() {
    local status=$?
    trap - EXIT TERM INT
    if [[ $status -ne 0 && ${#compose_cmd[@]} -gt 0 && -f "$work/.env" ]]; then
        log "--- container logs (last 40 lines each) ---"
        compose logs --no-color --tail 40 2>&1 || true
        log "--- received by the webhook receiver ---"
        cat "$work/received.jsonl" 2>/dev/null || true
    fi
    if [[ ${#compose_cmd[@]} -gt 0 && -f "$work/.env" ]]; then
        compose down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1 || true
    fi
    docker rm -f "$sibling" >/dev/null 2>&1 || true
    [[ -n "$tls_pid" ]] && kill "$tls_pid" 2>/dev/null || true
    if [[ -n "$receiver_pid" ]]; then
        kill "$receiver_pid" 2>/dev/null || true
        wait "$receiver_pid" 2>/dev/null || true
    fi
    if [[ "${HB_KEEP_IMAGES:-0}" != 1 ]]; then
        docker image rm "heartbeat-monitor/exporter:$image_tag" "heartbeat-monitor/alerter:$image_tag" \
            >/dev/null 2>&1 || true
    fi
    # Untagged leftovers: the classic builder's stage images, or a build cut short by the budget.
    for label in org.heartbeat-monitor.stage=builder org.opencontainers.image.vendor=heartbeat-monitor; do
        docker image prune --force --filter "label=$label" >/dev/null 2>&1 || true
    done
    find "$deploy/wheelhouse" -name '*.whl' -delete
    rm -rf "$work"
    if [[ $status -eq 0 ]]; then log "PASS"; else log "FAILED (exit $status)"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 124' TERM INT
deadline=$((SECONDS + limit))
seconds_left=0

# Seconds left of the run's budget, at most $1; fails the run when none is left.
budget() {
    local left=$((deadline - SECONDS))
    ((left > 0)) || fail "no result within HB_TEST_DEPLOY_TIMEOUT=${limit}s"
    seconds_left=$((left < $1 ? left : $1))
}

# Poll `$@` every second for up to $1 seconds (within the run's budget); true once it succeeds.
wait_until() {
    budget "$1"
    local end=$((SECONDS + seconds_left))
    shift
    until "$@"; do
        ((SECONDS < end)) || return 1
        sleep 1
    done
}

fetch() { "$python" -c 'import sys, urllib.request as u; sys.stdout.write(u.urlopen(sys.argv[1], timeout=3).read().decode())' "$1"; }
free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

pick_compose() {
    if docker compose version >/dev/null 2>&1; then
        compose_cmd=(docker compose)
    elif command -v docker-compose >/dev/null; then
        compose_cmd=(docker-compose)
    else
        fail "neither 'docker compose' nor 'docker-compose' is installed (apt-get install docker-compose)"
    fi
    log "compose: $("${compose_cmd[@]}" version 2>/dev/null | head -n 1)"
}

build_wheels() {
    local wheelhouse="$deploy/wheelhouse"
    find "$wheelhouse" -name '*.whl' -delete
    log "building wheels on the host into deploy/wheelhouse"
    # The builder stage builds the project from source, so its build backend must be there too.
    local build_requires
    mapfile -t build_requires < <("$python" -c 'import tomllib, sys; print(*tomllib.load(open(sys.argv[1], "rb"))["build-system"]["requires"], sep="\n")' "$repo/pyproject.toml")
    { "$python" -m pip wheel --disable-pip-version-check --wheel-dir "$wheelhouse" "$repo" &&
        "$python" -m pip download --disable-pip-version-check --only-binary :all: \
            --dest "$wheelhouse" "${build_requires[@]}"; } >"$work/wheels.log" 2>&1 ||
        { tail -n 30 "$work/wheels.log" >&2; fail "building wheels on the host failed"; }
}

build_image() {
    local component=$1
    local version revision
    version="$("$python" -c 'import tomllib, sys; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' "$repo/pyproject.toml")"
    revision="$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)"
    log "building heartbeat-monitor/$component:$image_tag on $base_image"
    budget 600
    # The classic builder: it ships with every engine, and --network none proves pip is offline.
    DOCKER_BUILDKIT=0 timeout "$seconds_left" docker build --network none \
        --build-arg "BASE_IMAGE=$base_image" --build-arg PIP_NO_INDEX=1 \
        --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
        --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        -f "$repo/Dockerfile.$component" -t "heartbeat-monitor/$component:$image_tag" "$repo" \
        >"$work/build-$component.log" 2>&1 ||
        { tail -n 30 "$work/build-$component.log" >&2; fail "building the $component image failed"; }
}

ensure_busybox_image() {
    docker image inspect "$busybox_image" >/dev/null 2>&1 && return
    local rootfs="$work/busybox-rootfs"
    mkdir -p "$rootfs/bin"
    cp "$(command -v busybox || echo /bin/busybox)" "$rootfs/bin/busybox"
    for applet in sh sleep true false cat echo kill httpd wget test; do
        ln -s busybox "$rootfs/bin/$applet"
    done
    tar -C "$rootfs" -c . | docker import - "$busybox_image" >/dev/null
}

write_env() {
    local receiver=$1
    cat >"$work/.env" <<ENV
LOOP_INTERVAL_SECONDS=2
SERVICE_TIMEOUT_SECONDS=1
STATUS_CHANGE_THRESHOLD=3
PING_URL=http://127.0.0.1:$receiver/ping
SERVICE_URL_sibling=docker:$sibling
N8N_WEBHOOK_URL=http://127.0.0.1:$receiver/webhook
HEARTBEAT_URL=http://127.0.0.1:$receiver/heartbeat
SECRET_KEY=test-deploy-secret
HOST_LABEL=test-deploy
LOG_FORMAT=json
DOCKER_GID=$(stat -c %g /var/run/docker.sock)
IMAGE_TAG=$image_tag
HB_TEST_EXPORTER_PORT=$exporter_port
HB_TEST_ALERTER_PORT=$alerter_port
ENV
}

health_of() {
    local id
    id="$(compose ps -q "$1" 2>/dev/null)"
    [[ -n "$id" ]] || { echo missing; return; }
    docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id"
}
is_healthy() { [[ "$(health_of "$1")" == healthy ]]; }

sibling_up_is() {
    fetch "http://127.0.0.1:$exporter_port/metrics" 2>/dev/null \
        | grep -E '^heartbeat_service_up\{' | grep -F 'service="sibling"' \
        | grep -Eq " $1(\.0)?$"
}

# Serve HTTPS on 127.0.0.1 with a trustme certificate for "localhost"; writes the CA to $work.
start_tls_server() {
    "$python" - "$work" <<'PY' &
import http.server, ssl, sys, trustme
from pathlib import Path
work = Path(sys.argv[1])
ca = trustme.CA()
ca.cert_pem.write_to_path(str(work / "ca.pem"))
server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ca.issue_cert("localhost").configure_cert(context)
server.socket = context.wrap_socket(server.socket, server_side=True)
(work / "tls.port").write_text(str(server.server_address[1]))
server.serve_forever()
PY
    tls_pid=$!
}

# `heartbeat-exporter --once` inside the exporter image against the local HTTPS service.
probe_tls_in_image() {
    local port=$1; shift
    docker run --rm --network host -v "$work/ca.pem:/tmp/private-ca.pem:ro" "$@" \
        -e "SERVICE_URL_tls=https://localhost:$port/" -e "PING_URL=https://localhost:$port/" \
        -e LOG_FORMAT=json "heartbeat-monitor/exporter:$image_tag" --once 2>&1
}

check_tls_in_image() {
    start_tls_server
    wait_until 10 test -s "$work/tls.port" || fail "TLS test server did not start"
    local port out
    port="$(cat "$work/tls.port")"
    out="$(probe_tls_in_image "$port")" && fail "a certificate from an unknown CA was accepted: $out"
    grep -qi "certificate" <<<"$out" || fail "no certificate verification error in: $out"
    grep -qiE "error setting certificate|CAfile|no such file" <<<"$out" \
        && fail "the image's CA store did not load: $out"
    log "ok: libcurl in the image refuses a certificate from an unknown CA:" \
        "$(grep -oiE '[^"|]*certificate[^"|]*' <<<"$out" | head -n 1)"
    out="$(probe_tls_in_image "$port" -e HTTP_CA_BUNDLE=/tmp/private-ca.pem)" ||
        fail "HTTPS with HTTP_CA_BUNDLE naming the CA is not healthy: $out"
    log "ok: libcurl in the image trusts HTTP_CA_BUNDLE"
    kill "$tls_pid" 2>/dev/null || true
}

received() {
    "$python" - "$work/received.jsonl" "$@" <<'PY'
import json, sys
path, kind = sys.argv[1], sys.argv[2]
records = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
if kind == "heartbeat":
    hits = [r for r in records if r["path"].startswith("/heartbeat")]
else:
    hits = [r for r in records if r["path"].startswith("/webhook") and isinstance(r["body"], dict)
            and r["body"].get("event") == kind and r["body"].get("item") == "sibling"]
if hits:
    print(json.dumps(hits[0]["body"])[:400])
sys.exit(0 if hits else 1)
PY
}

main() {
    pick_compose
    "$deploy/scripts/build-base-image.sh" "$base_image"
    build_wheels
    build_image exporter
    ((with_alerter)) && build_image alerter
    docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^heartbeat-monitor/" || true

    check_tls_in_image

    ensure_busybox_image
    docker run -d --name "$sibling" --network none "$busybox_image" sleep 600 >/dev/null
    "$python" "$deploy/scripts/webhook_receiver.py" "$work/received.jsonl" "$work/receiver.port" &
    receiver_pid=$!
    wait_until 10 test -s "$work/receiver.port" || fail "webhook receiver did not start"
    exporter_port="$(free_port)"
    alerter_port="$(free_port)"
    write_env "$(cat "$work/receiver.port")"

    local services=(exporter)
    ((with_alerter)) && services+=(alerter)
    log "starting the stack: ${services[*]} (exporter :$exporter_port, alerter :$alerter_port)"
    compose up -d --no-build "${services[@]}" 2>&1 | sed 's/^/  /'
    for service in "${services[@]}"; do
        wait_until 120 is_healthy "$service" || fail "$service is $(health_of "$service"), not healthy"
        log "ok: $service is healthy"
    done

    wait_until 60 sibling_up_is 1 || fail "exporter does not report sibling container as up"
    log "ok: exporter reports heartbeat_service_up 1 for docker:$sibling"
    if ((with_alerter)); then
        wait_until 60 received heartbeat >/dev/null || fail "no heartbeat reached the receiver"
        log "ok: heartbeats reach the receiver"
        compose logs --no-color alerter >"$work/alerter.log" 2>&1 || true
        grep -Eq '"db_watch": ?"inotify"' "$work/alerter.log" \
            || fail "the alerter does not watch the shared database for writes (no db_watch inotify)"
        log "ok: the alerter wakes on the exporter's commits (inotify on the shared volume)"
    fi

    docker stop --time 1 "$sibling" >/dev/null
    log "stopped $sibling"
    wait_until 60 sibling_up_is 0 || fail "exporter does not report the stopped container as down"
    log "ok: exporter reports heartbeat_service_up 0 for the stopped container"
    if ((with_alerter)); then
        local alert
        wait_until 90 received service_down >"$work/alert.json" || fail "no service_down alert for sibling"
        log "ok: service_down alert received: $(cat "$work/alert.json")"
    fi
}

main

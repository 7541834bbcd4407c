#!/usr/bin/env bash
# Restarts PostgreSQL in the middle of a collector load and checks that no
# acknowledged sample is lost: agent-sim keeps every sample the server
# acknowledged and compares them with the database at the end.
#
#   scripts/pg-restart-check.sh            (50 agents, 40 s, restart at 12 s)
#   AGENTS=200 SECONDS_LOAD=60 scripts/pg-restart-check.sh
#
# Needs the local PostgreSQL cluster (pg_ctlcluster) and both binaries:
# cargo build -p optralis -p agent-sim (or CARGO_TARGET_DIR pointing at them).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-target}/debug"
AGENTS="${AGENTS:-50}"
SECONDS_LOAD="${SECONDS_LOAD:-40}"
RESTART_AT="${RESTART_AT:-12}"
PG_ADMIN="postgres://postgres@127.0.0.1:5432/postgres"
DB="optralis_restart_check_$$"
DB_URL="postgres://postgres@127.0.0.1:5432/$DB"
CLUSTER="$(ls /etc/postgresql | sort -V | tail -n1)"
DATA=$(mktemp -d)
PORT=$((20000 + RANDOM % 10000)); AGENT_PORT=$((PORT + 1))

psql "$PG_ADMIN" -qc "CREATE DATABASE $DB"
cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
  rm -rf "$DATA"
}
trap cleanup EXIT

DATABASE_URL="$DB_URL" OPTRALIS_DATA_DIR="$DATA" PORT="$PORT" AGENT_PORT="$AGENT_PORT" \
  BIND_ADDRESS=127.0.0.1 DEFAULT_ADMIN_EMAIL=check@optralis.test DEFAULT_ADMIN_PASSWORD='Restart-Check-Passw0rd!' \
  RUST_LOG=warn "$TARGET/optralis" serve &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done

gql() { curl -sf "http://127.0.0.1:$PORT/graphql" -H 'content-type: application/json' ${2:+-H "authorization: Bearer $2"} -d "$1"; }
TOKEN=$(gql '{"query":"mutation { login(email: \"check@optralis.test\", password: \"Restart-Check-Passw0rd!\") { accessToken } }"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])')
# The first login must change the configured password; the token stays valid.
gql '{"query":"mutation { changePassword(currentPassword: \"Restart-Check-Passw0rd!\", newPassword: \"Restart-Check-Changed1!\") }"}' "$TOKEN" >/dev/null
INSTALL=$(gql '{"query":"mutation { createInstallToken(input: { durationMinutes: 60 }) { token { secret } } }"}' "$TOKEN" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["createInstallToken"]["token"]["secret"])')

(sleep "$RESTART_AT"; echo "--- restarting PostgreSQL $CLUSTER"; pg_ctlcluster --skip-systemctl-redirect "$CLUSTER" main restart -m fast; echo "--- PostgreSQL is back") &
"$TARGET/agent-sim" --gateway "https://127.0.0.1:$AGENT_PORT" --ca "$DATA/ca.crt" --token "$INSTALL" \
  --machines "$AGENTS" --heartbeats 1 --duration-secs "$SECONDS_LOAD" --metrics-interval 1 --time-scale 60 \
  --verify-db "$DB_URL"
wait

#!/usr/bin/env bash
# Load test: N messages over C concurrent SMTP connections into a fresh Inlet (Release build), using Postfix's
# smtp-source as the generator. Prints messages per second and the server's peak resident memory.
#
#   bench/smtp-load.sh [MESSAGES] [CONNECTIONS] [SIZE_BYTES] [spool|lambda]
#
# spool (default): each message is acknowledged once durable (async mode).
# lambda: inline mode with a rule whose synchronous Node.js function answers a disposition, so every 250 means
#         SMTP -> rule -> RequestResponse function -> disposition has happened for that message.
#
# Needs smtp-source (Debian: apt-get install postfix, choosing "No configuration").
set -euo pipefail
messages=${1:-2000}
connections=${2:-8}
size=${3:-4096}
mode=${4:-spool}
root="$(cd "$(dirname "$0")/.." && pwd)"
command -v smtp-source >/dev/null || PATH="$PATH:/usr/sbin"
command -v smtp-source >/dev/null || { echo "smtp-source not found: apt-get install postfix (No configuration)"; exit 2; }

dotnet build "$root/src/Inlet" -c Release -v quiet -nologo >/dev/null
data="$(mktemp -d)"
trap 'kill $pid 2>/dev/null || true; rm -rf "$data"' EXIT
if [ "$mode" = lambda ]; then
  mkdir -p "$data/fn"
  echo "exports.handler = async (event) => ({ disposition: 'STOP_RULE_SET' });" > "$data/fn/index.js"
  cat > "$data/inlet.yaml" <<YAML
Smtp: { Mode: inline }
Functions:
  - FunctionName: filter
    Runtime: nodejs20.x
    Handler: index.handler
    Code: $data/fn
    Timeout: 10
FunctionSettings: { DefaultConcurrency: 16 }
ReceiptRuleSets:
  - RuleSetName: load
    Rules:
      - Name: all
        Enabled: true
        Recipients: [example.com]
        Actions:
          - LambdaAction: { FunctionArn: filter, InvocationType: RequestResponse }
YAML
else
  cat > "$data/inlet.yaml" <<YAML
ReceiptRuleSets:
  - RuleSetName: load
    Rules:
      - Name: all
        Enabled: true
        Recipients: [example.com]
YAML
fi
dotnet "$root/src/Inlet/bin/Release/net10.0/inlet.dll" serve --config "$data/inlet.yaml" --data-dir "$data" --smtp 127.0.0.1:0 --http 127.0.0.1:0 --https 127.0.0.1:0 > "$data/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q "Inlet is listening" "$data/server.log" && break; sleep 0.1; done
smtp=$(grep -oP 'SMTP on \K[0-9.:]+' "$data/server.log")
http=$(grep -oP 'http://\K[0-9.:]+' "$data/server.log")

# Warm-up, so JIT and first-use costs stay out of the figure.
smtp-source -s 2 -m 50 -l "$size" -t user@example.com -f load@sender.test "$smtp" >/dev/null

start=$(date +%s.%N)
smtp-source -s "$connections" -m "$messages" -l "$size" -t user@example.com -f load@sender.test "$smtp"
end=$(date +%s.%N)

hwm=$(grep VmHWM /proc/$pid/status | awk '{print $2}')
stored=$(curl -s "http://$http/api/messages?limit=1" >/dev/null && ls "$data/spool" | wc -l)
awk -v n="$messages" -v s="$start" -v e="$end" -v c="$connections" -v z="$size" -v h="$hwm" -v st="$stored" 'BEGIN {
  printf "mode='"$mode"' messages=%d connections=%d size=%dB elapsed=%.2fs rate=%.0f msg/s peak_rss=%.0fMB stored=%d\n", n, c, z, e-s, n/(e-s), h/1024, st }'

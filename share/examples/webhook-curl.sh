#!/bin/sh
# pvpanic-watch exec sink example: post each guest panic to a webhook.
#
# watch.conf:
#   [sink exec]
#   command = /usr/share/pvpanic-tools/examples/webhook-curl.sh https://hooks.example.com/T000/B000/XXXX
#   timeout = 15s
#
# pvpanic-watch runs this without a shell and passes the event in the
# environment: PVPANIC_EVENT (panic, crashloaded, throttled), PVPANIC_DOMAIN
# (unset when the log could not name the domain), PVPANIC_TIME,
# PVPANIC_ACTION, PVPANIC_MONITOR, PVPANIC_DETAILS, PVPANIC_ID, PVPANIC_COUNT
# (throttle summaries) and PVPANIC_JSON (the whole event as JSON).
# Domain names can hold quotes, '$(...)' and newlines: never paste them into
# shell code; here they only travel inside the JSON body curl sends.
set -eu
url=${1:?usage: webhook-curl.sh URL}
host=$(hostname -f 2>/dev/null || hostname)
domain=${PVPANIC_DOMAIN:-unknown domain}

# Slack/Mattermost-style body. PVPANIC_JSON is already valid JSON; the text
# is built with printf %s and JSON-escaped by the small sed below.
json_escape() {
    printf '%s' "$1" | tr -d '\000-\010\013-\037' |
        sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' |
        awk 'BEGIN { ORS = "\\n" } { print }' | sed 's/\\n$//'
}
text=$(json_escape "[$host] guest $PVPANIC_EVENT: $domain at ${PVPANIC_TIME:-?} ${PVPANIC_DETAILS:-}")
body=$(printf '{"text":"%s","event":%s}' "$text" "${PVPANIC_JSON:-null}")

exec curl --silent --show-error --fail --max-time 10 \
    -H 'Content-Type: application/json' --data-binary "$body" -- "$url"

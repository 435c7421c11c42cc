#!/usr/bin/env bash
# The global external HTTPS load balancer in front of a NEG-backed Istio
# gateway, built by hand with gcloud the way the runbook does it
# (shared/reference/field-notes.md section 6): one command after another,
# each waiting for its own operation. It builds what `meshctl expose` builds
# (address, health check, SSL policy, managed certificate, Cloud Armor with
# two WAF rules, firewall rule, backend service with a NEG backend per zone,
# URL map routing the host, HTTPS proxy, 443 rule, HTTP-to-HTTPS redirect on
# 80), so the benchmark in test/e2e can compare the two on the same
# simulator.
#
#   NAME=web NEG=k8s1-... ZONES="us-central1-a us-central1-b" HOST=www.example.com \
#   NETWORK=default NODE_TAG=gke-... hack/gcloud-runbook.sh up|down
#
# gcloud must already point at the project (against meshsim: a throw-away
# CLOUDSDK_CONFIG with api_endpoint_overrides/compute and
# auth/disable_credentials, as `meshsim env` shows).
set -euo pipefail

: "${NAME:?set NAME, the prefix of every resource name}"
run() { gcloud --quiet "$@" >/dev/null; }

up() {
	: "${NEG:?set NEG}" "${ZONES:?set ZONES}" "${HOST:?set HOST}" "${NETWORK:?set NETWORK}" "${NODE_TAG:?set NODE_TAG}"
	local redirect
	redirect=$(mktemp)
	trap 'rm -f "$redirect"' RETURN
	cat >"$redirect" <<EOF
name: $NAME-redirect
defaultUrlRedirect:
  httpsRedirect: true
  redirectResponseCode: MOVED_PERMANENTLY_DEFAULT
EOF
	# The roots.
	run compute addresses create "$NAME-ip" --global
	run compute health-checks create http "$NAME-hc" --global --port 15021 --request-path /healthz/ready
	run compute ssl-policies create "$NAME-ssl" --profile RESTRICTED --min-tls-version 1.2 --global
	run compute ssl-certificates create "$NAME-cert" --domains "$HOST" --global
	run compute security-policies create "$NAME-armor"
	run compute security-policies rules create 2000 --security-policy "$NAME-armor" \
		--expression "evaluatePreconfiguredExpr('xss-v33-stable')" --action deny-403
	run compute security-policies rules create 2001 --security-policy "$NAME-armor" \
		--expression "evaluatePreconfiguredExpr('sqli-v33-stable')" --action deny-403
	run compute firewall-rules create "$NAME-gfe" --network "$NETWORK" --direction INGRESS \
		--source-ranges 130.211.0.0/22,35.191.0.0/16 --allow tcp:15021,tcp:8443 --target-tags "$NODE_TAG"
	run compute url-maps import "$NAME-redirect" --global --source "$redirect"
	# The backend service and its NEGs, one add-backend per zone.
	run compute backend-services create "$NAME-bs" --global --load-balancing-scheme EXTERNAL_MANAGED \
		--protocol HTTP2 --health-checks "$NAME-hc" --enable-logging --logging-sample-rate 1
	for zone in $ZONES; do
		run compute backend-services add-backend "$NAME-bs" --global --network-endpoint-group "$NEG" \
			--network-endpoint-group-zone "$zone" --balancing-mode RATE --max-rate-per-endpoint 100
	done
	run compute backend-services update "$NAME-bs" --global --security-policy "$NAME-armor"
	# The front end.
	run compute url-maps create "$NAME-um" --default-service "$NAME-bs" --global
	run compute url-maps add-path-matcher "$NAME-um" --global --path-matcher-name "$NAME-bs" \
		--default-service "$NAME-bs" --new-hosts "$HOST"
	run compute target-https-proxies create "$NAME-https" --url-map "$NAME-um" \
		--ssl-certificates "$NAME-cert" --ssl-policy "$NAME-ssl" --global
	run compute forwarding-rules create "$NAME-fr-443" --global --load-balancing-scheme EXTERNAL_MANAGED \
		--address "$NAME-ip" --target-https-proxy "$NAME-https" --ports 443
	run compute target-http-proxies create "$NAME-http" --url-map "$NAME-redirect" --global
	run compute forwarding-rules create "$NAME-fr-80" --global --load-balancing-scheme EXTERNAL_MANAGED \
		--address "$NAME-ip" --target-http-proxy "$NAME-http" --ports 80
}

down() {
	# Reverse order, or Compute answers resourceInUseByAnotherResource.
	run compute forwarding-rules delete "$NAME-fr-443" "$NAME-fr-80" --global
	run compute target-https-proxies delete "$NAME-https" --global
	run compute target-http-proxies delete "$NAME-http" --global
	run compute url-maps delete "$NAME-um" "$NAME-redirect" --global
	run compute backend-services delete "$NAME-bs" --global
	run compute health-checks delete "$NAME-hc" --global
	run compute ssl-certificates delete "$NAME-cert" --global
	run compute ssl-policies delete "$NAME-ssl" --global
	run compute security-policies delete "$NAME-armor"
	run compute addresses delete "$NAME-ip" --global
	run compute firewall-rules delete "$NAME-gfe"
}

case "${1:-}" in
up) up ;;
down) down ;;
*)
	echo "usage: $0 up|down" >&2
	exit 2
	;;
esac

#!/usr/bin/env bash
# The meshctl demo: the whole story on meshsim, as a user would type it.
# A GKE cluster is checked, the mesh is installed, a sample application's
# namespaces are put into the mesh, services are exposed each through its own
# gateway behind Google's HTTPS load balancer, and everything is validated.
#
# Run it with `make demo`; clean up with `make demo-down`. A second run after
# a failure or an interruption picks up where the first one left off: every
# step is idempotent.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
state=${DEMO_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/meshctl-demo}
meshsim=${MESHSIM:-$root/bin/meshsim}
meshctl=${MESHCTL:-$root/bin/meshctl}
sim_bin=${MESHSIM_BIN_DIR:-$root/bin/sim}

bold=$'\e[1m' dim=$'\e[2m' reset=$'\e[0m'
if [ ! -t 1 ] || [ -n "${NO_COLOR:-}" ]; then bold='' dim='' reset=''; fi

names=() secs=() codes=()
total_start=$(date +%s)

# step TITLE COMMAND...: print what runs, run it with its real output, time it.
step() {
  local title=$1
  shift
  local n=$((${#names[@]} + 1))
  printf '\n%s== %d. %s%s\n' "$bold" "$n" "$title" "$reset"
  printf '%s$ %s%s\n' "$dim" "$(printf '%q ' "$@" | sed "s|$meshsim|meshsim|g; s|$meshctl|meshctl|g; s|$sim_bin|bin/sim|g; s| $||")" "$reset"
  local start code=0
  start=$(date +%s%N)
  "$@" || code=$?
  names+=("$title")
  local ms=$(( ($(date +%s%N) - start) / 1000000 ))
  secs+=("$((ms / 1000)).$(( (ms % 1000) / 100 ))")
  codes+=("$code")
  if [ "$code" -ne 0 ]; then
    printf '\ndemo: step %d (%s) failed with exit %d.\n' "$n" "$title" "$code" >&2
    printf 'The simulator is still up: run `make demo` again to retry, `make demo-down` to clean up.\n' >&2
    exit "$code"
  fi
}

printf '%smeshctl demo%s: a simulated GKE cluster, a real Kubernetes control plane and real istiod (meshsim)\n' "$bold" "$reset"
printf 'state: %s\n' "$state"

step "Start the simulated GKE cluster and Google Cloud APIs" \
  "$meshsim" --state "$state" up --bin-dir "$sim_bin"
eval "$("$meshsim" --state "$state" env)"

step "Deploy the sample application (two namespaces, four services)" \
  kubectl apply -f testdata/demo/sample-app.yaml

step "Check the cluster is ready for the mesh" \
  "$meshctl" check

step "Install the mesh control plane with asmcli" \
  "$meshctl" install --enable-all

step "Put the application's namespaces into the mesh" \
  "$meshctl" inject --namespace storefront --namespace checkout

step "Expose the storefront through its own gateway and load balancer" \
  "$meshctl" expose svc frontend -n storefront --host shop.example.com

step "Expose cart through its own gateway, on a shared load balancer" \
  "$meshctl" expose svc cart -n checkout --host cart.example.com --lb checkout

step "Expose payments through its own gateway, on the same shared load balancer" \
  "$meshctl" expose svc payments -n checkout --host pay.example.com --lb checkout

step "Expose catalog through a GKE Gateway (GKE's Gateway controller builds the load balancer)" \
  "$meshctl" expose svc catalog -n storefront --host catalog.example.com --via gateway-api

step "Validate the mesh and every exposed service" \
  "$meshctl" validate

step "Unexpose payments (cart keeps serving on the shared load balancer)" \
  "$meshctl" unexpose svc payments -n checkout

step "Validate again" \
  "$meshctl" validate

total=$(( $(date +%s) - total_start ))
printf '\n%s== Summary%s\n' "$bold" "$reset"
for i in "${!names[@]}"; do
  printf '  %6ss  %s\n' "${secs[$i]}" "${names[$i]}"
done
printf '  %6ss  in all\n' "$total"
printf '\nCreated in the cluster (labelled app.kubernetes.io/managed-by=meshctl):\n'
kubectl get deployments,services,gateways.networking.istio.io,virtualservices.networking.istio.io -A \
  -l app.kubernetes.io/managed-by=meshctl --no-headers -o custom-columns=KIND:.kind,NAMESPACE:.metadata.namespace,NAME:.metadata.name |
  sed 's/^/  /'
printf '\nCreated in Google Cloud (the simulated Compute API):\n'
curl -fsS "$MESHCTL_COMPUTE_ENDPOINT/meshsim/state" |
  jq -r '.resources // [] | map(select((.description // "") | test("meshctl"))) | .[] | "  \(.kind | sub("compute#"; ""))\t\(.name)"' 2>/dev/null || true

cat <<EXPLORE

DEMO OK

Explore further:
  eval "\$(bin/meshsim --state $state env)"   # point kubectl, meshctl, asmcli at the simulator
  kubectl get pods -n storefront                     # pods with injected istio-proxy
  meshctl validate -o json                           # the CI report
  bin/meshsim --state $state env | grep gcloud        # how to point gcloud at the fake APIs
Clean up:
  make demo-down                                     # stops every process, frees every port, removes the state
EXPLORE

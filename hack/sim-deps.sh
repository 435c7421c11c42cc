#!/usr/bin/env bash
# Builds meshsim's third-party binaries (Kubernetes control plane, etcd, kwok,
# istiod, istioctl) from the Go module proxy into a cache outside the checkout,
# each keyed by what it is built from (its tools module's go.mod and go.sum,
# package and flags), and links them into bin/sim. A no-op when built.
#
# The first build takes ~20 minutes on 2 cores; later clones reuse the cache.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/hack/tools"
K8S_VERSION=v1.34.4

cache_root=${MESHSIM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshctl/sim-bin}
links="$root/bin/sim"
# An older layout made bin/sim a link to one cache folder.
[ -L "$links" ] && rm -f "$links"
mkdir -p "$cache_root" "$links"
# One build at a time per cache: two checkouts building the same binary at
# once would race on its temporary file. A second run waits, then finds it built.
exec 9>"$cache_root/.lock"
if ! flock -n 9; then
  echo "sim-deps: another build holds $cache_root/.lock; waiting for it ..."
  flock 9
fi

# cached NAME MODULE PACKAGE LDFLAGS: where that build of NAME lives in the cache.
cached() {
  local key
  key=$(printf '%s\n' "$1" "$3" "$4" | cat - "$tools/$2/go.mod" "$tools/$2/go.sum" | sha256sum | cut -c1-12)
  echo "$cache_root/$1-$key/$1"
}

k8s_ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=34 \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/component-base/version.buildDate=2026-01-01T00:00:00Z"

# name | tools module | package | ldflags | rough first-build time
targets=(
  "etcd|k8s|./etcd||1 min"
  "kube-apiserver|k8s|k8s.io/kubernetes/cmd/kube-apiserver|$k8s_ldflags|7 min"
  "kube-controller-manager|k8s|k8s.io/kubernetes/cmd/kube-controller-manager|$k8s_ldflags|2 min"
  "kube-scheduler|k8s|k8s.io/kubernetes/cmd/kube-scheduler|$k8s_ldflags|1 min"
  "kwok|kwok|sigs.k8s.io/kwok/cmd/kwok|-s -w|3 min"
  "kwokctl|kwok|sigs.k8s.io/kwok/cmd/kwokctl|-s -w|1 min"
  "pilot-discovery|istio|istio.io/istio/pilot/cmd/pilot-discovery|-s -w|7 min"
  "istioctl|istio|istio.io/istio/istioctl/cmd/istioctl|-s -w|2 min"
)

missing=0
for t in "${targets[@]}"; do
  IFS='|' read -r name module pkg ldflags _ <<<"$t"
  [ -x "$(cached "$name" "$module" "$pkg" "$ldflags")" ] || missing=$((missing + 1))
done

i=0
start_all=$(date +%s)
for t in "${targets[@]}"; do
  IFS='|' read -r name module pkg ldflags estimate <<<"$t"
  out=$(cached "$name" "$module" "$pkg" "$ldflags")
  ln -sfn "$out" "$links/$name"
  [ -x "$out" ] && continue
  mkdir -p "$(dirname "$out")"
  i=$((i + 1))
  start=$(date +%s)
  echo "sim-deps: [$i/$missing] building $name (first build about $estimate) ..."
  # Print elapsed time every 30 s so a long build is never minutes of silence.
  ( while sleep 30; do echo "sim-deps:   $name still building, $(( $(date +%s) - start ))s"; done ) &
  ticker=$!
  if ! (cd "$tools/$module" && GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg"); then
    kill "$ticker" 2>/dev/null; wait "$ticker" 2>/dev/null || true
    echo "sim-deps: building $name failed" >&2
    exit 1
  fi
  kill "$ticker" 2>/dev/null; wait "$ticker" 2>/dev/null || true
  mv "$out.tmp" "$out"
  echo "sim-deps: [$i/$missing] $name done in $(( $(date +%s) - start ))s"
done
if [ "$missing" -gt 0 ]; then
  echo "sim-deps: all built in $(( $(date +%s) - start_all ))s into $cache_root"
fi

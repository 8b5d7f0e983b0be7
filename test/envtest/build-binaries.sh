#!/usr/bin/env bash
# Builds the real test servers (etcd, kube-apiserver, MinIO) and helm once from the Go module proxy at
# pinned versions and caches them outside the repository, so later runs start in seconds.
#
# Usage: test/envtest/build-binaries.sh            builds what is missing, prints the cache dir
# Env:   SAASBACKUP_BIN_CACHE  cache root (default ~/.cache/saasbackup/test-bin)
#        KUBEBUILDER_ASSETS    when set and it holds etcd + kube-apiserver, those are not built
set -euo pipefail

KUBERNETES_VERSION=v1.34.4
ETCD_VERSION=v3.6.16
# MinIO publishes no semver tags; this pseudo-version is the RELEASE of 2026-02-12.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
# helm renders the chart in tests (charts/saasbackup applied to the test apiserver).
HELM_VERSION=v3.22.0

cache_root="${SAASBACKUP_BIN_CACHE:-$HOME/.cache/saasbackup/test-bin}"
k8s_dir="$cache_root/kubernetes-$KUBERNETES_VERSION-etcd-$ETCD_VERSION"
minio_dir="$cache_root/minio-$MINIO_VERSION"
helm_dir="$cache_root/helm-$HELM_VERSION"
mkdir -p "$cache_root"

log() { echo "[build-binaries] $*" >&2; }

command -v go >/dev/null || { log "Go is required to build the test binaries (or set KUBEBUILDER_ASSETS and MINIO_BINARY)"; exit 1; }
export GOFLAGS="${GOFLAGS:-} -mod=mod -buildvcs=false"
export CGO_ENABLED=0

build_etcd() {
  local work; work="$(mktemp -d)"
  log "building etcd $ETCD_VERSION (first run only)"
  cat >"$work/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$work" && go mod init saasbackup.io/testbin/etcd >/dev/null 2>&1 \
    && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" \
    && go mod tidy \
    && go build -trimpath -ldflags='-s -w' -o "$k8s_dir/etcd.tmp" .)
  mv "$k8s_dir/etcd.tmp" "$k8s_dir/etcd"
  rm -rf "$work"
}

build_kube_apiserver() {
  local work; work="$(mktemp -d)"
  local staging="v0.${KUBERNETES_VERSION#v1.}"
  log "building kube-apiserver $KUBERNETES_VERSION (first run only, several minutes)"
  cat >"$work/main.go" <<'GO'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() { os.Exit(cli.Run(app.NewAPIServerCommand())) }
GO
  # k8s.io/kubernetes replaces its staging modules with local paths; a consumer must pin them.
  local mods
  mods=$(curl -fsSL "$(go env GOPROXY | cut -d, -f1)/k8s.io/kubernetes/@v/$KUBERNETES_VERSION.mod" \
    | sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p')
  {
    echo "module saasbackup.io/testbin/kubeapiserver"
    echo "go 1.24.0"
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    for m in $mods; do echo "replace $m => $m $staging"; done
  } >"$work/go.mod"
  # Stamp the version like Kubernetes' own build (hack/lib/version.sh), so /version reports
  # gitVersion=v1.34.4 instead of v0.0.0-master.
  local minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
  local ldflags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$work" && go mod tidy && go build -trimpath -ldflags="$ldflags" -o "$k8s_dir/kube-apiserver.tmp" .)
  mv "$k8s_dir/kube-apiserver.tmp" "$k8s_dir/kube-apiserver"
  rm -rf "$work"
}

build_minio() {
  log "building minio $MINIO_VERSION (first run only, several minutes)"
  mkdir -p "$minio_dir"
  GOBIN="$minio_dir" go install -trimpath -ldflags='-s -w' "github.com/minio/minio@$MINIO_VERSION"
}

build_helm() {
  log "building helm $HELM_VERSION (first run only)"
  mkdir -p "$helm_dir"
  GOBIN="$helm_dir" go install -trimpath -ldflags='-s -w' "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

# One build at a time per cache: a second invocation waits for the first, then finds the binaries.
exec 9>"$cache_root/.build.lock"
if ! flock -n 9; then
  log "another build-binaries.sh is running; waiting for it"
  flock 9
fi

# A binary built before the version stamp was added reports v0.0.0-master: rebuild (relink) it.
apiserver_current() {
  [[ -x "$k8s_dir/kube-apiserver" ]] \
    && [[ "$("$k8s_dir/kube-apiserver" --version 2>/dev/null)" == "Kubernetes $KUBERNETES_VERSION" ]]
}

if [[ -n "${KUBEBUILDER_ASSETS:-}" && -x "$KUBEBUILDER_ASSETS/etcd" && -x "$KUBEBUILDER_ASSETS/kube-apiserver" ]]; then
  log "using etcd and kube-apiserver from KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
else
  mkdir -p "$k8s_dir"
  [[ -x "$k8s_dir/etcd" ]] || build_etcd
  apiserver_current || build_kube_apiserver
fi
if [[ -n "${MINIO_BINARY:-}" && -x "$MINIO_BINARY" ]]; then
  log "using minio from MINIO_BINARY=$MINIO_BINARY"
else
  [[ -x "$minio_dir/minio" ]] || build_minio
fi
if [[ -n "${HELM_BINARY:-}" && -x "$HELM_BINARY" ]]; then
  log "using helm from HELM_BINARY=$HELM_BINARY"
else
  [[ -x "$helm_dir/helm" ]] || build_helm
fi
echo "$cache_root"

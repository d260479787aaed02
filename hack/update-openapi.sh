#!/usr/bin/env bash
# Regenerates internal/openapi/zz_generated.openapi.go: the OpenAPI definitions of every
# k8s.io/api group version bosun can serve, made by kube-openapi's openapi-gen at the version
# pinned in go.mod. The tool is built in a scratch module, so go.mod does not grow the
# generator's own dependencies; the packages it reads resolve through go.mod.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(go list -m -f '{{.Version}}' k8s.io/kube-openapi)
tools=$(go list -m -f '{{.Version}}' golang.org/x/tools)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
header=$work/header.txt
: >"$header"

# Build the generator in a scratch module: kube-openapi's own x/tools is too old for this Go,
# so take go.mod's newer one.
(
	cd "$work"
	go mod init openapigen >/dev/null 2>&1
	go get "k8s.io/kube-openapi/cmd/openapi-gen@${version}" "golang.org/x/tools@${tools}" >/dev/null 2>&1
	go build -o "$work/openapi-gen" k8s.io/kube-openapi/cmd/openapi-gen
)

api=k8s.io/api
pkgs=(
	k8s.io/apimachinery/pkg/apis/meta/v1
	k8s.io/apimachinery/pkg/runtime
	k8s.io/apimachinery/pkg/util/intstr
	k8s.io/apimachinery/pkg/api/resource
	k8s.io/apimachinery/pkg/version
	$api/admissionregistration/v1
	$api/apps/v1
	$api/authentication/v1
	$api/authorization/v1
	$api/autoscaling/v1
	$api/autoscaling/v2
	$api/batch/v1
	$api/certificates/v1
	$api/coordination/v1
	$api/core/v1
	$api/discovery/v1
	$api/events/v1
	$api/flowcontrol/v1
	$api/networking/v1
	$api/node/v1
	$api/policy/v1
	$api/rbac/v1
	$api/scheduling/v1
	$api/storage/v1
)

"$work/openapi-gen" \
	--output-dir internal/openapi \
	--output-pkg github.com/bosun-k8s/bosun/internal/openapi \
	--output-file zz_generated.openapi.go \
	--go-header-file "$header" \
	--report-filename /dev/null \
	"${pkgs[@]}"
gofmt -l internal/openapi/zz_generated.openapi.go || true

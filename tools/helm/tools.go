//go:build tools

// Package helm names the Helm CLI so that `go mod tidy` records what it needs. The e2e tests
// and the demo install gpuop's chart with this real helm; the product never runs it.
package helm

import _ "helm.sh/helm/v3/cmd/helm"

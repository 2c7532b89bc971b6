//go:build tools

// Package nfd names the upstream Node Feature Discovery commands build.sh compiles (the ones
// NFD's Helm chart runs: master, worker, garbage collector), so that `go mod tidy` records every
// module they need. The build tag keeps this file out of any build.
package nfd

import (
	_ "sigs.k8s.io/node-feature-discovery/cmd/nfd-gc"
	_ "sigs.k8s.io/node-feature-discovery/cmd/nfd-master"
	_ "sigs.k8s.io/node-feature-discovery/cmd/nfd-worker"
)

//go:build tools

// Package peers names the upstream commands the tests build from this module, so that
// `go mod tidy` records every module they need.
package peers

import (
	_ "oras.land/oras/cmd/oras"
)

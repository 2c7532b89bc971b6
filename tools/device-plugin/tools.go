//go:build tools

// Package deviceplugin names NVIDIA's device plugin command, so that `go mod tidy` records every
// module it needs. The build tag keeps this file out of any build.
package deviceplugin

import (
	_ "github.com/NVIDIA/k8s-device-plugin/cmd/nvidia-device-plugin"
)

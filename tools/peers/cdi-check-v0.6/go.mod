// cdi-check on the CDI library the Kata Go shim links (v0.6.0); see ../go.mod.
module gpuop/tools/peers/cdi-check-v0.6

go 1.25.0

require (
	github.com/container-orchestrated-devices/container-device-interface v0.6.0
	github.com/opencontainers/runtime-spec v1.1.0-rc.1
)

require (
	github.com/fsnotify/fsnotify v1.5.1 // indirect
	github.com/opencontainers/runc v1.1.2 // indirect
	github.com/opencontainers/runtime-tools v0.9.1-0.20221107090550-2e043c6bd626 // indirect
	github.com/syndtr/gocapability v0.0.0-20200815063812-42c35b437635 // indirect
	golang.org/x/mod v0.4.2 // indirect
	golang.org/x/sys v0.1.0 // indirect
	gopkg.in/yaml.v2 v2.4.0 // indirect
	sigs.k8s.io/yaml v1.3.0 // indirect
)

// cdi-check loads a CDI spec directory with the upstream CDI library that containerd 2.x links
// (tags.cncf.io/container-device-interface) and resolves the named devices by injecting them
// into an empty OCI spec, as containerd does. cdi-check-v0.6 does the same with v0.6.0 of the
// old module path, which the Kata Go shim's cold-plug links. Each prints a JSON report and
// exits 1 if the library reports any error.
//
//	cdi-check --spec-dir /var/run/cdi nvidia.com/pgpu=38
package main

import (
	"flag"
	"fmt"
	"os"

	cdi "tags.cncf.io/container-device-interface/pkg/cdi"
)

func main() {
	dir := flag.String("spec-dir", "/var/run/cdi", "the CDI spec directory to load")
	flag.Parse()
	c, err := cdi.NewCache(cdi.WithSpecDirs(*dir), cdi.WithAutoRefresh(false))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cdi-check:", err)
	}
	os.Exit(print(check("tags.cncf.io/container-device-interface", c, flag.Args())))
}

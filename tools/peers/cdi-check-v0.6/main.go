// cdi-check-v0.6 is cdi-check (see there) built on v0.6.0 of the CDI library's old module path,
// the version the Kata Go shim's cold-plug links, so a spec it cannot read fails a test.
package main

import (
	"flag"
	"fmt"
	"os"

	cdi "github.com/container-orchestrated-devices/container-device-interface/pkg/cdi"
)

func main() {
	dir := flag.String("spec-dir", "/var/run/cdi", "the CDI spec directory to load")
	flag.Parse()
	c, err := cdi.NewCache(cdi.WithSpecDirs(*dir), cdi.WithAutoRefresh(false))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cdi-check:", err)
	}
	os.Exit(print(check("github.com/container-orchestrated-devices/container-device-interface@v0.6.0", c, flag.Args())))
}

// The report both cdi-check builds print: what one CDI library made of a spec directory. This
// file is shared (by a symlink) with cdi-check-v0.6, which is its own module because the old
// library needs an older runtime-spec than the current one.
package main

import (
	"encoding/json"
	"fmt"
	"sort"

	oci "github.com/opencontainers/runtime-spec/specs-go"
)

type node struct {
	Path  string `json:"path"`
	Type  string `json:"type"`
	Major int64  `json:"major"`
	Minor int64  `json:"minor"`
}

type report struct {
	Library     string            `json:"library"`
	Errors      []string          `json:"errors"`
	Devices     []string          `json:"devices"`
	Injected    []node            `json:"injected"`
	Unresolved  []string          `json:"unresolved"`
	InjectError string            `json:"inject_error,omitempty"`
	Files       map[string]string `json:"-"`
}

type cache interface {
	ListDevices() []string
	GetErrors() map[string][]error
	InjectDevices(*oci.Spec, ...string) ([]string, error)
}

func check(library string, c cache, devices []string) report {
	r := report{Library: library, Errors: []string{}, Devices: c.ListDevices(), Injected: []node{}}
	for path, errs := range c.GetErrors() {
		for _, err := range errs {
			r.Errors = append(r.Errors, fmt.Sprintf("%s: %v", path, err))
		}
	}
	sort.Strings(r.Errors)
	if len(devices) > 0 {
		spec := &oci.Spec{Linux: &oci.Linux{}}
		unresolved, err := c.InjectDevices(spec, devices...)
		r.Unresolved = unresolved
		if err != nil {
			r.InjectError = err.Error()
		}
		for _, d := range spec.Linux.Devices {
			r.Injected = append(r.Injected, node{Path: d.Path, Type: d.Type, Major: d.Major, Minor: d.Minor})
		}
	}
	return r
}

// print writes the report as JSON and returns the exit code: 1 on any error.
func print(r report) int {
	out, _ := json.MarshalIndent(r, "", "  ")
	fmt.Println(string(out))
	if len(r.Errors) > 0 || r.InjectError != "" || len(r.Unresolved) > 0 {
		return 1
	}
	return 0
}

// Package version holds the Kubernetes version bosun reports and its own build version.
package version

import (
	"runtime"

	apiversion "k8s.io/apimachinery/pkg/version"
)

// Kubernetes release bosun implements. kubectl's dispatcher on these machines picks the
// kubectl matching the minor version reported at /version.
const (
	Major      = "1"
	Minor      = "33"
	GitVersion = "v1.33.13+bosun"
)

// Info is the answer to GET /version.
func Info() apiversion.Info {
	return apiversion.Info{
		Major:        Major,
		Minor:        Minor,
		GitVersion:   GitVersion,
		GitCommit:    "bosun",
		GitTreeState: "clean",
		BuildDate:    "2026-11-24T00:00:00Z",
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
	}
}

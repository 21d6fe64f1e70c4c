// Package buildinfo tells which build of strangler is running: the module
// version, the commit it was built from and the Go version, read from the
// binary's embedded build information.
package buildinfo

import (
	"fmt"
	"runtime/debug"
)

// Info describes the running binary.
type Info struct {
	Version  string `json:"version"`            // module version, "(devel)" for a build from a work tree
	Commit   string `json:"commit,omitempty"`   // VCS revision, when the build recorded it
	Modified bool   `json:"modified,omitempty"` // the work tree had uncommitted changes
	Go       string `json:"go"`                 // the Go version that built it
}

// Read returns the build information of the running binary.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "unknown"}
	}
	in := Info{Version: bi.Main.Version, Go: bi.GoVersion}
	if in.Version == "" {
		in.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Commit = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is the one-line form printed by `strangler --version`:
// "v1.2.3 (commit 0123abcd, go1.26.0)".
func (in Info) String() string {
	commit := in.Commit
	if commit == "" {
		commit = "unknown"
	} else if len(commit) > 12 {
		commit = commit[:12]
	}
	if in.Modified {
		commit += "+modified"
	}
	return fmt.Sprintf("%s (commit %s, %s)", in.Version, commit, in.Go)
}

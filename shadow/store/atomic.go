package store

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// writeAtomic replaces path with data: a temporary file in the same
// directory, synced, renamed over path, and the directory synced, so that
// a crash leaves either the old content or the new.
func writeAtomic(path string, data []byte) error {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, base+tmpSuffix)
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	return commitTemp(f, path)
}

// tmpSuffix is part of the names of temporary files (state.json.tmp-…);
// those a crash left are removed on open.
const tmpSuffix = ".tmp-*"

// commitTemp syncs and closes the temporary file f, renames it to path
// and syncs the directory. On failure f is removed.
func commitTemp(f *os.File, path string) error {
	tmp := f.Name()
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable. Windows, which cannot sync a
// directory, skips it.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// removeTemps removes the temporary files a crash left in dir.
func removeTemps(dir string, names ...string) {
	for _, n := range names {
		left, _ := filepath.Glob(filepath.Join(dir, n+tmpSuffix))
		for _, p := range left {
			os.Remove(p)
		}
	}
}

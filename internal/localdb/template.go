package localdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// CacheEnv names the environment variable that overrides where pristine data
// directories are cached: a directory, or "off" to build every data directory
// from scratch. Unset means os.UserCacheDir()/strangler-localdb.
const CacheEnv = "STRANGLER_LOCALDB_CACHE"

// templateFormat changes whenever the way templates are built changes, so
// that old cached templates are not reused.
const templateFormat = "1"

// completeMarker marks a template that was built to the end.
const completeMarker = ".complete"

// cacheRoot returns the template cache directory, or ok=false when the cache
// is turned off.
func cacheRoot() (dir string, ok bool) {
	switch v := os.Getenv(CacheEnv); v {
	case "off":
		return "", false
	case "":
	default:
		return v, true
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "strangler-localdb"), true
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("strangler-localdb-%d", os.Getuid())), true
}

// templateKey names a template after what it was built from.
func templateKey(kind string, parts ...string) string {
	h := sha256.New()
	for _, p := range append([]string{templateFormat, kind}, parts...) {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return kind + "-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// cachedTemplate returns the directory of the template key under root,
// building it with build first if needed. build fills an empty directory.
// The template appears atomically (a rename) and concurrent callers, in this
// process or others, build it once: they take an exclusive lock on a file
// next to it.
func cachedTemplate(ctx context.Context, root, key string, build func(ctx context.Context, dir string) error) (string, error) {
	dir := filepath.Join(root, key)
	tmpl := filepath.Join(dir, "template")
	if isComplete(tmpl) {
		return tmpl, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating the template cache: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, "lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if isComplete(tmpl) {
		return tmpl, nil // another process built it while we waited
	}
	// Remove what an interrupted build left behind.
	leftovers, _ := filepath.Glob(filepath.Join(dir, "build-*"))
	for _, d := range append(leftovers, tmpl) {
		if err := os.RemoveAll(d); err != nil {
			return "", fmt.Errorf("removing an unfinished template: %w", err)
		}
	}
	work, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", fmt.Errorf("creating a template build directory: %w", err)
	}
	if err := build(ctx, work); err != nil {
		os.RemoveAll(work)
		return "", fmt.Errorf("building template %s: %w", key, err)
	}
	if err := os.WriteFile(filepath.Join(work, completeMarker), nil, 0o644); err != nil {
		os.RemoveAll(work)
		return "", fmt.Errorf("marking template %s complete: %w", key, err)
	}
	if err := os.Rename(work, tmpl); err != nil {
		os.RemoveAll(work)
		return "", fmt.Errorf("publishing template %s: %w", key, err)
	}
	return tmpl, nil
}

func isComplete(tmpl string) bool {
	_, err := os.Stat(filepath.Join(tmpl, completeMarker))
	return err == nil
}

// lockFile takes an exclusive flock on path, waiting until ctx is done, and
// returns the function that releases it.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for lock %s: %w", path, ctx.Err())
		case <-ticker.C:
		}
	}
}

// copyTree copies the directory src to dst, which must not exist, keeping
// permission bits and symbolic links. With uid >= 0 every copy is owned by
// uid:gid.
func copyTree(src, dst string, uid, gid int) error {
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
			if uid >= 0 {
				return os.Lchown(target, uid, gid)
			}
			return nil
		case d.Type().IsRegular():
			if err := copyFile(path, target); err != nil {
				return err
			}
		default:
			return nil // sockets and the like are not data
		}
		if err := os.Chmod(target, info.Mode().Perm()); err != nil {
			return err
		}
		if uid >= 0 {
			return os.Chown(target, uid, gid)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	return nil
}

// copyFile copies one regular file; on Linux io.Copy between files uses
// copy_file_range, so the data does not pass through user space.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// prepareData fills dataDir, which must not exist: from the cached template
// when the cache is on (building the template with initData the first time),
// else with initData directly. If the cache cannot be used, it says so in the
// log and falls back to initData.
func prepareData(ctx context.Context, s *server, key, dataDir string, uid, gid int,
	initData func(ctx context.Context, dataDir, workDir string) error) error {
	begin := time.Now()
	if root, ok := cacheRoot(); ok {
		tmpl, err := cachedTemplate(ctx, root, key, func(ctx context.Context, dir string) error {
			return initData(ctx, filepath.Join(dir, "data"), dir)
		})
		if err == nil {
			err = copyTree(filepath.Join(tmpl, "data"), dataDir, uid, gid)
			if err == nil {
				s.logger.Debug("data directory copied from template", "server", s.kind, "template", tmpl,
					"elapsed", time.Since(begin).Round(time.Millisecond))
				return nil
			}
			if rmErr := os.RemoveAll(dataDir); rmErr != nil {
				return errors.Join(err, rmErr)
			}
		}
		if ctx.Err() != nil {
			return err
		}
		s.logger.Warn("template cache unusable; initialising from scratch", "server", s.kind, "err", err)
	}
	if err := initData(ctx, dataDir, s.dir); err != nil {
		return err
	}
	s.logger.Debug("data directory initialised", "server", s.kind, "elapsed", time.Since(begin).Round(time.Millisecond))
	return nil
}

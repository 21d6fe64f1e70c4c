package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/stranglerfig/strangler/proxy"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/stranglerfig/strangler/internal/config"
)

// DefaultFilePoll is how often FileStore.Watch looks at the state file's
// modification time, size and identity for a change by another process.
const DefaultFilePoll = 50 * time.Millisecond

// DefaultHistoryLimit is how many audit entries the file store keeps; older
// entries are dropped when a change would exceed it.
const DefaultHistoryLimit = 10000

// fileFormat is the on-disk document of the file store.
type fileFormat struct {
	Version uint64                      `json:"version"`
	Routes  map[string]proxy.RouteState `json:"routes"`
	History []HistoryEntry              `json:"history"`
}

// FileStore keeps route state and its history in one JSON file. Every write
// goes to a temporary file in the same directory, is fsynced and renamed over
// the old file (and the directory fsynced), so a crash leaves either the old
// or the new state, never a torn one. Writers in several processes on one
// machine serialise through an advisory lock on PATH.lock.
type FileStore struct {
	path  string
	poll  time.Duration
	limit int
	log   *slog.Logger

	mu sync.Mutex // serialises writers within this process
}

// FileStoreOption configures a FileStore.
type FileStoreOption func(*FileStore) error

// WithFilePoll sets how often Watch polls the file. Default DefaultFilePoll.
func WithFilePoll(d time.Duration) FileStoreOption {
	return func(s *FileStore) error {
		if d <= 0 {
			return fmt.Errorf("file poll interval %v: must be positive", d)
		}
		s.poll = d
		return nil
	}
}

// WithHistoryLimit sets how many audit entries the file keeps. Default
// DefaultHistoryLimit.
func WithHistoryLimit(n int) FileStoreOption {
	return func(s *FileStore) error {
		if n <= 0 {
			return fmt.Errorf("history limit %d: must be positive", n)
		}
		s.limit = n
		return nil
	}
}

// WithFileLogger sets the logger of the store. Default slog.Default().
func WithFileLogger(l *slog.Logger) FileStoreOption {
	return func(s *FileStore) error {
		if l == nil {
			return errors.New("file store logger: nil")
		}
		s.log = l
		return nil
	}
}

// NewFileStore returns a store kept in the file at path. The file need not
// exist yet; its directory must.
func NewFileStore(path string, opts ...FileStoreOption) (*FileStore, error) {
	s := &FileStore{path: path, poll: DefaultFilePoll, limit: DefaultHistoryLimit, log: slog.Default()}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, fmt.Errorf("opening route state file %s: %w", path, err)
		}
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("opening route state file %s: %w", path, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("opening route state file %s: %s is not a directory", path, dir)
	}
	return s, nil
}

var _ Store = (*FileStore)(nil)

// Path returns the file the store writes.
func (s *FileStore) Path() string { return s.path }

// Load reads the state file. A missing file is the zero State; a file that
// cannot be decoded or holds an invalid state is an error naming the file
// and what is wrong, and is never overwritten by Load.
func (s *FileStore) Load(ctx context.Context) (proxy.State, error) {
	doc, err := s.read()
	if err != nil {
		return proxy.State{}, err
	}
	return proxy.State{Version: doc.Version, Routes: doc.Routes}, nil
}

// History returns the audit log kept in the file, oldest first.
func (s *FileStore) History(ctx context.Context) ([]HistoryEntry, error) {
	doc, err := s.read()
	if err != nil {
		return nil, err
	}
	return doc.History, nil
}

// Apply writes next and appends entries when the file is at version prev.
func (s *FileStore) Apply(ctx context.Context, prev uint64, next proxy.State, entries []HistoryEntry) error {
	if next.Version != prev+1 {
		return fmt.Errorf("writing route state file %s: next version %d does not follow %d", s.path, next.Version, prev)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := lockFile(s.path + ".lock")
	if err != nil {
		return fmt.Errorf("writing route state file %s: %w", s.path, err)
	}
	defer unlock()
	doc, err := s.read()
	if err != nil {
		return fmt.Errorf("writing route state: %w", err)
	}
	if doc.Version != prev {
		return fmt.Errorf("writing route state file %s: stored version %d, expected %d: %w", s.path, doc.Version, prev, ErrVersionMismatch)
	}
	doc.Version = next.Version
	doc.Routes = next.Clone().Routes
	doc.History = append(doc.History, entries...)
	if over := len(doc.History) - s.limit; over > 0 {
		doc.History = slices.Clone(doc.History[over:])
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding route state: %w", err)
	}
	if err := writeFileAtomic(s.path, append(data, '\n')); err != nil {
		return fmt.Errorf("writing route state file %s: %w", s.path, err)
	}
	return nil
}

// Watch polls the file every poll interval (DefaultFilePoll) and calls fn
// with the state whenever the file's identity, size or modification time
// changed; it calls fn once at the start. A file that cannot be read is
// logged and retried at the next change; the last good state stays applied.
func (s *FileStore) Watch(ctx context.Context, fn func(proxy.State)) error {
	var last os.FileInfo
	first := true
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		fi, err := os.Stat(s.path)
		switch {
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			s.log.Warn("watching route state file", "path", s.path, "err", err)
		case first || changed(last, fi):
			st, lerr := s.Load(ctx)
			if lerr != nil {
				s.log.Error("route state file changed but cannot be used; keeping the last good state", "err", lerr)
			} else {
				fn(st)
			}
			last, first = fi, false
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// changed reports whether the file behind b differs from the one seen as a.
// Either may be nil (no file).
func changed(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return (a == nil) != (b == nil)
	}
	return !os.SameFile(a, b) || a.Size() != b.Size() || !a.ModTime().Equal(b.ModTime())
}

// Close releases nothing: the file store holds no open handle.
func (s *FileStore) Close() error { return nil }

// read decodes and checks the state file; a missing file is an empty doc.
func (s *FileStore) read() (fileFormat, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileFormat{Routes: map[string]proxy.RouteState{}}, nil
	}
	if err != nil {
		return fileFormat{}, fmt.Errorf("reading route state file %s: %w", s.path, err)
	}
	doc, err := decodeStateFile(data)
	if err != nil {
		return fileFormat{}, fmt.Errorf("reading route state file %s: %w (fix or remove the file; the facade will not start on it)", s.path, err)
	}
	return doc, nil
}

// decodeStateFile is the pure decoder of the state file.
func decodeStateFile(data []byte) (fileFormat, error) {
	var doc fileFormat
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return fileFormat{}, describeJSONError(data, err)
	}
	if dec.More() {
		return fileFormat{}, errors.New("trailing data after the JSON document")
	}
	if doc.Routes == nil {
		doc.Routes = map[string]proxy.RouteState{}
	}
	if err := checkState(proxy.State{Version: doc.Version, Routes: doc.Routes}); err != nil {
		return fileFormat{}, err
	}
	return doc, nil
}

// checkState checks what a stored state may hold: known modes, percents in
// range. Route names are checked against the project file by the
// Controller, not here, so that a state written by a newer project file
// still loads.
func checkState(s proxy.State) error {
	for name, r := range s.Routes {
		if !slices.Contains(config.Modes, r.Mode) {
			return &FieldError{Field: "routes." + name + ".mode", Msg: fmt.Sprintf("%q is not one of %v", r.Mode, config.Modes)}
		}
		if math.IsNaN(r.Percent) || r.Percent < 0 || r.Percent > 100 {
			return &FieldError{Field: "routes." + name + ".percent", Msg: fmt.Sprintf("%v is not between 0 and 100", r.Percent)}
		}
	}
	return nil
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, fsync, rename, fsync of the directory.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("creating temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("writing temporary file: %w", err)
	}
	if err = tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("setting mode of temporary file: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("syncing temporary file: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("closing temporary file: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("renaming temporary file: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory to sync: %w", err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("syncing directory: %w", err)
	}
	return nil
}

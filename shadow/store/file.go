package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The files of a store directory.
const (
	recordsFile = "records.jsonl" // one JSON Record per line, appended
	stateFile   = "state.json"    // counters, examples, noise; replaced whole
	lockName    = "lock"          // flocked while a store has the directory open
)

// FileStore is a Store in a local directory, for one facade: counters,
// examples and noise in memory, written to state.json; kept records
// appended to records.jsonl, read back through an index of their offsets.
// Add and Dropped change memory only; a background flusher writes every
// 500 ms. Report, Noise and Get see everything added, written or not.
type FileStore struct {
	dir  string
	ret  Retention
	log  *slog.Logger
	now  func() time.Time
	lock *os.File // holds the flock; closed by Close

	stop context.CancelFunc
	done chan struct{} // closed when the flusher returned

	flushMu   sync.Mutex // serialises flushes and retention rewrites; guards the fields below
	size      int64      // records.jsonl's length
	broken    bool       // a failed append may have left a partial line at the end
	flushFail failureLog

	fileMu sync.RWMutex // read-held while a record is read from f; held while f is swapped or closed
	f      *os.File     // records.jsonl, opened for appending

	mu        sync.Mutex // guards the fields below
	closed    bool
	state     *fileState
	dirty     bool                 // state changed since state.json was written
	index     map[string]recordLoc // records in records.jsonl
	oldest    time.Time            // of the records in index
	pending   []*heldRecord        // not yet appended, in Add order
	held      map[string]*heldRecord
	heldBytes int
	lostBody  int64           // records counted but not kept (memory bound) since last logged
	capped    map[string]bool // routes whose distinct paths reached maxRoutePaths (logged once)
}

// heldRecord is a kept record waiting to be appended.
type heldRecord struct {
	id   string
	at   time.Time
	line []byte // its JSON, without newline
}

var _ Store = (*FileStore)(nil)

// OpenFile opens the store in dir, creating dir (mode 0700) and its files
// when missing, and takes dir's lock: a second store on the same dir, of
// this or another process, is refused. It reads state.json and indexes
// records.jsonl: a corrupt line is skipped, an incomplete last line (a
// write cut short) truncated away, both logged. Zero fields of ret take
// the defaults DefaultMax and DefaultAge.
func OpenFile(dir string, ret Retention, opts ...Option) (*FileStore, error) {
	if dir == "" {
		return nil, errors.New("shadow store: opening a file store: no directory given")
	}
	ret, err := ret.withDefaults()
	if err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("shadow store: creating %s: %w", dir, err)
	}
	lock, err := takeLock(dir)
	if err != nil {
		return nil, err
	}
	s := &FileStore{
		dir: dir, ret: ret, log: o.log, now: o.now, lock: lock,
		held: map[string]*heldRecord{}, capped: map[string]bool{},
	}
	if err := s.load(); err != nil {
		if s.f != nil {
			s.f.Close()
		}
		lock.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	go s.run(ctx)
	return s, nil
}

// takeLock opens and flocks dir's lock file, and writes this process's id
// into it for whoever finds it locked.
func takeLock(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("shadow store: opening the lock file of %s: %w", dir, err)
	}
	if err := lockFile(f); err != nil {
		holder := ""
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid := strings.TrimSpace(string(b)); pid != "" {
				holder = " (pid " + pid + ")"
			}
		}
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("shadow store: %s is in use: another strangler holds it%s; give each facade its own directory, or share a postgres:// store", dir, holder)
		}
		return nil, fmt.Errorf("shadow store: locking %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// load reads state.json and indexes records.jsonl.
func (s *FileStore) load() error {
	removeTemps(s.dir, stateFile, recordsFile)
	statePath := filepath.Join(s.dir, stateFile)
	data, err := os.ReadFile(statePath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.state = newFileState()
	case err != nil:
		return fmt.Errorf("shadow store: reading %s: %w", statePath, err)
	default:
		if s.state, err = parseState(data); err != nil {
			return fmt.Errorf("shadow store: reading %s: %w (move it away to start with empty counters)", statePath, err)
		}
	}
	path := filepath.Join(s.dir, recordsFile)
	s.f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("shadow store: opening %s: %w", path, err)
	}
	index, valid, missingNewline, err := scanRecords(s.f, path, s.log)
	if err != nil {
		return fmt.Errorf("shadow store: %w", err)
	}
	fi, err := s.f.Stat()
	if err != nil {
		return fmt.Errorf("shadow store: %w", err)
	}
	if fi.Size() > valid {
		if err := s.f.Truncate(valid); err != nil {
			return fmt.Errorf("shadow store: truncating the incomplete last line of %s: %w", path, err)
		}
	}
	s.size = valid
	if missingNewline {
		if _, err := s.f.Write([]byte("\n")); err != nil {
			return fmt.Errorf("shadow store: ending the last line of %s: %w", path, err)
		}
		s.size++
	}
	s.index, s.oldest = index, oldestOf(index)
	s.state.prune(func(id string) bool { _, ok := s.index[id]; return ok })
	return nil
}

// run flushes every flushInterval until ctx is done.
func (s *FileStore) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.flushMu.Lock()
			if err := s.flushLocked(); err != nil {
				s.flushFail.failed(s.log, s.now(), "shadow store: writing failed; retrying", "dir", s.dir, "error", err.Error())
			} else {
				s.flushFail.ok(s.log, "shadow store: writing works again")
			}
			s.flushMu.Unlock()
		}
	}
}

// Add counts r and, for a diff or an error not already older than the
// retention age, keeps it. It changes memory only.
func (s *FileStore) Add(_ context.Context, r *Record) error {
	if err := checkRecord(r); err != nil {
		return err
	}
	now := s.now()
	at := countAt(r, now)
	keep := r.Result != ResultMatch && !at.Before(now.Add(-s.ret.Age))
	var line []byte
	if keep {
		rr := r
		if r.At.IsZero() {
			c := *r
			c.At = at
			rr = &c
		}
		var err error
		if line, err = json.Marshal(rr); err != nil {
			return fmt.Errorf("shadow store: encoding record %s: %w", r.ID, err)
		}
	}
	hits := diffPaths(r)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	rs := s.state.route(r.Route)
	switch r.Result {
	case ResultMatch:
		rs.Matched++
	case ResultDiff:
		rs.Differed++
	case ResultError:
		rs.Errors++
	}
	rs.touch(at)
	s.dirty = true
	if keep && (len(s.held) >= maxHeldRecords || s.heldBytes+len(line) > maxHeldBytes) {
		keep = false
		s.lostBody++
	}
	for _, h := range hits {
		ps, capped := rs.path(h.path)
		if capped && !s.capped[r.Route] {
			s.capped[r.Route] = true
			s.log.Warn("shadow store: a route has too many distinct differing paths; further ones are counted together",
				"route", r.Route, "max", maxRoutePaths, "as", otherPaths)
		}
		ps.N++
		if keep && r.Result == ResultDiff {
			ps.addExample(exampleAt{Example{ID: r.ID, Path: h.diff.Path, Legacy: h.diff.Legacy, New: h.diff.New}, at})
		}
	}
	if !keep {
		return nil
	}
	if r.Result == ResultError {
		rs.addError(ErrorExample{ID: r.ID, At: at, Error: r.Error})
	}
	hr := &heldRecord{id: r.ID, at: at, line: line}
	s.pending = append(s.pending, hr)
	s.held[r.ID] = hr
	s.heldBytes += len(line)
	return nil
}

// Dropped counts n copies of route dropped for reason.
func (s *FileStore) Dropped(_ context.Context, route, reason string, n int64) error {
	if err := checkDropped(route, reason, n); err != nil || n == 0 {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	rs := s.state.route(route)
	if rs.Drops == nil {
		rs.Drops = map[string]int64{}
	}
	rs.Drops[reason] += n
	rs.touch(now)
	s.dirty = true
	return nil
}

// Flush appends the records held, applies retention and writes
// state.json.
func (s *FileStore) Flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return errClosed
	}
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	return s.flushLocked()
}

// flushLocked is Flush; s.flushMu is held.
func (s *FileStore) flushLocked() error {
	s.mu.Lock()
	batch := s.pending
	s.pending = nil
	lost := s.lostBody
	s.lostBody = 0
	s.mu.Unlock()
	if lost > 0 {
		s.log.Warn("shadow store: comparisons came faster than they could be written; their records were counted, not kept",
			"dir", s.dir, "records", lost)
	}
	if len(batch) > 0 {
		locs, err := s.appendRecords(batch)
		s.mu.Lock()
		if err != nil {
			s.pending = append(batch, s.pending...)
			s.mu.Unlock()
			return fmt.Errorf("shadow store: appending to %s: %w", filepath.Join(s.dir, recordsFile), err)
		}
		for i, hr := range batch {
			s.index[hr.id] = locs[i]
			if s.held[hr.id] == hr {
				delete(s.held, hr.id)
			}
			s.heldBytes -= len(hr.line)
			if s.oldest.IsZero() || hr.at.Before(s.oldest) {
				s.oldest = hr.at
			}
		}
		s.mu.Unlock()
	}
	if err := s.retainLocked(); err != nil {
		return fmt.Errorf("shadow store: applying retention to %s: %w", filepath.Join(s.dir, recordsFile), err)
	}
	s.mu.Lock()
	var data []byte
	var err error
	if s.dirty {
		data, err = json.Marshal(s.state)
		s.dirty = err != nil
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("shadow store: encoding the state: %w", err)
	}
	if data != nil {
		path := filepath.Join(s.dir, stateFile)
		if err := writeAtomic(path, data); err != nil {
			s.mu.Lock()
			s.dirty = true
			s.mu.Unlock()
			return fmt.Errorf("shadow store: writing %s: %w", path, err)
		}
	}
	return nil
}

// appendRecords appends the lines of batch to records.jsonl, synced, and
// returns where each went. On failure the file is cut back to its
// previous length (or, when that fails too, the next append starts a new
// line). s.flushMu is held.
func (s *FileStore) appendRecords(batch []*heldRecord) ([]recordLoc, error) {
	var buf bytes.Buffer
	off := s.size
	if s.broken {
		buf.WriteByte('\n')
		off++
	}
	locs := make([]recordLoc, len(batch))
	for i, hr := range batch {
		locs[i] = recordLoc{off: off, n: len(hr.line), at: hr.at}
		buf.Write(hr.line)
		buf.WriteByte('\n')
		off += int64(len(hr.line)) + 1
	}
	n, err := s.f.Write(buf.Bytes())
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		if terr := s.f.Truncate(s.size); terr != nil {
			s.size += int64(n)
			s.broken = true
		}
		return nil, err
	}
	s.size, s.broken = off, false
	return locs, nil
}

// retainLocked rewrites records.jsonl with the records retention keeps
// when it holds more than a quarter over Max, or a record older than Age
// by a quarter more: the slack spares a rewrite per flush. Records over
// Age are hidden from Get and Report at once. s.flushMu is held.
func (s *FileStore) retainLocked() error {
	now := s.now()
	s.mu.Lock()
	over := len(s.index) > s.ret.Max+s.ret.Max/4
	stale := !s.oldest.IsZero() && s.oldest.Before(now.Add(-(s.ret.Age + s.ret.Age/4)))
	if !over && !stale {
		s.mu.Unlock()
		return nil
	}
	kept := retain(s.index, now.Add(-s.ret.Age), s.ret.Max)
	before := len(s.index)
	s.mu.Unlock()

	path := filepath.Join(s.dir, recordsFile)
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	tmp := path + strings.TrimSuffix(tmpSuffix, "*") + hex.EncodeToString(suffix[:])
	nf, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	index, err := copyRecords(nf, s.f, kept)
	if err == nil {
		err = nf.Sync()
	}
	if err != nil {
		nf.Close()
		os.Remove(tmp)
		return err
	}
	fi, err := nf.Stat()
	if err != nil {
		nf.Close()
		os.Remove(tmp)
		return err
	}
	s.fileMu.Lock()
	if err := os.Rename(tmp, path); err != nil {
		s.fileMu.Unlock()
		nf.Close()
		os.Remove(tmp)
		return err
	}
	old := s.f
	s.f = nf
	s.mu.Lock()
	s.index, s.oldest = index, oldestOf(index)
	s.state.prune(func(id string) bool {
		_, ok := s.index[id]
		if !ok {
			_, ok = s.held[id]
		}
		return ok
	})
	s.dirty = true
	s.mu.Unlock()
	s.fileMu.Unlock()
	old.Close()
	s.size, s.broken = fi.Size(), false
	s.log.Info("shadow store: retention rewrote the records", "file", path, "kept", len(index), "removed", before-len(index))
	return syncDir(s.dir)
}

// Get returns a kept record not older than the retention age.
func (s *FileStore) Get(_ context.Context, id string) (*Record, error) {
	s.fileMu.RLock()
	defer s.fileMu.RUnlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	cutoff := s.now().Add(-s.ret.Age)
	if hr, ok := s.held[id]; ok {
		s.mu.Unlock()
		if hr.at.Before(cutoff) {
			return nil, notFound(id)
		}
		return decodeRecord(id, hr.line, "memory")
	}
	loc, ok := s.index[id]
	s.mu.Unlock()
	if !ok || loc.at.Before(cutoff) {
		return nil, notFound(id)
	}
	return readLine(s.f, id, loc)
}

func notFound(id string) error { return fmt.Errorf("shadow store: record %s: %w", id, ErrNotFound) }

// Report returns the routes' reports from memory.
func (s *FileStore) Report(_ context.Context, route string, opt ReportOptions) ([]RouteReport, error) {
	top, examples := opt.limits()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	cutoff := s.now().Add(-s.ret.Age)
	visible := func(id string, at time.Time) bool {
		if at.Before(cutoff) {
			return false
		}
		if _, ok := s.held[id]; ok {
			return true
		}
		_, ok := s.index[id]
		return ok
	}
	var names []string
	if route != "" {
		if _, ok := s.state.Routes[route]; ok {
			names = []string{route}
		}
	} else {
		for name := range s.state.Routes {
			names = append(names, name)
		}
		slices.Sort(names)
	}
	out := make([]RouteReport, 0, len(names))
	for _, name := range names {
		out = append(out, s.state.Routes[name].report(name, top, examples, s.state.routeNoise(name), visible))
	}
	return out, nil
}

// Noise lists the noise of route, or of every route for "".
func (s *FileStore) Noise(_ context.Context, route string) ([]Noise, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	return s.state.noiseOf(route), nil
}

// LearnNoise adds n sightings of path to route's noise.
func (s *FileStore) LearnNoise(_ context.Context, route, path string, n int64) error {
	if err := checkNoise(route, path, n); err != nil || n == 0 {
		return err
	}
	return s.changeNoise(func(st *fileState, now time.Time) { st.noiseItem(route, path, now).Count += n })
}

// PinNoise marks path as noise of route for good.
func (s *FileStore) PinNoise(_ context.Context, route, path string) error {
	if err := checkNoise(route, path, 0); err != nil {
		return err
	}
	return s.changeNoise(func(st *fileState, now time.Time) { st.noiseItem(route, path, now).Pinned = true })
}

// ClearNoise forgets path of route, or every unpinned path for "".
func (s *FileStore) ClearNoise(_ context.Context, route, path string) error {
	return s.changeNoise(func(st *fileState, _ time.Time) { st.clearNoise(route, path) })
}

func (s *FileStore) changeNoise(change func(st *fileState, now time.Time)) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	change(s.state, now)
	s.dirty = true
	return nil
}

// Close writes what is held, stops the flusher and releases the
// directory. Calling it again does nothing.
func (s *FileStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.stop()
	<-s.done
	s.flushMu.Lock()
	err := s.flushLocked()
	s.flushMu.Unlock()
	s.fileMu.Lock()
	cerr := s.f.Close()
	s.fileMu.Unlock()
	if cerr != nil {
		cerr = fmt.Errorf("shadow store: closing %s: %w", filepath.Join(s.dir, recordsFile), cerr)
	}
	lerr := s.lock.Close()
	if lerr != nil {
		lerr = fmt.Errorf("shadow store: releasing the lock of %s: %w", s.dir, lerr)
	}
	return errors.Join(err, cerr, lerr)
}

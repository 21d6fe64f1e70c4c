package store

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"
)

// recordLoc is where a kept record's line is in records.jsonl.
type recordLoc struct {
	off int64 // of the line's first byte
	n   int   // the line's length, without its newline
	at  time.Time
}

// lineHead is what the scan of records.jsonl reads of each line.
type lineHead struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
}

// scanRecords reads records.jsonl from f and returns the index of its
// records (a later line of the same id wins) and the length of its valid
// part. A corrupt line followed by more lines is skipped and logged; a
// last line that does not parse (a write cut short) is left out of the
// valid part, so that the caller truncates it away. A last line that
// parses but lacks its newline is valid; missingNewline says so.
func scanRecords(f io.Reader, name string, log *slog.Logger) (index map[string]recordLoc, valid int64, missingNewline bool, err error) {
	index = map[string]recordLoc{}
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	lineNo := 0
	for {
		line, rerr := r.ReadBytes('\n')
		if len(line) == 0 && rerr == io.EOF {
			return index, off, false, nil
		}
		if rerr != nil && rerr != io.EOF {
			return nil, 0, false, fmt.Errorf("reading %s: %w", name, rerr)
		}
		lineNo++
		terminated := rerr == nil
		body := bytes.TrimSuffix(line, []byte("\n"))
		if len(bytes.TrimSpace(body)) == 0 {
			off += int64(len(line))
			if !terminated {
				return index, off, false, nil
			}
			continue
		}
		var h lineHead
		perr := json.Unmarshal(body, &h)
		if perr == nil && h.ID == "" {
			perr = errors.New("no id")
		}
		if perr != nil {
			if !terminated || isLast(r) {
				log.Warn("shadow store: the last record line is incomplete (a write cut short); truncating it away",
					"file", name, "line", lineNo, "bytes", len(line), "error", perr.Error())
				return index, off, false, nil
			}
			log.Warn("shadow store: skipping a corrupt record line", "file", name, "line", lineNo, "offset", off, "error", perr.Error())
			off += int64(len(line))
			continue
		}
		index[h.ID] = recordLoc{off: off, n: len(body), at: h.At}
		off += int64(len(line))
		if !terminated {
			return index, off, true, nil
		}
	}
}

// isLast says whether nothing follows in r.
func isLast(r *bufio.Reader) bool {
	_, err := r.Peek(1)
	return err != nil
}

// readLine reads the line at loc from f and decodes it, checking that it
// is the record asked for.
func readLine(f *os.File, id string, loc recordLoc) (*Record, error) {
	buf := make([]byte, loc.n)
	if _, err := f.ReadAt(buf, loc.off); err != nil {
		return nil, fmt.Errorf("shadow store: reading record %s from %s: %w", id, f.Name(), err)
	}
	return decodeRecord(id, buf, f.Name())
}

func decodeRecord(id string, line []byte, where string) (*Record, error) {
	var rec Record
	if err := json.Unmarshal(line, &rec); err != nil {
		return nil, fmt.Errorf("shadow store: decoding record %s from %s: %w", id, where, err)
	}
	if rec.ID != id {
		return nil, fmt.Errorf("shadow store: reading record %s from %s: found record %q there", id, where, rec.ID)
	}
	return &rec, nil
}

// keptLoc is one entry of the index, for retention.
type keptLoc struct {
	id string
	recordLoc
}

// retain returns the entries of index to keep: those not older than
// cutoff, at most max of them, the newest; in file order.
func retain(index map[string]recordLoc, cutoff time.Time, max int) []keptLoc {
	all := make([]keptLoc, 0, len(index))
	for id, loc := range index {
		if !loc.at.Before(cutoff) {
			all = append(all, keptLoc{id, loc})
		}
	}
	if len(all) > max {
		slices.SortFunc(all, func(a, b keptLoc) int { return cmp.Or(b.at.Compare(a.at), cmp.Compare(b.off, a.off)) })
		all = all[:max]
	}
	slices.SortFunc(all, func(a, b keptLoc) int { return cmp.Compare(a.off, b.off) })
	return all
}

// copyRecords writes the lines of kept, read from src, to dst and returns
// their new index.
func copyRecords(dst io.Writer, src *os.File, kept []keptLoc) (map[string]recordLoc, error) {
	w := bufio.NewWriterSize(dst, 1<<20)
	index := make(map[string]recordLoc, len(kept))
	var off int64
	var buf []byte
	for _, k := range kept {
		if cap(buf) < k.n+1 {
			buf = make([]byte, k.n+1)
		}
		line := buf[:k.n+1]
		if _, err := src.ReadAt(line[:k.n], k.off); err != nil {
			return nil, fmt.Errorf("reading record %s: %w", k.id, err)
		}
		line[k.n] = '\n'
		if _, err := w.Write(line); err != nil {
			return nil, err
		}
		index[k.id] = recordLoc{off: off, n: k.n, at: k.at}
		off += int64(k.n + 1)
	}
	return index, w.Flush()
}

// oldestOf returns the time of the oldest entry of index (zero if empty).
func oldestOf(index map[string]recordLoc) time.Time {
	var oldest time.Time
	for _, loc := range index {
		if oldest.IsZero() || loc.at.Before(oldest) {
			oldest = loc.at
		}
	}
	return oldest
}

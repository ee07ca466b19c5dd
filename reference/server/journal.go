package server

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/pkarena/pkarena/reference/core"
)

// Files of the state directory (Config.StateDir).
const (
	// JournalFile holds the battle journal: the line journalHeader, then one core.Record a
	// line, as "<crc> <json>\n" where crc is the CRC-32C of the JSON in 8 hex digits.
	JournalFile = "battles.journal"
	// journalHeader starts every journal, so that a file of anything else is never taken
	// for one (and cut).
	journalHeader = "pkarena battle journal v1\n"
	// lockFile is held locked by the server that uses the directory.
	lockFile       = "lock"
	journalTmpFile = JournalFile + ".tmp"
)

// Bounds of the journal.
const (
	// maxRecordBytes bounds one line; a record is a few KB at most (100 results of 48-byte
	// room IDs), so a longer line is damage, not data.
	maxRecordBytes = 1 << 20
	// defaultCompactBytes is the size past which the journal is rewritten as a snapshot of
	// the battles kept (when it has also doubled since the last rewrite).
	defaultCompactBytes = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// journal is the battle journal of a state directory. Only the hub uses it after openJournal:
// it appends the records of each operation, then commits (flush and fsync) before it lets
// anything the operations caused leave the server, so every acknowledged score is on disk.
// The webhooks the operations made are recorded with them, and kept in outbox until an
// acknowledgement record says the receiver has them. When the hub stops it hands the journal
// over to the webhook sender, which records the acknowledgements of the last deliveries and
// closes it.
type journal struct {
	dir       string
	log       *slog.Logger
	f         *os.File
	w         *bufio.Writer
	lock      *os.File
	size      int64 // bytes written, buffered ones included
	base      int64 // size after the last rewrite
	compactAt int64
	sync      func(*os.File) error // (*os.File).Sync; tests inject failures and waits
	line      []byte               // encoding buffer
	outbox    *outbox              // the webhooks recorded and not acknowledged
	// lazy makes commit write without syncing, until close syncs once: set for a shutdown,
	// which acknowledges nothing (REST calls are refused by then) and would otherwise pay one
	// fsync for every connection it ends. A crash before close leaves battles a restart ends
	// with the same scores, and end webhooks queued again under the same EventId.
	lazy bool
}

// openJournal locks dir (creating it if needed), reads its journal and returns it open for
// appending, with the battle records it holds; the webhooks it recorded and saw no
// acknowledgement of are in the journal's outbox, in order. A journal cut short by a crash ends at its last whole
// record: what follows was never synced, so never acknowledged, and is dropped with a warning.
// A damaged record followed by good ones is an error: the journal is not trusted.
func openJournal(dir string, log *slog.Logger, compactAt int64, sync func(*os.File) error) (*journal, []core.Record, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("state directory: %w", err)
	}
	lock, err := lockDir(filepath.Join(dir, lockFile))
	if err != nil {
		return nil, nil, fmt.Errorf("state directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, JournalFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		lock.Close()
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	recs, good, err := readJournal(f, path, log)
	if err == nil {
		err = cutJournal(f, good, sync)
	}
	if err == nil && good == 0 {
		good, err = startJournal(f, sync)
	}
	if err != nil {
		f.Close()
		lock.Close()
		return nil, nil, err
	}
	if compactAt <= 0 {
		compactAt = defaultCompactBytes
	}
	battles, box := splitRecords(recs)
	j := &journal{dir: dir, log: log, f: f, w: bufio.NewWriterSize(f, 64<<10), lock: lock, size: good, base: good, compactAt: compactAt, sync: sync, outbox: box}
	if box.len() > 0 {
		log.Info("webhook outbox: webhooks recorded and not acknowledged, sent again once a webhook URL is set", "path", path, "webhooks", box.len())
	}
	return j, battles, nil
}

// splitRecords separates the battle records from the outbox's: the webhooks recorded, less
// those acknowledged.
func splitRecords(recs []journalRecord) ([]core.Record, *outbox) {
	var battles []core.Record
	box := newOutbox()
	for _, r := range recs {
		switch r.Kind {
		case recordHook:
			box.add(core.Hook{Command: r.Command, EventID: r.Event, OptPlatform: r.Platform, ClientIP: r.ClientIP, Body: r.Body})
		case recordHookAck:
			box.ack(r.Event)
		default:
			battles = append(battles, r.Record)
		}
	}
	return battles, box
}

// readJournal reads every whole record of f and returns them with the length of the good
// prefix of the file.
func readJournal(f *os.File, path string, log *slog.Logger) ([]journalRecord, int64, error) {
	r := bufio.NewReaderSize(f, 64<<10)
	head := make([]byte, len(journalHeader))
	n, err := io.ReadFull(r, head)
	switch {
	case err != nil && err != io.EOF && err != io.ErrUnexpectedEOF:
		return nil, 0, fmt.Errorf("journal %s: %w", path, err)
	case string(head[:n]) != journalHeader[:n]:
		return nil, 0, fmt.Errorf("journal %s: not a pkarena battle journal (its first line is not %q)", path, strings.TrimSpace(journalHeader))
	case n < len(journalHeader): // empty, or a header a crash cut short
		return nil, 0, nil
	}
	var (
		recs         []journalRecord
		off, good    = int64(n), int64(n)
		bad          string // why the first bad line since the last good one is bad
		badAt, lines = 0, 1
	)
	for {
		line, err := readLine(r)
		if err != nil && err != io.EOF {
			return nil, 0, fmt.Errorf("journal %s: %w", path, err)
		}
		if len(line) == 0 {
			break
		}
		lines++
		off += int64(len(line))
		rec, why := decodeLine(line) // a last line without its '\n' is bad too
		switch {
		case why != "" && bad == "":
			bad, badAt = why, lines
		case why != "":
		case bad != "":
			return nil, 0, fmt.Errorf("journal %s: line %d is damaged (%s) and good records follow it: refusing to start on a journal that lost acknowledged data; move it aside to start empty", path, badAt, bad)
		default:
			recs = append(recs, rec)
			good = off
		}
	}
	if bad != "" {
		log.Warn("journal: dropping the unfinished end a crash left (never synced, so never acknowledged)",
			"path", path, "line", badAt, "reason", bad, "bytes", off-good)
	}
	return recs, good, nil
}

// readLine reads one line with its '\n'; io.EOF with the bytes of a last line that has none.
// A line over maxRecordBytes is an error.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxRecordBytes {
			return nil, fmt.Errorf("a line of more than %d bytes", maxRecordBytes)
		}
		if err != bufio.ErrBufferFull {
			return line, err
		}
	}
}

// decodeLine parses "<crc> <json>\n"; why is "" for a good record. A webhook record
// without its EventId is bad.
func decodeLine(line []byte) (rec journalRecord, why string) {
	body, ok := bytes.CutSuffix(line, []byte{'\n'})
	if !ok {
		return rec, "no end of line"
	}
	if len(body) < 10 || body[8] != ' ' {
		return rec, "not <crc> <json>"
	}
	var sum [4]byte
	if _, err := hex.Decode(sum[:], body[:8]); err != nil {
		return rec, "a checksum that is not hex"
	}
	data := body[9:]
	if crc32.Checksum(data, castagnoli) != uint32(sum[0])<<24|uint32(sum[1])<<16|uint32(sum[2])<<8|uint32(sum[3]) {
		return rec, "checksum mismatch"
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, "bad JSON: " + err.Error()
	}
	if (rec.Kind == recordHook || rec.Kind == recordHookAck) && rec.Event == "" {
		return rec, "a webhook record without its EventId"
	}
	return rec, ""
}

// startJournal writes the header of an empty journal and syncs it; it returns its length.
func startJournal(f *os.File, sync func(*os.File) error) (int64, error) {
	if _, err := f.WriteString(journalHeader); err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	if err := sync(f); err != nil {
		return 0, fmt.Errorf("journal: sync: %w", err)
	}
	return int64(len(journalHeader)), nil
}

// cutJournal truncates f to its good prefix, syncs it and positions it for appending.
func cutJournal(f *os.File, good int64, sync func(*os.File) error) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if st.Size() != good {
		if err := f.Truncate(good); err != nil {
			return fmt.Errorf("journal: drop the unfinished end: %w", err)
		}
		if err := sync(f); err != nil {
			return fmt.Errorf("journal: sync: %w", err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// encodeRecord appends the line of rec to dst.
func encodeRecord(dst []byte, rec core.Record) ([]byte, error) {
	return encodeLine(dst, rec.Kind, rec)
}

// encodeLine appends the line of rec, a core.Record or a journalRecord of kind, to dst.
func encodeLine(dst []byte, kind string, rec any) ([]byte, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return dst, fmt.Errorf("journal: encode a %s record: %w", kind, err)
	}
	sum := crc32.Checksum(data, castagnoli)
	dst = hex.AppendEncode(dst, []byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	dst = append(dst, ' ')
	dst = append(dst, data...)
	return append(dst, '\n'), nil
}

// append buffers recs; commit makes them durable.
func (j *journal) append(recs []core.Record) error {
	for _, rec := range recs {
		var err error
		if j.line, err = encodeRecord(j.line[:0], rec); err != nil {
			return err
		}
		if err := j.write(); err != nil {
			return err
		}
	}
	return nil
}

// write buffers the line encoded last.
func (j *journal) write() error {
	if _, err := j.w.Write(j.line); err != nil {
		return fmt.Errorf("journal: write: %w", err)
	}
	j.size += int64(len(j.line))
	return nil
}

// appendHooks keeps hooks in the outbox and buffers their records; commit makes them
// durable. A hook whose EventId the outbox holds already is not kept twice.
func (j *journal) appendHooks(hooks []core.Hook) error {
	for _, h := range hooks {
		h, err := rawHook(h)
		if err != nil {
			return err
		}
		if !j.outbox.add(h) {
			continue
		}
		if j.line, err = encodeLine(j.line[:0], recordHook, hookRecord(h)); err != nil {
			return err
		}
		if err := j.write(); err != nil {
			return err
		}
	}
	return nil
}

// ackHook forgets the webhook with EventId id and writes its acknowledgement record to the
// file, without a sync: an acknowledgement a power failure loses costs one more delivery of
// the event, never a lost one. An EventId the outbox does not hold is ignored.
func (j *journal) ackHook(id string) error {
	if !j.outbox.ack(id) {
		return nil
	}
	var err error
	if j.line, err = encodeLine(j.line[:0], recordHookAck, journalRecord{Record: core.Record{Kind: recordHookAck}, Event: id}); err != nil {
		return err
	}
	if err := j.write(); err != nil {
		return err
	}
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("journal: write: %w", err)
	}
	return nil
}

// commit writes what append buffered and syncs it to stable storage.
func (j *journal) commit() error {
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("journal: write: %w", err)
	}
	if j.lazy {
		return nil
	}
	if err := j.sync(j.f); err != nil {
		return fmt.Errorf("journal: sync: %w", err)
	}
	return nil
}

// oversized tells whether the journal should be rewritten: past compactAt, and doubled since
// the last rewrite (so that a large state is not rewritten at every commit).
func (j *journal) oversized() bool {
	return j.size > j.compactAt && j.size > 2*j.base
}

// rewrite replaces the journal with recs (a core.Snapshot) and the outbox's webhooks, in
// order: written to a new file and synced, renamed over the journal, the directory synced. A
// crash at any point leaves one whole journal, the old or the new.
func (j *journal) rewrite(recs []core.Record) error {
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("journal: write: %w", err)
	}
	tmp := filepath.Join(j.dir, journalTmpFile)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("journal: rewrite: %w", err)
	}
	w := bufio.NewWriterSize(f, 64<<10)
	size := int64(len(journalHeader))
	_, err = w.WriteString(journalHeader)
	for _, rec := range recs {
		if err != nil {
			break
		}
		if j.line, err = encodeRecord(j.line[:0], rec); err != nil {
			break
		}
		if _, err = w.Write(j.line); err != nil {
			break
		}
		size += int64(len(j.line))
	}
	hooks := j.outbox.pending()
	for _, h := range hooks {
		if err != nil {
			break
		}
		if j.line, err = encodeLine(j.line[:0], recordHook, hookRecord(h)); err != nil {
			break
		}
		if _, err = w.Write(j.line); err != nil {
			break
		}
		size += int64(len(j.line))
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = j.sync(f)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(j.dir, JournalFile))
	}
	if err == nil {
		err = syncDir(j.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("journal: rewrite: %w", err)
	}
	// The file is the journal now: opened again by that name, so that its errors name it
	// (an *os.File keeps the name it was opened with, here the temporary one).
	// Failing that, the journal works on through the old handle, with a warning.
	nf, err := os.OpenFile(filepath.Join(j.dir, JournalFile), os.O_RDWR, 0o600)
	if err == nil {
		if _, err = nf.Seek(0, io.SeekEnd); err == nil {
			f.Close()
			f = nf
		} else {
			nf.Close()
		}
	}
	if err != nil {
		j.log.Warn("journal: rewritten, but not opened again by its name: its errors will name the temporary file", "dir", j.dir, "err", err)
	}
	j.f.Close()
	j.f, j.size, j.base = f, size, size
	j.w.Reset(f)
	j.log.Info("journal rewritten", "records", len(recs), "webhooks", len(hooks), "bytes", size)
	return nil
}

// close commits what is buffered and releases the file and the directory's lock.
func (j *journal) close() error {
	j.lazy = false
	err := j.commit()
	err = errors.Join(err, j.f.Close(), j.lock.Close())
	return err
}

// abandon closes the file and releases the lock without writing anything more (the journal
// failed).
func (j *journal) abandon() {
	j.f.Close()
	j.lock.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

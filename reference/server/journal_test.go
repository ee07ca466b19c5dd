package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/reference/core"
	"github.com/pkarena/pkarena/reference/protocol"
)

// journalLine is the journal line of rec.
func journalLine(t testing.TB, rec core.Record) string {
	t.Helper()
	line, err := encodeRecord(nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	return string(line)
}

func TestOpenJournal(t *testing.T) {
	start := core.Record{Kind: core.RecordStart, BattleID: "b1", At: 1000, Config: &protocol.BattleConfig{Duration: 60},
		Board: []core.RecordEntrant{{LiveID: "r-a", UserID: "a"}, {LiveID: "r-b", UserID: "b"}}}
	score := core.Record{Kind: core.RecordScore, BattleID: "b1", At: 2000, Version: 1, Scores: []int64{5, 0}}
	good := journalHeader + journalLine(t, start) + journalLine(t, score)
	flipped := []byte(journalLine(t, score))
	flipped[20] ^= 1 // a bit the checksum covers
	for _, tt := range []struct {
		name    string
		content string
		records int
		size    int    // the file's size afterwards
		err     string // "" for success
	}{
		{"a new journal gets its header", "", 0, len(journalHeader), ""},
		{"a header a crash cut short", journalHeader[:7], 0, len(journalHeader), ""},
		{"whole records", good, 2, len(good), ""},
		{"a torn last record is dropped", good + journalLine(t, score)[:30], 2, len(good), ""},
		{"a last record without its end of line is dropped", good + strings.TrimSuffix(journalLine(t, score), "\n"), 2, len(good), ""},
		{"a damaged last record is dropped", good + string(flipped), 2, len(good), ""},
		{"damage before good records is refused", journalHeader + journalLine(t, start) + string(flipped) + journalLine(t, score), 0, 0, "line 3 is damaged (checksum mismatch) and good records follow"},
		{"a line over 1 MiB is refused", journalHeader + strings.Repeat("x", maxRecordBytes+1), 0, 0, "more than 1048576 bytes"},
		{"another file is refused, not cut", "name,score\nalice,3\n", 0, 0, "not a pkarena battle journal"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, JournalFile)
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			j, recs, err := openJournal(dir, quietLogger(), 0, (*os.File).Sync)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("openJournal = %v; want an error containing %q", err, tt.err)
				}
				if after, _ := os.ReadFile(path); string(after) != tt.content {
					t.Errorf("a refused journal was changed")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer j.close()
			if len(recs) != tt.records {
				t.Errorf("%d records; want %d", len(recs), tt.records)
			}
			if st, _ := os.Stat(path); st.Size() != int64(tt.size) {
				t.Errorf("file of %d bytes; want %d", st.Size(), tt.size)
			}
		})
	}
}

// A journal appended to after a cut-short end, rewritten, and reopened gives back every record.
func TestJournalAppendRewriteReopen(t *testing.T) {
	dir := t.TempDir()
	rec := func(i int) core.Record {
		return core.Record{Kind: core.RecordScore, BattleID: "b1", At: int64(i), Version: uint64(i), Key: fmt.Sprint("k", i), Response: &protocol.SetBattleScoreResponse{ScoreVersion: uint64(i)}}
	}
	var synced []string // the files synced, by base name
	j, _, err := openJournal(dir, quietLogger(), 0, func(f *os.File) error {
		synced = append(synced, filepath.Base(f.Name()))
		return f.Sync()
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err := j.append([]core.Record{rec(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.commit(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := openJournal(dir, quietLogger(), 0, (*os.File).Sync); err == nil || !strings.Contains(err.Error(), "in use by another server") {
		t.Errorf("a second server on the directory: %v; want it refused", err)
	}
	synced = nil
	if err := j.rewrite([]core.Record{rec(6), rec(7)}); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(synced, journalTmpFile) {
		t.Errorf("the rewrite synced %v; want the new file (%s) synced before it is renamed", synced, journalTmpFile)
	}
	if err := j.append([]core.Record{rec(8), rec(9)}); err != nil { // two records in one append
		t.Fatal(err)
	}
	if err := j.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, journalTmpFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the rewrite left %s: %v", journalTmpFile, err)
	}
	j, recs, err := openJournal(dir, quietLogger(), 0, (*os.File).Sync)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	if want := []core.Record{rec(6), rec(7), rec(8), rec(9)}; !reflect.DeepEqual(recs, want) {
		t.Errorf("records after the rewrite %+v; want %+v", recs, want)
	}
}

// journalScene starts hosts a and b in rooms ra and rb and a REST battle between them.
func journalScene(t *testing.T, base string) (a, b *rawClient, battleID string) {
	t.Helper()
	a, b = dial(t, base, "a"), dial(t, base, "b")
	for c, room := range map[*rawClient]string{a: "ra", b: "rb"} {
		if f := c.call(protocol.ReqCreateLive, map[string]any{"liveID": room}); *f.Code != 0 {
			t.Fatalf("createLive: %d", *f.Code)
		}
	}
	code, resp := restPost(t, base, protocol.APICreateBattle, `{"FromRoomId":"ra","ToRoomIdList":["rb"],"Duration":300000}`)
	if code != 0 {
		t.Fatalf("create_battle: %d", code)
	}
	return a, b, resp["BattleId"].(string)
}

func scoreBody(battleID, key, room string, score int) string {
	return fmt.Sprintf(`{"BattleId":%q,"OpType":1,"IdempotencyKey":%q,"ScoreList":[{"RoomId":%q,"Score":%d}]}`, battleID, key, room, score)
}

// crashImage copies the state directory as a crash would leave it on disk: what the server
// wrote and synced so far, nothing it still meant to write.
func crashImage(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	image := t.TempDir()
	if err := os.WriteFile(filepath.Join(image, JournalFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return image
}

// welcomeFeatures connects user and returns the features its welcome advertises.
func welcomeFeatures(t *testing.T, base, user string) protocol.Features {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(wsURL(t, base, user, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var f struct {
		Payload protocol.Welcome `json:"payload"`
	}
	if err := ws.ReadJSON(&f); err != nil {
		t.Fatal(err)
	}
	return f.Payload.Features
}

// A server started on the state a crash left keeps every acknowledged score: the battle is
// ended with those scores, a retried IdempotencyKey gets its first response, a new one 100421,
// and the backend gets the end webhook the crash prevented. Only a server with a state
// directory advertises durableScores, and it counts its journal's records and commits.
func TestRestartKeepsAcknowledgedScores(t *testing.T) {
	dir := t.TempDir()
	_, base := newTestServer(t, func(c *Config) { c.StateDir = dir })
	if _, memory := newTestServer(t, nil); welcomeFeatures(t, memory, "m").DurableScores {
		t.Errorf("a server without a state directory advertises durableScores")
	}
	if !welcomeFeatures(t, base, "w").DurableScores {
		t.Errorf("a server with a state directory does not advertise durableScores")
	}
	_, _, id := journalScene(t, base)
	var first []map[string]any
	for i, room := range []string{"ra", "rb", "ra"} {
		code, resp := restPost(t, base, protocol.APISetBattleScore, scoreBody(id, fmt.Sprint("gift-", i), room, 10*(i+1)))
		if code != 0 {
			t.Fatalf("set_battle_score: %d", code)
		}
		first = append(first, resp)
	}
	if code, _ := restPost(t, base, protocol.APISetBattleScore, scoreBody(id, "gift-0", "ra", 10)); code != 0 {
		t.Fatalf("a retry before the crash: %d", code)
	}

	fams := scrape(t, base)
	if got := value(fams, "pkarena_journal_records_total"); got != 4 {
		t.Errorf("journal records = %v; want 4 (the start and three updates; the retry adds none)", got)
	}
	if got := value(fams, "pkarena_journal_commit_seconds"); got < 4 {
		t.Errorf("journal commits = %v; want one at least for each record's operation", got)
	}

	ends := make(chan string, 4)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("CallbackCommand") == protocol.HookEndBattle {
			ends <- r.Header.Get("X-Pkarena-Event-Id")
		}
	}))
	defer receiver.Close()
	_, after := newTestServer(t, func(c *Config) { c.StateDir = crashImage(t, dir); c.WebhookURL = receiver.URL })
	select {
	case ev := <-ends:
		if ev != id+"-end" {
			t.Errorf("end webhook after the restart has EventId %q; want %q", ev, id+"-end")
		}
	case <-time.After(waitTimeout):
		t.Errorf("no end webhook for the battle the crash interrupted")
	}
	code, info := restPost(t, after, protocol.APIGetBattleInfo, fmt.Sprintf(`{"BattleId":%q}`, id))
	if code != 0 {
		t.Fatalf("get_battle_info after the restart: %d", code)
	}
	from, to := info["FromRoomInfo"].(map[string]any), info["ToRoomList"].([]any)[0].(map[string]any)
	if info["Status"] != float64(protocol.BattleStatusEnded) || info["ScoreVersion"] != float64(3) || from["Score"] != float64(40) || to["Score"] != float64(20) {
		t.Errorf("after the restart: %v; want ended, version 3, ra 40 and rb 20", info)
	}
	for i, room := range []string{"ra", "rb", "ra"} {
		code, resp := restPost(t, after, protocol.APISetBattleScore, scoreBody(id, fmt.Sprint("gift-", i), room, 10*(i+1)))
		if code != 0 || !reflect.DeepEqual(resp, first[i]) {
			t.Errorf("gift-%d retried after the restart: %d %v; want the first response %v", i, code, resp, first[i])
		}
	}
	if code, _ := restPost(t, after, protocol.APISetBattleScore, scoreBody(id, "gift-new", "ra", 1)); code != protocol.ErrBattleAlreadyEnded.Code {
		t.Errorf("a new update after the restart: %d; want 100421", code)
	}
}

// gatedSync is a journal sync that, once armed, reports each call on entered and waits for
// release before syncing.
type gatedSync struct {
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
	fail    atomic.Bool // return an error instead
}

func newGatedSync() *gatedSync {
	return &gatedSync{entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (g *gatedSync) sync(f *os.File) error {
	if g.fail.Load() {
		return errors.New("disk full")
	}
	if g.armed.Load() {
		g.entered <- struct{}{}
		<-g.release
	}
	return f.Sync()
}

// While a score update's record is being synced, neither its REST answer nor its
// onBattleScoreChanged frames have left the hub: they wait in its held outputs. Once the sync
// returns, both go out.
func TestNothingLeavesBeforeTheSync(t *testing.T) {
	gate := newGatedSync()
	srv, base := newTestServer(t, func(c *Config) { c.StateDir = t.TempDir(); c.journalSync = gate.sync })
	a, _, id := journalScene(t, base)
	gate.armed.Store(true)
	answered := make(chan int, 1)
	go func() {
		code, _ := restPost(t, base, protocol.APISetBattleScore, scoreBody(id, "k1", "ra", 5))
		answered <- code
	}()
	<-gate.entered // the hub is inside the commit of the update's record, until release
	var rest int
	events := map[string]int{}
	for _, o := range srv.hub.held { // the hub waits on release: reading its state is safe
		switch {
		case o.rest != nil:
			rest++
		case o.frame != nil:
			events[o.frame.typ]++
		}
	}
	if rest != 1 || events[protocol.EvBattleScoreChanged] != 2 {
		t.Errorf("held during the sync: %d REST outcomes, events %v; want the outcome and both hosts' %s", rest, events, protocol.EvBattleScoreChanged)
	}
	select {
	case code := <-answered:
		t.Fatalf("set_battle_score answered %d before its record was synced", code)
	default:
	}
	gate.armed.Store(false)
	close(gate.release)
	if code := <-answered; code != 0 {
		t.Fatalf("set_battle_score: %d", code)
	}
	for f := a.read(); f.Type != protocol.EvBattleScoreChanged; f = a.read() {
	}
}

// A journal that cannot be written stops the server: the update is not acknowledged
// (100001), every connection is closed with 1011, and Failed is closed with the cause.
func TestJournalFailureStopsTheServer(t *testing.T) {
	gate := newGatedSync()
	srv, base := newTestServer(t, func(c *Config) { c.StateDir = t.TempDir(); c.journalSync = gate.sync })
	a, b, id := journalScene(t, base)
	gate.fail.Store(true)
	if code, _ := restPost(t, base, protocol.APISetBattleScore, scoreBody(id, "k1", "ra", 5)); code != protocol.ErrInternal.Code {
		t.Errorf("set_battle_score with a failing journal: %d; want 100001", code)
	}
	select {
	case <-srv.Failed():
	case <-time.After(waitTimeout):
		t.Fatal("Failed not closed")
	}
	if err := srv.Err(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Err() = %v; want the sync's error", err)
	}
	for _, c := range []*rawClient{a, b} {
		if code := closeCodeOf(t, c.ws); code != websocket.CloseInternalServerErr {
			t.Errorf("close code %d; want 1011", code)
		}
	}
}

// A journal past its size bound is rewritten as a snapshot of the battles: it stays small,
// and a restart from it still has every score.
func TestJournalIsRewrittenWhenLarge(t *testing.T) {
	dir := t.TempDir()
	_, base := newTestServer(t, func(c *Config) { c.StateDir = dir; c.journalCompactBytes = 4 << 10; c.RESTRateLimit = 10000 })
	_, _, id := journalScene(t, base)
	const updates = 300
	for i := 0; i < updates; i++ {
		body := fmt.Sprintf(`{"BattleId":%q,"OpType":1,"ScoreList":[{"RoomId":"ra","Score":1}]}`, id)
		if code, _ := restPost(t, base, protocol.APISetBattleScore, body); code != 0 {
			t.Fatalf("update %d: %d", i, code)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(data, []byte{'\n'}); lines > updates/3 {
		t.Errorf("the journal holds %d lines after %d updates; want it rewritten", lines, updates)
	}
	_, after := newTestServer(t, func(c *Config) { c.StateDir = crashImage(t, dir) })
	_, info := restPost(t, after, protocol.APIGetBattleInfo, fmt.Sprintf(`{"BattleId":%q}`, id))
	if info["ScoreVersion"] != float64(updates) || info["FromRoomInfo"].(map[string]any)["Score"] != float64(updates) {
		t.Errorf("after the restart: %v; want version and score %d", info, updates)
	}
}

// After a rewrite the journal's errors name the journal, not the temporary file it was
// written as (issue 13).
func TestRewrittenJournalKeepsItsName(t *testing.T) {
	dir := t.TempDir()
	j, _, err := openJournal(dir, quietLogger(), 0, (*os.File).Sync)
	if err != nil {
		t.Fatal(err)
	}
	defer j.abandon()
	if err := j.rewrite(nil); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, JournalFile); j.f.Name() != want {
		t.Fatalf("after a rewrite the journal's file is %q; want %q", j.f.Name(), want)
	}
	if _, err := os.Stat(filepath.Join(dir, journalTmpFile)); !os.IsNotExist(err) {
		t.Errorf("the temporary file is still there: %v", err)
	}
	// Writes after the rewrite land at the end of the journal.
	if err := j.append([]core.Record{{Kind: core.RecordEnd, BattleID: "b", At: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := j.commit(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, JournalFile))
	if !bytes.HasPrefix(data, []byte(journalHeader)) || bytes.Count(data, []byte{'\n'}) != 2 {
		t.Errorf("journal after a rewrite and one record: %q; want the header and one line", data)
	}
}

// FuzzOpenJournal feeds arbitrary files to openJournal and the records it returns to
// core.Restore: neither may panic; a journal it accepts is cut to a prefix of the file, and
// opening it again gives back the same records and webhook outbox without cutting anything
// more.
func FuzzOpenJournal(f *testing.F) {
	start := core.Record{Kind: core.RecordStart, BattleID: "b1", At: 1000, Config: &protocol.BattleConfig{Duration: 60},
		Board: []core.RecordEntrant{{LiveID: "r-a", UserID: "a"}, {LiveID: "r-b", UserID: "b"}}}
	score := core.Record{Kind: core.RecordScore, BattleID: "b1", At: 2000, Version: 1, Scores: []int64{5, 0}, Key: "k",
		Response: &protocol.SetBattleScoreResponse{ScoreVersion: 1}}
	end := core.Record{Kind: core.RecordEnd, BattleID: "b1", At: 3000}
	good := journalHeader + journalLine(f, start) + journalLine(f, score) + journalLine(f, end)
	outboxLine := func(r journalRecord) string {
		line, err := encodeLine(nil, r.Kind, r)
		if err != nil {
			f.Fatal(err)
		}
		return string(line)
	}
	hook := outboxLine(journalRecord{Record: core.Record{Kind: recordHook}, Event: "b1-end", Command: protocol.HookEndBattle, Body: json.RawMessage(`{"BattleId":"b1"}`)})
	ack := outboxLine(journalRecord{Record: core.Record{Kind: recordHookAck}, Event: "b1-end"})
	noEvent := outboxLine(journalRecord{Record: core.Record{Kind: recordHookAck}})
	for _, seed := range []string{"", journalHeader, good, good[:len(good)-3], journalHeader + "00000000 {}\n", "x",
		good + hook, good + hook + ack, good + hook + hook, good + noEvent} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, JournalFile)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		j, recs, err := openJournal(dir, quietLogger(), 0, func(*os.File) error { return nil })
		if err != nil {
			return
		}
		hooks := j.outbox.pending()
		j.close()
		after, _ := os.ReadFile(path)
		if len(after) > len(journalHeader) && !bytes.HasPrefix(content, after) {
			t.Fatalf("the accepted journal is not a prefix of the file")
		}
		j, again, err := openJournal(dir, quietLogger(), 0, func(*os.File) error { return nil })
		if err != nil {
			t.Fatalf("reopening an accepted journal: %v", err)
		}
		hooksAgain := j.outbox.pending()
		j.close()
		if !reflect.DeepEqual(recs, again) {
			t.Fatalf("reopened: %d records; first open %d", len(again), len(recs))
		}
		if !reflect.DeepEqual(hooks, hooksAgain) {
			t.Fatalf("reopened: %d webhooks in the outbox; first open %d", len(hooksAgain), len(hooks))
		}
		c := core.New(core.Config{BattleRetention: 10 * time.Minute, Journal: true}, realClock{})
		_ = c.Restore(recs)
	})
}

// A shutdown syncs the journal once, not once for every connection it ends: with a slow disk
// and many battles, per-connection syncs took the hub past the shutdown deadline.
func TestShutdownSyncsTheJournalOnce(t *testing.T) {
	var syncs atomic.Int64
	srv, base := newTestServer(t, func(c *Config) {
		c.StateDir = t.TempDir()
		c.journalSync = func(f *os.File) error { syncs.Add(1); return f.Sync() }
	})
	const battles = 8
	for i := range battles {
		a, b := dial(t, base, fmt.Sprint("sa", i)), dial(t, base, fmt.Sprint("sb", i))
		for c, room := range map[*rawClient]string{a: fmt.Sprint("ra", i), b: fmt.Sprint("rb", i)} {
			if f := c.call(protocol.ReqCreateLive, map[string]any{"liveID": room}); *f.Code != 0 {
				t.Fatalf("createLive: %d", *f.Code)
			}
		}
		if code, _ := restPost(t, base, protocol.APICreateBattle, fmt.Sprintf(`{"FromRoomId":"ra%d","ToRoomIdList":["rb%d"],"Duration":300000}`, i, i)); code != 0 {
			t.Fatalf("create_battle: %d", code)
		}
	}
	before := syncs.Load()
	srv.Close()
	if n := syncs.Load() - before; n > 1 {
		t.Errorf("the shutdown synced the journal %d times for %d battles; want once", n, battles)
	}
}

// readLine takes a line of exactly maxRecordBytes, '\n' included, and refuses one a byte
// longer; a last line without its '\n' comes with io.EOF.
func TestReadLineBound(t *testing.T) {
	for _, tt := range []struct {
		name    string
		text    string
		want    int // the line's length; -1: refused
		wantEOF bool
	}{
		{"at the bound", strings.Repeat("x", maxRecordBytes-1) + "\n", maxRecordBytes, false},
		{"one byte over", strings.Repeat("x", maxRecordBytes) + "\n", -1, false},
		{"a last line without its newline", "{}", 2, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			line, err := readLine(bufio.NewReader(strings.NewReader(tt.text)))
			switch {
			case tt.want < 0:
				if err == nil || !strings.Contains(err.Error(), "a line of more than") {
					t.Errorf("readLine = %d bytes, %v; want it refused", len(line), err)
				}
			case len(line) != tt.want || (err == io.EOF) != tt.wantEOF || (err != nil && err != io.EOF):
				t.Errorf("readLine = %d bytes, %v; want %d bytes, EOF %v", len(line), err, tt.want, tt.wantEOF)
			}
		})
	}
}

// A REST call that records nothing itself (get_battle_info, a retried IdempotencyKey) handled
// while an earlier update waits for its sync must not reveal that update before it is
// durable: its answer waits for the same commit as the update's.
func TestAnswersThatRecordNothingWaitForThePendingSync(t *testing.T) {
	gate := newGatedSync()
	srv, base := newTestServer(t, func(c *Config) { c.StateDir = t.TempDir(); c.journalSync = gate.sync })
	_, _, id := journalScene(t, base)
	gate.armed.Store(true)
	released := false
	defer func() {
		gate.armed.Store(false)
		if !released {
			close(gate.release)
		}
	}()
	// queued waits until n messages wait in the hub's inbox: the hub, inside a commit, reads none.
	queued := func(n int) {
		t.Helper()
		waitFor(t, func() error {
			if got := len(srv.inbox); got < n {
				return fmt.Errorf("%d messages in the hub's inbox; want %d", got, n)
			}
			return nil
		})
	}
	done := make(chan string, 4)
	go func() {
		code, _ := restPost(t, base, protocol.APISetBattleScore, scoreBody(id, "k0", "ra", 1))
		done <- fmt.Sprint("k0 ", code)
	}()
	<-gate.entered // the hub is inside k0's commit
	go func() {
		code, _ := restPost(t, base, protocol.APISetBattleScore, scoreBody(id, "k1", "ra", 5))
		done <- fmt.Sprint("k1 ", code)
	}()
	queued(1) // k1, then its retry and the query behind it
	go func() {
		_, resp := restPost(t, base, protocol.APISetBattleScore, scoreBody(id, "k1", "ra", 5))
		done <- fmt.Sprint("k1 retried: version ", resp["ScoreVersion"])
	}()
	go func() {
		_, info := restPost(t, base, protocol.APIGetBattleInfo, fmt.Sprintf(`{"BattleId":%q}`, id))
		done <- fmt.Sprint("get_battle_info: version ", info["ScoreVersion"])
	}()
	queued(3)
	gate.release <- struct{}{} // k0's sync returns: k1, its retry and the query are handled in one batch
	<-gate.entered             // the hub is inside k1's commit
	answers := 0
	for deadline := time.After(500 * time.Millisecond); answers >= 0; {
		select {
		case got := <-done:
			answers++
			if !strings.HasPrefix(got, "k0 ") {
				t.Errorf("answered while k1's record was not yet synced: %q", got)
			}
		case <-deadline:
			released = true
			gate.armed.Store(false)
			close(gate.release)
			for ; answers < 4; answers++ {
				if got := <-done; strings.Contains(got, "version") && !strings.HasSuffix(got, " 2") {
					t.Errorf("after k1's sync: %q; want version 2 (k0, k1)", got)
				}
			}
			answers = -1
		}
	}
}

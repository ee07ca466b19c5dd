package server

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkarena/pkarena/reference/protocol"
)

// panicChildEnv names the state directory of the child process TestAPanicStopsTheServer
// runs itself as.
const panicChildEnv = "PKARENA_TEST_PANIC_CHILD"

// A panic in the hub stops the server (crash-only): the process exits with the operation
// logged, and a server started on its state directory has every acknowledged score. The
// child is this test binary run again; a panic planted in the hub fires on get_battle_info.
func TestAPanicStopsTheServer(t *testing.T) {
	if dir := os.Getenv(panicChildEnv); dir != "" {
		panicChild(t, dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAPanicStopsTheServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), panicChildEnv+"="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	// 2 is what the Go runtime exits with on an unrecovered panic; a child whose server
	// recovered ends with 0 (panicChild exits so when its call is answered).
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("child: %v; want exit status 2, from the unrecovered panic\n%s", err, out.String())
	}
	for _, want := range []string{"panic: planted panic", "the hub panicked", "rest=" + protocol.APIGetBattleInfo} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("child's output lacks %q:\n%s", want, out.String())
		}
	}
	idData, err := os.ReadFile(filepath.Join(dir, "battle-id"))
	if err != nil {
		t.Fatalf("the child never got to the panic: %v\n%s", err, out.String())
	}
	id := string(idData)
	_, base := newTestServer(t, func(c *Config) { c.StateDir = dir })
	code, info := restPost(t, base, protocol.APIGetBattleInfo, fmt.Sprintf(`{"BattleId":%q}`, id))
	if code != 0 {
		t.Fatalf("get_battle_info after the restart: %d", code)
	}
	from := info["FromRoomInfo"].(map[string]any)
	if info["ScoreVersion"] != float64(2) || from["Score"] != float64(30) {
		t.Errorf("after the panic and a restart: %v; want version 2 and ra 30 (both acknowledged updates)", info)
	}
}

// panicChild acknowledges two updates of a battle, then asks get_battle_info, whose planted
// panic stops the process: it never returns.
func panicChild(t *testing.T, dir string) {
	cfg := DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg.StateDir = dir
	cfg.beforeREST = func(api string) {
		if api == protocol.APIGetBattleInfo {
			panic("planted panic")
		}
	}
	r, err := Start(cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, _, id := journalScene(t, r.URL)
	for i, score := range []int{10, 20} {
		if code, _ := restPost(t, r.URL, protocol.APISetBattleScore, scoreBody(id, fmt.Sprint("k", i), "ra", score)); code != 0 {
			t.Fatalf("set_battle_score: %d", code)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "battle-id"), []byte(id), 0o600); err != nil {
		t.Fatal(err)
	}
	restPost(t, r.URL, protocol.APIGetBattleInfo, fmt.Sprintf(`{"BattleId":%q}`, id))
	fmt.Fprintln(os.Stderr, "get_battle_info answered: the planted panic did not stop the server")
	os.Exit(0) // what the parent must not see
}

package exitcode

import (
	"os"
	"regexp"
	"strconv"
	"testing"
)

// The README's "Exit codes" table is the one users read: it must give every code its
// number, and no other.
func TestTheReadmeTableIsThisTable(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := regexp.MustCompile(`(?s)\n## Exit codes\n(.*?)\n## `).FindSubmatch(data)
	if section == nil {
		t.Fatal(`README.md has no "## Exit codes" section`)
	}
	want := map[string]int{"OK": OK, "Failed": Failed, "Usage": Usage, "Error": Error, "Lost": Lost, "Generator": Generator}
	got := map[string]int{}
	for _, row := range regexp.MustCompile(`(?m)^\| (\d+) \| (\w+) \|`).FindAllSubmatch(section[1], -1) {
		n, _ := strconv.Atoi(string(row[1]))
		got[string(row[2])] = n
	}
	if len(got) != len(want) {
		t.Errorf("README lists %d codes %v; want %d %v", len(got), got, len(want), want)
	}
	for name, code := range want {
		if n, ok := got[name]; !ok || n != code {
			t.Errorf("README: %s is %d (listed: %v); the code says %d", name, n, ok, code)
		}
	}
}

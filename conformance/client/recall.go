package client

import (
	"bytes"
	"sync"
)

// An event fanned out to a group reaches every member's connection with the same payload: the
// server encodes it once and splices each connection's seq and ts into the envelope around it
// (SPEC's frames put the payload last). A load generator reading 450 connections checked and
// indexed the same payload object 450 times, the largest part of its own CPU a frame after
// the system calls. recentObjects remembers the payload objects scanned last, with their
// index: a payload whose bytes are those of one of them is that same well-formed object, with
// that same index, and is compared rather than scanned again. Nothing is checked less: the
// comparison is of every byte, and a payload that differs in any is scanned in full.

// recentSlots is how many payload objects are remembered: events interleave on a busy group
// (a score change's frames still arriving while the next one's start).
const recentSlots = 4

// maxRecalled bounds the size of a remembered object: larger ones are scanned each time.
const maxRecalled = 8 << 10

// minRecalled is the size of the smallest object remembered: smaller ones (a reply's `{}`)
// cost less to scan than to compare and copy, and remembered they would push out the fanned-
// out payloads the memory is for.
const minRecalled = 64

// recentObjects is the process's memory of recent payload objects, shared by every
// connection. Its mutex owns the slots; it is held for a comparison or a copy, never a scan.
var recentObjects struct {
	mu    sync.Mutex
	next  int // the slot the next object replaces
	slots [recentSlots]recalled
}

// recalled is one remembered object: its text and the index its scan made.
type recalled struct {
	text  []byte // a copy; its buffer is kept for the next object of the slot
	index memberIndex
}

// recallIndexed looks for the object starting at data[i] among the remembered ones: if its
// bytes are one of them, it sets *idx to that object's index and returns where the object
// ends.
func recallIndexed(data []byte, i int, idx *memberIndex) (int, bool) {
	rest := data[i:]
	if len(rest) < minRecalled { // the object, a prefix of rest, is too small to be remembered
		return i, false
	}
	recentObjects.mu.Lock()
	defer recentObjects.mu.Unlock()
	for k := range recentObjects.slots {
		r := &recentObjects.slots[k]
		if n := len(r.text); n > 0 && n <= len(rest) && bytes.Equal(rest[:n], r.text) {
			*idx = r.index
			return i + n, true
		}
	}
	return i, false
}

// rememberIndexed remembers obj, an object just scanned and found well-formed, and its index.
func rememberIndexed(obj []byte, idx *memberIndex) {
	if len(obj) < minRecalled || len(obj) > maxRecalled {
		return
	}
	recentObjects.mu.Lock()
	defer recentObjects.mu.Unlock()
	r := &recentObjects.slots[recentObjects.next]
	recentObjects.next = (recentObjects.next + 1) % recentSlots
	r.text = append(r.text[:0], obj...)
	r.index = *idx
}

package core

import (
	"encoding/json"
	"reflect"
	"strings"
)

// exactKeys returns raw with every object key removed that matches a field of t's JSON form
// only when case is ignored. encoding/json matches field names case-insensitively, but the
// protocol's names are case-sensitive: {"LIVEID": "x"} has no liveID, and its LIVEID is an
// unknown field to ignore (TRANS-012). Nested objects and arrays of objects are filtered too.
// Input that does not parse is returned as is, for the decoder to report.
func exactKeys(raw json.RawMessage, t reflect.Type) json.RawMessage {
	v, changed := filterValue(raw, t)
	if !changed {
		return raw
	}
	return v
}

func filterValue(raw json.RawMessage, t reflect.Type) (json.RawMessage, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		return filterObject(raw, t)
	case reflect.Slice:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return raw, false
		}
		changed := false
		for i, it := range items {
			if v, ch := filterValue(it, t.Elem()); ch {
				items[i], changed = v, true
			}
		}
		if !changed {
			return raw, false
		}
		out, _ := json.Marshal(items)
		return out, true
	}
	return raw, false
}

func filterObject(raw json.RawMessage, t reflect.Type) (json.RawMessage, bool) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return raw, false
	}
	fields := make(map[string]reflect.Type, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = f.Type
	}
	changed := false
	for k, v := range obj {
		if ft, ok := fields[k]; ok {
			if nv, ch := filterValue(v, ft); ch {
				obj[k], changed = nv, true
			}
			continue
		}
		for name := range fields {
			if strings.EqualFold(name, k) {
				delete(obj, k)
				changed = true
				break
			}
		}
	}
	if !changed {
		return raw, false
	}
	out, _ := json.Marshal(obj)
	return out, true
}

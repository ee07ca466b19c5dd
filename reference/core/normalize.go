package core

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
)

// maxSafeInteger is the largest integer a request may carry (§6): 2^53 − 1, the last of the
// integers an IEEE 754 double holds exactly, as I-JSON (RFC 7493 §2.2) bounds them.
const maxSafeInteger = 1<<53 - 1

// normalize returns raw as the decoder must read it into t. Every object key that matches a
// field of t's JSON form only when case is ignored is removed: encoding/json matches field
// names case-insensitively, but the protocol's names are case-sensitive, so {"LIVEID": "x"}
// has no liveID, and its LIVEID is an unknown field to ignore (TRANS-012). Every number of an
// integer field is written in its plain form: an integer is a number whose value, read as the
// nearest IEEE 754 double, is whole and within ±(2^53 − 1), however it is written (§6), so
// 2.0, 2e0 and 20E-1 are 2 and -0 is 0; any other number there is refused with 100002 naming
// the field. Nested objects and arrays of objects are done too. Input that does not parse is
// returned as is, for the decoder to report.
func normalize(raw json.RawMessage, t reflect.Type) (json.RawMessage, *protocol.Error) {
	v, _, err := normalValue(raw, t, "")
	return v, err
}

func normalValue(raw json.RawMessage, t reflect.Type, path string) (json.RawMessage, bool, *protocol.Error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		return normalObject(raw, t, path)
	case reflect.Slice:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return raw, false, nil
		}
		changed := false
		for i, it := range items {
			v, ch, err := normalValue(it, t.Elem(), path)
			if err != nil {
				return raw, false, err
			}
			if ch {
				items[i], changed = v, true
			}
		}
		if !changed {
			return raw, false, nil
		}
		out, _ := json.Marshal(items)
		return out, true, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return normalInteger(raw, path)
	}
	return raw, false, nil
}

func normalObject(raw json.RawMessage, t reflect.Type, path string) (json.RawMessage, bool, *protocol.Error) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return raw, false, nil
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
			field := k
			if path != "" {
				field = path + "." + k // as encoding/json names a nested field
			}
			nv, ch, err := normalValue(v, ft, field)
			if err != nil {
				return raw, false, err
			}
			if ch {
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
		return raw, false, nil
	}
	out, _ := json.Marshal(obj)
	return out, true, nil
}

// normalInteger writes the number raw of the integer field named field in its plain form
// (§6), or refuses it. A value that is not a number is left to the decoder.
func normalInteger(raw json.RawMessage, field string) (json.RawMessage, bool, *protocol.Error) {
	if len(raw) == 0 || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') || mutant.On(mutant.IntegerAsWritten) {
		return raw, false, nil
	}
	if plainInteger(raw) && len(strings.TrimPrefix(string(raw), "-")) <= 15 { // within ±(2^53 − 1)
		return raw, false, nil
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	switch {
	case err == nil && v != math.Trunc(v):
		return raw, false, protocol.ErrInvalidParameter.With("%s: must be an integer, not number %s", field, raw)
	case err != nil || math.Abs(v) > maxSafeInteger: // ParseFloat's error: beyond a double's range
		return raw, false, protocol.ErrInvalidParameter.With("%s: must be an integer from -%d to %d, not %s", field, int64(maxSafeInteger), int64(maxSafeInteger), raw)
	}
	plain := strconv.FormatInt(int64(v), 10)
	if plain == string(raw) {
		return raw, false, nil
	}
	return json.RawMessage(plain), true, nil
}

// plainInteger reports whether the JSON number raw is written as a bare integer: an optional
// minus sign and digits, no fraction, no exponent, and not -0.
func plainInteger(raw []byte) bool {
	digits := strings.TrimPrefix(string(raw), "-")
	if digits == "" || digits == "0" && len(digits) != len(raw) {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

// Package flex decodes the loosely typed JSON values of WeChat's answers
// and pushes (protocol §d.6 and §k.9): numbers that arrive as strings or as
// numbers, 64-bit ids that must not pass through float64. It is the one
// definition of these primitives, shared by the wechat and push packages;
// standard library only.
package flex

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// String decodes a JSON string as its value, a number as its exact text
// (so a 64-bit MsgId never passes through float64) and a boolean as "true"
// or "false". Null, objects and arrays leave it empty: such a value is not
// WeChat's documented shape, and callers keep the raw JSON when they need
// it.
type String string

// UnmarshalJSON implements json.Unmarshaler.
func (s *String) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0:
		return nil
	case b[0] == '"' && plainString(b):
		// The decoder calling us has validated b: without escapes and
		// with valid UTF-8 its content is the value (json.Unmarshal
		// would only copy it, at several times the cost).
		*s = String(b[1 : len(b)-1])
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = String(v)
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9') || b[0] == 't' || b[0] == 'f':
		*s = String(b)
	}
	return nil
}

// Int decodes a 64-bit integer given as a JSON number or a decimal string
// (CreateTime, errcode, label and expires_in arrive both ways). Empty
// strings and null give 0; any other value that is not a 64-bit integer is
// an error.
type Int int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int) UnmarshalJSON(b []byte) error {
	var s String
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	if s == "" {
		return nil
	}
	v, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %q", s)
	}
	*n = Int(v)
	return nil
}

// plainString reports whether the JSON string b needs no decoding: quoted,
// no backslash escape, valid UTF-8 (json.Unmarshal would replace invalid
// bytes).
func plainString(b []byte) bool {
	if len(b) < 2 || b[len(b)-1] != '"' {
		return false
	}
	inner := b[1 : len(b)-1]
	return bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner)
}

// Package flex decodes the loosely typed JSON values of WeChat's answers
// and pushes (protocol §d.6 and §k.9): numbers that arrive as strings or as
// numbers, 64-bit ids that must not pass through float64. It is the one
// definition of these primitives, shared by the wechat and push packages;
// standard library only.
package flex

import (
	"encoding/json"
	"fmt"
	"strconv"
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

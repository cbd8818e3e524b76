package wechat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// flexInt decodes a JSON number or a string holding one: WeChat sends
// label, ErrorCode and the like either way (protocol §k.9).
type flexInt int64

// UnmarshalJSON accepts 5, "5", null and "".
func (n *flexInt) UnmarshalJSON(b []byte) error {
	s, err := numberText(b)
	if err != nil || s == "" {
		return err
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %q", s)
	}
	*n = flexInt(v)
	return nil
}

// flexString decodes a JSON string or number into its text, keeping every
// digit of 64-bit numbers.
type flexString string

// UnmarshalJSON accepts "86", 86 and null.
func (s *flexString) UnmarshalJSON(b []byte) error {
	t, err := numberText(b)
	if err != nil {
		return err
	}
	*s = flexString(t)
	return nil
}

// numberText returns the text of a JSON string, number or null.
func numberText(b []byte) (string, error) {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return "", nil
	case b[0] == '"':
		var s string
		err := json.Unmarshal(b, &s)
		return s, err
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return "", err
		}
		return n.String(), nil
	}
}

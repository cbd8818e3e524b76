package push_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/miniback/miniback/push"
)

// FuzzParse checks that Parse never panics, fails only with *ParseError,
// and that a parsed message's Fields parse back to the same message: the
// router relies on that when it re-reads stored messages.
func FuzzParse(f *testing.F) {
	names, err := filepath.Glob(filepath.Join("testdata", "samples", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(formatOf(n), b)
	}
	f.Fuzz(func(t *testing.T, format string, body []byte) {
		m, err := push.Parse(format, body)
		if err != nil {
			var pe *push.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		if !json.Valid(m.Fields) || !utf8.Valid(m.Fields) || m.Fields[0] != '{' {
			t.Fatalf("Fields is not a UTF-8 JSON object: %q", m.Fields)
		}
		again, err := push.Parse(push.FormatJSON, m.Fields)
		if err != nil {
			t.Fatalf("Fields do not parse back: %v: %q", err, m.Fields)
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("round trip differs:\n%+v\n%+v", m, again)
		}
	})
}

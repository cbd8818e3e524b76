package flex_test

import (
	"encoding/json"
	"testing"

	"github.com/miniback/miniback/internal/flex"
)

func TestString(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"string", `"86"`, "86"},
		{"number kept exactly", `9223372036854775807`, "9223372036854775807"},
		{"beyond float precision", `24000000000000001`, "24000000000000001"},
		{"boolean", `true`, "true"},
		{"null", `null`, ""},
		{"object ignored", `{"a":1}`, ""},
		{"array ignored", `[1]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v struct{ X flex.String }
			if err := json.Unmarshal([]byte(`{"X":`+tt.in+`}`), &v); err != nil || string(v.X) != tt.want {
				t.Errorf("got %q, %v; want %q", v.X, err, tt.want)
			}
		})
	}
}

func TestInt(t *testing.T) {
	tests := []struct {
		name, in string
		want     int64
		wantErr  bool
	}{
		{"number", `5`, 5, false},
		{"string", `"20001"`, 20001, false},
		{"negative", `-1`, -1, false},
		{"empty string", `""`, 0, false},
		{"null", `null`, 0, false},
		{"float", `1.5`, 0, true},
		{"word", `"soon"`, 0, true},
		{"boolean", `true`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v struct{ X flex.Int }
			err := json.Unmarshal([]byte(`{"X":`+tt.in+`}`), &v)
			if (err != nil) != tt.wantErr || int64(v.X) != tt.want {
				t.Errorf("got %d, %v; want %d (error %v)", v.X, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestStringDecodesLikeUnmarshal: the fast path for strings without
// escapes gives what json.Unmarshal gives, and escapes and invalid UTF-8
// still go through it.
func TestStringDecodesLikeUnmarshal(t *testing.T) {
	for _, in := range []string{`""`, `"plain"`, `"微信🙂"`, `"a\"b"`, `"line\nbreak"`, `"\u00e9"`, "\"\xff\xfe\"", `"tab\there"`} {
		var want string
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		var v struct{ X flex.String }
		if err := json.Unmarshal([]byte(`{"X":`+in+`}`), &v); err != nil || string(v.X) != want {
			t.Errorf("%q: got %q, %v; want %q", in, v.X, err, want)
		}
	}
}

package api

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/miniback/miniback"
)

// maxJSONBody bounds every JSON request body.
const maxJSONBody = 64 << 10

// decodeJSON reads one JSON object from r's body into v. The content type
// must be application/json, the body at most maxJSONBody bytes, with no
// unknown fields and nothing after the object.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	body := http.MaxBytesReader(w, r.Body, maxJSONBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return decodeError(err)
		}
		return miniback.Errorf(miniback.ECodeInvalidRequest, "the body must hold exactly one JSON object")
	}
	return nil
}

func requireJSON(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return miniback.Errorf(miniback.ECodeUnsupportedMedia, "the body must be application/json")
	}
	return nil
}

func decodeError(err error) error {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return miniback.Errorf(miniback.ECodeTooLarge, "the body is larger than %d bytes", tooBig.Limit)
	case errors.Is(err, io.EOF):
		return miniback.Errorf(miniback.ECodeInvalidRequest, "the body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return miniback.Errorf(miniback.ECodeInvalidRequest, "the body is truncated JSON")
	case errors.As(err, &syntax):
		return miniback.Errorf(miniback.ECodeInvalidRequest, "the body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		return miniback.Errorf(miniback.ECodeInvalidRequest, "field %q must be %s", typ.Field, typ.Type.String())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return miniback.Errorf(miniback.ECodeInvalidRequest, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return miniback.WrapError(miniback.ECodeInvalidRequest, "the body could not be read", err)
}

package push

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Push data formats, as configured per app (miniback.App.MsgFormat).
const (
	FormatJSON = "JSON"
	FormatXML  = "XML"
)

// Parser limits. A push is at most a few kilobytes; compatible mode roughly
// triples it. The limits bound the work an unauthenticated body can cause.
const (
	// MaxMessageSize is the largest body Parse accepts.
	MaxMessageSize = 4 << 20
	// MaxDepth is the deepest element or value nesting Parse accepts.
	MaxDepth = 32
	// maxElements bounds the number of XML elements.
	maxElements = 1 << 16
)

// Errors wrapped by *ParseError, for errors.Is.
var (
	ErrFormat    = errors.New("push: unknown data format")
	ErrTooLarge  = errors.New("push: message too large")
	ErrSyntax    = errors.New("push: malformed message")
	ErrTruncated = errors.New("push: truncated message")
	ErrDepth     = errors.New("push: message nested too deeply")
	ErrDirective = errors.New("push: XML declarations (DOCTYPE, ENTITY) are not allowed")
	ErrNotObject = errors.New("push: message is not an object")
	ErrField     = errors.New("push: field has an invalid value")
)

// ParseError is the error of Parse: the body is not a well-formed push in
// the given format. The Portal answers it with 400.
type ParseError struct {
	Format string
	Err    error // wraps one of the Err… sentinels
}

// Error implements error. It never quotes the body.
func (e *ParseError) Error() string { return "push: parse " + e.Format + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *ParseError) Unwrap() error { return e.Err }

// Parse parses a push body in format "XML" or "JSON" (case-insensitive):
// a plaintext message, the envelope of compatible or safe mode (then
// Message.Encrypt is set and the other fields, if any, are the plaintext
// copy, which callers must not trust), or a decrypted inner message.
//
// XML is parsed strictly: DOCTYPE and other declarations are rejected, and
// so is any entity except the five predefined ones (numeric character
// references are allowed); nesting is limited to MaxDepth; a document cut
// short is an error. Every error is a *ParseError. Parse is safe for
// concurrent use.
func Parse(format string, body []byte) (*Message, error) {
	f := strings.ToUpper(format)
	if len(body) > MaxMessageSize {
		return nil, &ParseError{Format: f, Err: ErrTooLarge}
	}
	var fields []byte
	var err error
	switch f {
	case FormatJSON:
		fields, err = jsonFields(body)
	case FormatXML:
		fields, err = xmlToJSON(body)
	default:
		return nil, &ParseError{Format: format, Err: ErrFormat}
	}
	if err != nil {
		return nil, &ParseError{Format: f, Err: err}
	}
	m, err := decodeFields(fields)
	if err != nil {
		return nil, &ParseError{Format: f, Err: err}
	}
	return m, nil
}

// jsonFields checks that body is one JSON object nested at most MaxDepth
// deep and returns it compacted.
func jsonFields(body []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(body)
	// encoding/json takes invalid UTF-8 inside strings; stored and
	// re-emitted raw it would make the inbox and webhook bodies invalid
	// JSON. The XML decoder refuses it already.
	if !utf8.Valid(trimmed) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrSyntax)
	}
	// Compact validates as it copies: one pass over a valid body instead
	// of a json.Valid pass before it.
	var buf bytes.Buffer
	buf.Grow(len(trimmed))
	if err := json.Compact(&buf, trimmed); err != nil {
		var v json.RawMessage
		err := json.NewDecoder(bytes.NewReader(trimmed)).Decode(&v)
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, ErrTruncated
		}
		return nil, fmt.Errorf("%w: invalid JSON", ErrSyntax)
	}
	if trimmed[0] != '{' {
		return nil, ErrNotObject
	}
	if jsonDepth(buf.Bytes()) > MaxDepth {
		return nil, ErrDepth
	}
	return buf.Bytes(), nil
}

// jsonDepth returns the deepest nesting of valid JSON b, skipping strings.
func jsonDepth(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// decodeFields fills a Message from the JSON object fields.
func decodeFields(fields []byte) (*Message, error) {
	var w wireMessage
	if err := json.Unmarshal(fields, &w); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrField, err)
	}
	m := &Message{
		ToUserName: string(w.ToUserName), FromUserName: string(w.FromUserName),
		CreateTime: int64(w.CreateTime), MsgType: string(w.MsgType), Event: string(w.Event),
		MsgID: string(w.MsgID), Content: string(w.Content), PicURL: string(w.PicURL),
		MediaID: string(w.MediaID), Title: string(w.Title), AppID: string(w.AppID),
		PagePath: string(w.PagePath), ThumbURL: string(w.ThumbURL),
		ThumbMediaID: string(w.ThumbMediaID), SessionFrom: string(w.SessionFrom),
		TraceID: string(w.TraceID), Encrypt: string(w.Encrypt),
		Result: MediaCheckResult{Suggest: string(w.Result.Suggest), Label: string(w.Result.Label)},
		Fields: fields,
	}
	m.List = w.items()
	return m, nil
}

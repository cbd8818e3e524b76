package push

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// xmlElem is one element of a push document while it is being read.
type xmlElem struct {
	name     string
	text     strings.Builder
	children []*xmlElem
}

// xmlToJSON converts a push document to its JSON object: the root element
// (<xml>) becomes the object; an element with children becomes an object,
// a leaf element a string (its text verbatim, CDATA included); repeated
// sibling names become arrays. Attributes and comments are not part of
// WeChat's format and are ignored.
func xmlToJSON(body []byte) ([]byte, error) {
	root, err := readXML(body)
	if err != nil {
		return nil, err
	}
	if len(root.children) == 0 && strings.TrimSpace(root.text.String()) != "" {
		return nil, ErrNotObject
	}
	var buf bytes.Buffer
	buf.Grow(len(body))
	writeObject(&buf, root.children)
	return buf.Bytes(), nil
}

// readXML reads the single root element of body with the limits of Parse.
func readXML(body []byte) (*xmlElem, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true // unknown entities are syntax errors
	var stack []*xmlElem
	var root *xmlElem
	count := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, xmlError(err, len(stack) > 0)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, fmt.Errorf("%w: more than one root element", ErrSyntax)
			}
			if count++; count > maxElements || len(stack) >= MaxDepth {
				return nil, ErrDepth
			}
			e := &xmlElem{name: t.Name.Local}
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.children = append(top.children, e)
			} else {
				root = e
			}
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("%w: text outside the root element", ErrSyntax)
			}
		case xml.Directive:
			return nil, ErrDirective
		}
	}
	if len(stack) > 0 || root == nil {
		return nil, ErrTruncated
	}
	return root, nil
}

// xmlError classifies a decoder error: an unexpected end of input inside
// an element is truncation, anything else a syntax error.
func xmlError(err error, open bool) error {
	var se *xml.SyntaxError
	if errors.Is(err, io.ErrUnexpectedEOF) || (open && errors.As(err, &se) && strings.Contains(se.Msg, "unexpected EOF")) {
		return ErrTruncated
	}
	return fmt.Errorf("%w: %w", ErrSyntax, err)
}

// writeObject writes children as a JSON object, grouping repeated names
// into arrays in the order of their first appearance.
func writeObject(buf *bytes.Buffer, children []*xmlElem) {
	var order []string
	groups := make(map[string][]*xmlElem, len(children))
	for _, c := range children {
		if _, ok := groups[c.name]; !ok {
			order = append(order, c.name)
		}
		groups[c.name] = append(groups[c.name], c)
	}
	buf.WriteByte('{')
	for i, name := range order {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeString(buf, name)
		buf.WriteByte(':')
		if g := groups[name]; len(g) == 1 {
			writeValue(buf, g[0])
		} else {
			buf.WriteByte('[')
			for j, e := range g {
				if j > 0 {
					buf.WriteByte(',')
				}
				writeValue(buf, e)
			}
			buf.WriteByte(']')
		}
	}
	buf.WriteByte('}')
}

func writeValue(buf *bytes.Buffer, e *xmlElem) {
	if len(e.children) > 0 {
		writeObject(buf, e.children)
		return
	}
	writeString(buf, e.text.String())
}

func writeString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	buf.Write(b)
}

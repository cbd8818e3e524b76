package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// jsonToXML converts a JSON object to WeChat's push XML, keeping the key
// order: <xml> at the root, strings in CDATA, numbers and booleans bare,
// null empty, objects as nested elements, arrays as repeated elements.
func jsonToXML(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var buf bytes.Buffer
	buf.WriteString("<xml>")
	if err := writeXMLFields(dec, &buf); err != nil {
		return nil, err
	}
	buf.WriteString("</xml>")
	return buf.Bytes(), nil
}

// writeXMLFields writes the remaining fields of an object whose '{' was
// read, and reads its '}'.
func writeXMLFields(dec *json.Decoder, buf *bytes.Buffer) error {
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("bad key %v", tok)
		}
		if tok, err = dec.Token(); err != nil {
			return err
		}
		if err := writeXMLValue(dec, buf, key, tok); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}

// writeXMLValue writes the value that starts with tok as element key.
func writeXMLValue(dec *json.Decoder, buf *bytes.Buffer, key string, tok json.Token) error {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return writeXMLArray(dec, buf, key)
		}
		buf.WriteString("<" + key + ">")
		if err := writeXMLFields(dec, buf); err != nil {
			return err
		}
	case string:
		buf.WriteString("<" + key + ">" + cdata(v))
	case json.Number:
		buf.WriteString("<" + key + ">" + v.String())
	case bool:
		buf.WriteString(fmt.Sprintf("<%s>%t", key, v))
	case nil:
		buf.WriteString("<" + key + ">")
	}
	buf.WriteString("</" + key + ">")
	return nil
}

func writeXMLArray(dec *json.Decoder, buf *bytes.Buffer, key string) error {
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if err := writeXMLValue(dec, buf, key, tok); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}

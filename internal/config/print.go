package config

import (
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Masked is what every secret is printed as.
const Masked = "*****"

// secretName matches the keys whose values are secrets, wherever they are
// in the tree (apps[].secret, apps[].token, apps[].aes_key,
// admin.api_keys, push.rules[].webhook_secret, and any later key named
// alike). A key may also be marked with the struct tag `secret:"true"`.
// Masking a value that was not secret costs nothing; printing one that
// was cannot be undone.
var secretName = regexp.MustCompile(`(^|_)(secret|token|password|passwd|key|keys|credential|credentials|private)(_|$)`)

// notSecret are keys that match secretName but hold no secret.
var notSecret = map[string]bool{"token_mode": true, "signing_key_file": true, "seal_key_file": true}

// MarshalMasked returns c as YAML in the order of the struct, with every
// secret replaced by Masked (including secrets read through *_file keys,
// which Load has already put in place) and the passwords of URLs masked.
// The output is a valid configuration file apart from the masked values.
func (c Config) MarshalMasked() ([]byte, error) {
	node, err := maskedNode(reflect.ValueOf(c), false)
	if err != nil {
		return nil, err
	}
	return yaml.Marshal(node)
}

func maskedNode(v reflect.Value, secret bool) (*yaml.Node, error) {
	if secret && v.Kind() == reflect.Slice {
		n := &yaml.Node{Kind: yaml.SequenceNode, Style: flowIfEmpty(v)}
		for range v.Len() {
			n.Content = append(n.Content, scalar(Masked, "!!str"))
		}
		return n, nil
	}
	if secret && !v.IsZero() {
		return scalar(Masked, "!!str"), nil
	}
	switch {
	case v.Type() == durationType:
		return scalar(time.Duration(v.Int()).String(), "!!str"), nil
	case v.Type() == rateType:
		return scalar(v.Interface().(Rate).text(), "!!str"), nil
	case v.Kind() == reflect.Struct:
		return structNode(v)
	case v.Kind() == reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode, Style: flowIfEmpty(v)}
		for i := range v.Len() {
			item, err := maskedNode(v.Index(i), false)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, item)
		}
		return n, nil
	case v.Kind() == reflect.String:
		return scalar(v.String(), "!!str"), nil
	case v.Kind() == reflect.Bool:
		return scalar(strconv.FormatBool(v.Bool()), "!!bool"), nil
	case v.CanInt():
		return scalar(strconv.FormatInt(v.Int(), 10), "!!int"), nil
	case v.CanUint():
		return scalar(strconv.FormatUint(v.Uint(), 10), "!!int"), nil
	case v.CanFloat():
		return scalar(strconv.FormatFloat(v.Float(), 'g', -1, 64), ""), nil
	case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String:
		return mapNode(v)
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			return scalar("", "!!null"), nil
		}
		return maskedNode(v.Elem(), false)
	}
	return nil, fmt.Errorf("config: print: unsupported %s", v.Type())
}

func structNode(v reflect.Value) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name := yamlName(f)
		if name == "" || !f.IsExported() {
			continue
		}
		secret := f.Tag.Get("secret") == "true" || (secretName.MatchString(name) && !notSecret[name])
		field := v.Field(i)
		var val *yaml.Node
		var err error
		if !secret && field.Kind() == reflect.String && (name == "url" || strings.HasSuffix(name, "_url")) {
			val = scalar(maskURLSecrets(field.String()), "!!str")
		} else if val, err = maskedNode(field, secret); err != nil {
			return nil, err
		}
		n.Content = append(n.Content, scalar(name, "!!str"), val)
	}
	return n, nil
}

func mapNode(v reflect.Value) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	keys := v.MapKeys()
	strs := make([]string, len(keys))
	for i, k := range keys {
		strs[i] = k.String()
	}
	slices.Sort(strs)
	for _, k := range strs {
		secret := secretName.MatchString(k) && !notSecret[k]
		val, err := maskedNode(v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key())), secret)
		if err != nil {
			return nil, err
		}
		n.Content = append(n.Content, scalar(k, "!!str"), val)
	}
	return n, nil
}

func scalar(value, tag string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

func flowIfEmpty(v reflect.Value) yaml.Style {
	if v.Len() == 0 {
		return yaml.FlowStyle
	}
	return 0
}

// maskURLSecrets masks the password of each comma-separated URL and the
// values of query parameters named like secrets (password=, token=).
func maskURLSecrets(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		parts[i] = maskOneURL(p)
	}
	return strings.Join(parts, ",")
}

func maskOneURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		if strings.Contains(raw, "@") {
			return Masked // unparseable and may hold credentials
		}
		return raw
	}
	masked := false
	if u.User != nil {
		if _, has := u.User.Password(); has {
			// A placeholder that needs no escaping, replaced below.
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			masked = true
		}
	}
	q := u.Query()
	changed := false
	for k := range q {
		if secretName.MatchString(strings.ToLower(k)) {
			q.Set(k, Masked)
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	out := u.String()
	if masked {
		out = strings.Replace(out, ":xxxxx@", ":"+Masked+"@", 1)
	}
	return out
}

// text writes r as ParseRate reads it: "0", or N/s, N/m, N/h.
func (r Rate) text() string {
	if r.IsZero() {
		return "0"
	}
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h"}[r.Per]
	if unit == "" {
		return strconv.Itoa(r.N) + " per " + r.Per.String()
	}
	return strconv.Itoa(r.N) + "/" + unit
}

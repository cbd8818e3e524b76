package config

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts every environment variable miniback reads.
const EnvPrefix = "MINIBACK_"

// Error is a configuration problem; Key names the offending key (a YAML path
// such as "wechat.timeout" or an environment variable).
type Error struct {
	Key string
	Msg string
	Err error
}

func (e *Error) Error() string {
	s := "config: " + e.Key + ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Load reads file (skipped when "") and then the MINIBACK_* variables of
// environ (as os.Environ returns them), resolves *_file keys, applies
// defaults, and validates. Every failure is an *Error naming the key.
func Load(file string, environ []string) (Config, error) {
	tree := map[string]any{}
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return Config{}, &Error{Key: "--config", Msg: "cannot read the file", Err: err}
		}
		if err := yaml.Unmarshal(raw, &tree); err != nil {
			return Config{}, &Error{Key: file, Msg: "invalid YAML", Err: err}
		}
		if tree == nil {
			tree = map[string]any{}
		}
	}
	appsFromEnv, err := applyEnv(tree, environ)
	if err != nil {
		return Config{}, err
	}
	cfg := Default()
	if err := decodeTree(tree, reflect.ValueOf(&cfg).Elem(), ""); err != nil {
		return Config{}, err
	}
	cfg.Sandbox = file == "" && !appsFromEnv && len(cfg.Apps) == 0
	_, listen := tree["listen"]
	_, listenFile := tree["listen_file"]
	cfg.ListenSet = listen || listenFile
	cfg.fill()
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// applyEnv folds MINIBACK_* variables into tree. It reports whether apps
// were set from the environment.
func applyEnv(tree map[string]any, environ []string) (bool, error) {
	leaves := leafKeys(reflect.TypeOf(Config{}), "")
	apps := false
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		key := strings.TrimPrefix(name, EnvPrefix)
		switch {
		case key == "APPS":
			var list []any
			if err := json.Unmarshal([]byte(value), &list); err != nil {
				return false, &Error{Key: name, Msg: "must be a JSON array of apps", Err: err}
			}
			tree["apps"] = list
			apps = true
			continue
		case key == "APPS_FILE":
			raw, err := os.ReadFile(value)
			if err != nil {
				return false, &Error{Key: name, Msg: "cannot read the file", Err: err}
			}
			var list []any
			if err := json.Unmarshal(raw, &list); err != nil {
				return false, &Error{Key: name, Msg: "file must hold a JSON array of apps", Err: err}
			}
			tree["apps"] = list
			apps = true
			continue
		}
		path, ok := leaves[key]
		fromFile := false
		if !ok && strings.HasSuffix(key, "_FILE") {
			path, ok = leaves[strings.TrimSuffix(key, "_FILE")]
			fromFile = true
		}
		if !ok {
			return false, &Error{Key: name, Msg: "unknown setting"}
		}
		if fromFile {
			v, err := readSecretFile(value)
			if err != nil {
				return false, &Error{Key: name, Msg: "cannot read the file", Err: err}
			}
			value = v
		}
		setPath(tree, path, value)
	}
	return apps, nil
}

// leafKeys maps the environment form of every scalar key (DATABASE_URL) to its path.
func leafKeys(t reflect.Type, prefix string) map[string][]string {
	out := map[string][]string{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := yamlName(f)
		if tag == "" || f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct {
			continue
		}
		path := append(strings.Split(prefix, "."), tag)
		if prefix == "" {
			path = []string{tag}
		}
		if f.Type.Kind() == reflect.Struct && f.Type != rateType {
			for k, v := range leafKeys(f.Type, strings.Join(path, ".")) {
				out[k] = v
			}
			continue
		}
		out[strings.ToUpper(strings.Join(path, "_"))] = path
	}
	return out
}

func setPath(tree map[string]any, path []string, value string) {
	for _, p := range path[:len(path)-1] {
		next, ok := tree[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			tree[p] = next
		}
		tree = next
	}
	tree[path[len(path)-1]] = value
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func readSecretFile(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(raw), "\r\n"), nil
}

// decodeTree copies tree into v (a struct), rejecting unknown keys and
// resolving "<key>_file" entries.
func decodeTree(tree map[string]any, v reflect.Value, prefix string) error {
	fields := map[string]reflect.Value{}
	for i := range v.NumField() {
		if name := yamlName(v.Type().Field(i)); name != "" {
			fields[name] = v.Field(i)
		}
	}
	keys := make([]string, 0, len(tree))
	for k := range tree {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		raw := tree[k]
		key := join(prefix, k)
		f, ok := fields[k]
		if !ok {
			base, isFile := strings.CutSuffix(k, "_file")
			if f, ok = fields[base]; !isFile || !ok {
				return &Error{Key: key, Msg: "unknown key"}
			}
			path, isString := raw.(string)
			if !isString {
				return &Error{Key: key, Msg: "must be a file path"}
			}
			s, err := readSecretFile(path)
			if err != nil {
				return &Error{Key: key, Msg: "cannot read the file", Err: err}
			}
			raw, key = s, join(prefix, base)
		}
		if err := setValue(f, raw, key); err != nil {
			return err
		}
	}
	return nil
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	rateType     = reflect.TypeOf(Rate{})
	sizeType     = reflect.TypeOf(ByteSize(0))
)

// setValue stores raw (from YAML, JSON or an environment string) into f.
func setValue(f reflect.Value, raw any, key string) error {
	bad := func(want string) error {
		return &Error{Key: key, Msg: fmt.Sprintf("must be %s, got %s", want, describe(raw))}
	}
	if raw == nil {
		f.Set(reflect.Zero(f.Type()))
		return nil
	}
	switch {
	case f.Type() == durationType:
		d, err := toDuration(raw)
		if err != nil {
			return bad("a duration such as 5s or 15m")
		}
		f.SetInt(int64(d))
	case f.Type() == rateType:
		r, err := ParseRate(fmt.Sprint(raw))
		if err != nil {
			return bad("N/s, N/m, N/h or 0")
		}
		f.Set(reflect.ValueOf(r))
	case f.Type() == sizeType:
		n, err := ParseByteSize(fmt.Sprint(raw))
		if err != nil {
			return bad("a size such as 1MiB or 65536")
		}
		f.SetInt(int64(n))
	case f.Kind() == reflect.Float64:
		switch v := raw.(type) {
		case float64:
			f.SetFloat(v)
		case int:
			f.SetFloat(float64(v))
		case string:
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return bad("a number")
			}
			f.SetFloat(x)
		default:
			return bad("a number")
		}
	case f.Kind() == reflect.String:
		s, ok := raw.(string)
		if !ok {
			return bad("a string")
		}
		f.SetString(s)
	case f.Kind() == reflect.Int:
		n, ok := toInt(raw)
		if !ok {
			return bad("a whole number")
		}
		f.SetInt(n)
	case f.Kind() == reflect.Bool:
		b, ok := raw.(bool)
		if s, isStr := raw.(string); isStr {
			var err error
			b, err = strconv.ParseBool(s)
			ok = err == nil
		}
		if !ok {
			return bad("true or false")
		}
		f.SetBool(b)
	case f.Kind() == reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			return bad("a mapping")
		}
		return decodeTree(m, f, key)
	case f.Kind() == reflect.Slice:
		return setSlice(f, raw, key)
	default:
		return bad("a supported value")
	}
	return nil
}

func setSlice(f reflect.Value, raw any, key string) error {
	if s, ok := raw.(string); ok { // from the environment: JSON array or comma list
		var list []any
		if json.Unmarshal([]byte(s), &list) != nil {
			for _, p := range strings.Split(s, ",") {
				if p = strings.TrimSpace(p); p != "" {
					list = append(list, p)
				}
			}
		}
		raw = list
	}
	list, ok := raw.([]any)
	if !ok {
		return &Error{Key: key, Msg: "must be a list"}
	}
	out := reflect.MakeSlice(f.Type(), len(list), len(list))
	for i, item := range list {
		if err := setValue(out.Index(i), item, fmt.Sprintf("%s[%d]", key, i)); err != nil {
			return err
		}
	}
	f.Set(out)
	return nil
}

// toInt reads a whole number from YAML, JSON or an environment string.
func toInt(raw any) (int64, bool) {
	switch v := raw.(type) {
	case int:
		return int64(v), true
	case int64:
		return v, true
	case float64:
		return int64(v), v == float64(int64(v))
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return n, err == nil
	}
	return 0, false
}

func toDuration(raw any) (time.Duration, error) {
	switch v := raw.(type) {
	case string:
		// Whole days ("30d") too: retention periods read better in days.
		if days, ok := strings.CutSuffix(v, "d"); ok {
			if n, err := strconv.Atoi(days); err == nil && n >= 0 && n <= 100*365 {
				return time.Duration(n) * 24 * time.Hour, nil
			}
		}
		return time.ParseDuration(v)
	case int:
		if v == 0 {
			return 0, nil
		}
	}
	return 0, fmt.Errorf("not a duration")
}

// describe names the kind of a value without echoing it: values may be secrets.
func describe(raw any) string {
	switch raw.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, float64:
		return "a number"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", raw)
}

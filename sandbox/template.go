package sandbox

import (
	"encoding/json"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// validateTemplateData checks subscribe-message data against the
// template's keywords: every keyword present, no others, each
// {"value": string} obeying its type's rule. The first failure, in keyword
// order, is 47003 "argument invalid! data.X.value invalid".
func validateTemplateData(keywords []string, data map[string]json.RawMessage) error {
	known := make(map[string]bool, len(keywords))
	for _, kw := range keywords {
		known[kw] = true
		raw, ok := data[kw]
		if !ok || !validKeywordValue(kw, raw) {
			return invalidData(kw)
		}
	}
	for k := range data {
		if !known[k] {
			return invalidData(k)
		}
	}
	return nil
}

func invalidData(key string) error {
	return wxErr(47003, "argument invalid! data."+key+".value invalid")
}

func validKeywordValue(keyword string, raw json.RawMessage) bool {
	var v struct {
		Value *string `json:"value"`
	}
	if err := json.Unmarshal(raw, &v); err != nil || v.Value == nil || *v.Value == "" {
		return false
	}
	rule, ok := valueRules[keywordType(keyword)]
	if !ok {
		rule = maxRunes(20)
	}
	return rule(*v.Value)
}

// keywordType strips the trailing digits: "thing12" → "thing".
func keywordType(keyword string) string {
	return strings.TrimRightFunc(keyword, unicode.IsDigit)
}

func maxRunes(n int) func(string) bool {
	return func(s string) bool { return utf8.RuneCountInString(s) <= n }
}

func matches(re string, n int) func(string) bool {
	rx := regexp.MustCompile(re)
	return func(s string) bool { return utf8.RuneCountInString(s) <= n && rx.MatchString(s) }
}

const (
	dateRE = `\d{4}(年\d{1,2}月\d{1,2}日|-\d{1,2}-\d{1,2}|/\d{1,2}/\d{1,2})`
	timeRE = `\d{1,2}:\d{2}(:\d{2})?`
	whenRE = `(` + dateRE + `( ` + timeRE + `)?|` + timeRE + `)`
)

// valueRules are the value rules of the subscribe-message doc (e.3), by
// keyword type.
var valueRules = map[string]func(string) bool{
	"thing":            maxRunes(20),
	"number":           matches(`^\d+(\.\d+)?$`, 32),
	"letter":           matches(`^[A-Za-z]+$`, 32),
	"symbol":           matches(`^[^\p{L}\p{N}\s]+$`, 5),
	"character_string": matches(`^[\x21-\x7e]+$`, 32),
	"time":             matches(`^`+whenRE+`( ?~ ?`+whenRE+`)?$`, 64),
	"date":             matches(`^`+whenRE+`( ?~ ?`+whenRE+`)?$`, 64),
	"amount":           matches(`^[¥￥$€£]?\d{1,10}(\.\d{1,2})?元?$`, 16),
	"phone_number":     matches(`^[0-9+\- ]+$`, 17),
	"car_number":       maxRunes(8),
	"name":             validName,
	"phrase":           matches(`^\p{Han}+$`, 5),
}

// validName: ≤10 Chinese characters, or ≤20 letters when pure ASCII.
func validName(s string) bool {
	for _, r := range s {
		if r > unicode.MaxASCII {
			return utf8.RuneCountInString(s) <= 10
		}
	}
	return len(s) <= 20
}

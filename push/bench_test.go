package push_test

import (
	"testing"

	"github.com/miniback/miniback/push"
)

func BenchmarkParse(b *testing.B) {
	for _, file := range []string{"text.json", "text.xml", "subscribe_msg_popup_event.xml", "wxa_media_check_v2.json"} {
		body := readSample(b, file)
		b.Run(file, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := push.Parse(formatOf(file), body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

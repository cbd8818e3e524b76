package load

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
)

// WriteHTML writes r as one self-contained HTML page: the summary, the
// table of steps, latency over time and a latency histogram per step, all
// drawn as inline SVG. The page loads nothing from the network.
func (r *Report) WriteHTML(w io.Writer) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("load: html report: %w", err)
	}
	var text strings.Builder
	_ = r.WriteText(&text)
	data := struct {
		R        *Report
		Text     string
		Timeline template.HTML
		Hists    []template.HTML
		JSON     string
	}{R: r, Text: text.String(), Timeline: timelineSVG(r.Series), JSON: string(raw)}
	for _, s := range r.Steps {
		data.Hists = append(data.Hists, histogramSVG(s))
	}
	return pageTemplate.Execute(w, data)
}

var pageTemplate = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>miniback load: {{.R.Target}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:72em}
pre{background:#f6f6f6;padding:1em;overflow:auto}
svg{background:#fff;border:1px solid #ddd;margin:.5em 0}
svg text{font:11px sans-serif;fill:#444}
.grid{stroke:#eee}.p50{stroke:#1f77b4;fill:none;stroke-width:1.5}.p99{stroke:#d62728;fill:none;stroke-width:1.5}
.bar{fill:#1f77b4}.err{fill:#d62728}
</style></head><body>
<h1>miniback load</h1>
<pre>{{.Text}}</pre>
<h2>Latency over time (all steps)</h2>
{{.Timeline}}
<h2>Latency histograms</h2>
{{range .Hists}}{{.}}{{end}}
<h2>Raw report</h2>
<pre>{{.JSON}}</pre>
</body></html>
`))

const (
	svgW, svgH             = 720, 260
	padL, padR, padT, padB = 60, 20, 20, 40
)

// timelineSVG draws p50 and p99 per second, and errors per second as red
// ticks along the bottom.
func timelineSVG(series []Point) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="latency over time">`, svgW, svgH)
	if len(series) == 0 {
		b.WriteString(`<text x="20" y="30">no data</text></svg>`)
		return template.HTML(b.String())
	}
	top := 0.0
	for _, p := range series {
		top = math.Max(top, p.P99ms)
	}
	top = niceCeil(top)
	last := float64(max(series[len(series)-1].Second, 1))
	x := func(s int) float64 { return padL + float64(s)/last*(svgW-padL-padR) }
	y := func(v float64) float64 { return svgH - padB - v/top*(svgH-padT-padB) }
	axes(&b, top, y)
	for i := 0; i <= 4; i++ {
		s := int(last * float64(i) / 4)
		fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">%ds</text>`, x(s), svgH-padB+15, s)
	}
	line := func(class string, v func(Point) float64) {
		fmt.Fprintf(&b, `<polyline class="%s" points="`, class)
		for _, p := range series {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(p.Second), y(v(p)))
		}
		b.WriteString(`"/>`)
	}
	line("p50", func(p Point) float64 { return p.P50ms })
	line("p99", func(p Point) float64 { return p.P99ms })
	for _, p := range series {
		if p.Errors > 0 {
			fmt.Fprintf(&b, `<rect class="err" x="%.1f" y="%d" width="3" height="6"><title>%d errors</title></rect>`, x(p.Second)-1, svgH-padB-6, p.Errors)
		}
	}
	fmt.Fprintf(&b, `<text x="%d" y="14" style="fill:#1f77b4">— p50</text><text x="%d" y="14" style="fill:#d62728">— p99 (ms); red ticks: seconds with errors</text>`, padL, padL+50)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// histogramSVG draws one step's latency histogram, one bar per bucket.
func histogramSVG(s StepReport) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="latency histogram of %s">`, svgW, svgH, template.HTMLEscapeString(s.Step))
	fmt.Fprintf(&b, `<text x="%d" y="14">%s: %d requests, p50 %s, p99 %s</text>`, padL, template.HTMLEscapeString(s.Step), s.Count, fmtMs(s.P50ms), fmtMs(s.P99ms))
	if len(s.Histogram) == 0 {
		b.WriteString(`</svg>`)
		return template.HTML(b.String())
	}
	var top int64
	for _, k := range s.Histogram {
		top = max(top, k.Count)
	}
	topF := niceCeil(float64(top))
	y := func(v float64) float64 { return svgH - padB - v/topF*(svgH-padT-padB) }
	axes(&b, topF, y)
	w := float64(svgW-padL-padR) / float64(len(s.Histogram))
	for i, k := range s.Histogram {
		x := padL + float64(i)*w
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>≤ %s: %d</title></rect>`,
			x+1, y(float64(k.Count)), math.Max(w-2, 1), svgH-padB-y(float64(k.Count)), fmtMs(k.UpToms), k.Count)
		if i%max(1, len(s.Histogram)/8) == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">≤%s</text>`, x+w/2, svgH-padB+15, fmtMs(k.UpToms))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// axes draws the horizontal grid with labels from 0 to top.
func axes(b *strings.Builder, top float64, y func(float64) float64) {
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		fmt.Fprintf(b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padL, svgW-padR, y(v), y(v), padL-5, y(v)+4, trimFloat(v))
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2g", v)
}

package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/internal/metrics"
)

const deployDir = "../../deploy"

// manifest is one Kubernetes object, decoded loosely.
type manifest map[string]any

func (m manifest) str(path ...string) string {
	v, _ := m.get(path...).(string)
	return v
}

func (m manifest) get(path ...string) any {
	var cur any = map[string]any(m)
	for _, p := range path {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case manifest: // yaml.v3 decodes nested mappings into the outer map type
			cur = c[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

// asMap returns v's mapping, whichever map type yaml.v3 chose.
func asMap(v any) map[string]any {
	switch m := v.(type) {
	case manifest:
		return m
	case map[string]any:
		return m
	}
	return nil
}

// readManifests parses every document of every YAML file in deploy/k8s.
func readManifests(t *testing.T) map[string]manifest {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(deployDir, "k8s", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no manifests in deploy/k8s")
	}
	byKind := map[string]manifest{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var m manifest
			err := dec.Decode(&m)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if m.str("apiVersion") == "" || m.str("kind") == "" || m.str("metadata", "name") == "" {
				t.Fatalf("%s: a document without apiVersion, kind or metadata.name", f)
			}
			if byKind[m.str("kind")] != nil {
				t.Fatalf("%s: a second %s", f, m.str("kind"))
			}
			byKind[m.str("kind")] = m
		}
	}
	for _, kind := range []string{"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap", "Secret"} {
		if byKind[kind] == nil {
			t.Fatalf("deploy/k8s has no %s", kind)
		}
	}
	return byKind
}

// TestKubernetesManifests parses every manifest and checks that the
// Deployment's probes, ports and secret paths agree with the
// configuration miniback actually loads from the ConfigMap and Secret.
func TestKubernetesManifests(t *testing.T) {
	k := readManifests(t)
	dep, pod := k["Deployment"], asMap(k["Deployment"].get("spec", "template", "spec"))
	c := manifest(asMap(pod["containers"].([]any)[0]))

	// The configuration: the ConfigMap's file and the container's
	// MINIBACK_* variables, with the Secret's files where they are mounted.
	mounts := map[string]string{} // mount path → volume name
	for _, v := range c.get("volumeMounts").([]any) {
		vm := manifest(asMap(v))
		mounts[vm.str("mountPath")] = vm.str("name")
	}
	volumes := map[string]manifest{}
	for _, v := range pod["volumes"].([]any) {
		vol := manifest(asMap(v))
		volumes[vol.str("name")] = vol
	}
	secretDir, configDir := t.TempDir(), t.TempDir()
	secretMount, configMount := "", ""
	for path, name := range mounts {
		switch {
		case volumes[name].str("secret", "secretName") == k["Secret"].str("metadata", "name"):
			secretMount = path
		case volumes[name].str("configMap", "name") == k["ConfigMap"].str("metadata", "name"):
			configMount = path
		}
	}
	if secretMount == "" || configMount == "" {
		t.Fatalf("the Secret and the ConfigMap must both be mounted (mounts %v)", mounts)
	}
	for name, value := range asMap(k["Secret"].get("stringData")) {
		os.WriteFile(filepath.Join(secretDir, name), []byte(value.(string)), 0o600)
	}
	// The files are read where the test put them.
	local := func(s string) string {
		s = strings.ReplaceAll(s, secretMount+"/", secretDir+"/")
		return strings.ReplaceAll(s, configMount+"/", configDir+"/")
	}
	for name, value := range asMap(k["ConfigMap"].get("data")) {
		os.WriteFile(filepath.Join(configDir, name), []byte(local(value.(string))), 0o600)
	}
	// Every path under the secret mount must name a key of the Secret.
	usedSecret := regexp.MustCompile(regexp.QuoteMeta(secretMount) + `/([A-Za-z0-9._-]+)`)
	checkSecretPaths := func(where, text string) {
		for _, m := range usedSecret.FindAllStringSubmatch(text, -1) {
			if k["Secret"].get("stringData", m[1]) == nil {
				t.Errorf("%s reads %s, which is not a key of the Secret", where, m[0])
			}
		}
	}
	var env []string
	for _, e := range c.get("env").([]any) {
		ev := manifest(asMap(e))
		if strings.HasPrefix(ev.str("name"), config.EnvPrefix) {
			checkSecretPaths("env "+ev.str("name"), ev.str("value"))
			env = append(env, ev.str("name")+"="+local(ev.str("value")))
		}
	}
	for name, value := range asMap(k["ConfigMap"].get("data")) {
		checkSecretPaths("ConfigMap "+name, value.(string))
		// Secrets must come from files, never be written in the ConfigMap.
		if regexp.MustCompile(`(?m)^\s*(secret|token|aes_key|webhook_secret|url):\s*\S*(://[^/\s]*:[^@\s]*@)?`).MatchString(value.(string)) &&
			strings.Contains(value.(string), "@") {
			t.Errorf("ConfigMap %s holds a credential: use a *_file key", name)
		}
	}
	args := c.get("args").([]any)
	if len(args) != 3 || args[0] != "serve" || args[1] != "--config" || !strings.HasPrefix(args[2].(string), configMount+"/") {
		t.Fatalf("args = %v, want serve --config %s/…", args, configMount)
	}
	cfg, err := config.Load(local(args[2].(string)), env)
	if err != nil {
		t.Fatalf("the configuration of the manifests does not load: %v", err)
	}
	if cfg.Sandbox || len(cfg.Apps) == 0 || len(cfg.Admin.APIKeys) == 0 || cfg.Auth.SigningKeyFile == "" || cfg.Auth.SealKeyFile == "" {
		t.Fatalf("apps, admin keys and the shared keys must come from the Secret: %+v", cfg)
	}
	if _, _, err := openKeys(cfg); err != nil {
		t.Fatalf("the Secret's keys do not load: %v", err)
	}

	// Ports and probes agree with listen and metrics.listen.
	ports := map[string]int{}
	for _, p := range c.get("ports").([]any) {
		pm := manifest(asMap(p))
		ports[pm.str("name")] = pm.get("containerPort").(int)
	}
	if want := portOf(t, cfg.Listen); ports["http"] != want {
		t.Errorf("containerPort http = %d, listen is %s", ports["http"], cfg.Listen)
	}
	if want := portOf(t, cfg.Metrics.Listen); ports["metrics"] != want {
		t.Errorf("containerPort metrics = %d, metrics.listen is %s", ports["metrics"], cfg.Metrics.Listen)
	}
	if got := dep.str("spec", "template", "metadata", "annotations", "prometheus.io/port"); got != strconv.Itoa(ports["metrics"]) {
		t.Errorf("prometheus.io/port = %q, want the metrics port", got)
	}
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz", "startupProbe": "/healthz"} {
		if c.str(probe, "httpGet", "path") != path || c.str(probe, "httpGet", "port") != "http" {
			t.Errorf("%s = %v, want GET %s on the http port", probe, c.get(probe), path)
		}
	}

	// Graceful termination outlasts the drain (20 s) plus the preStop pause.
	grace, _ := pod["terminationGracePeriodSeconds"].(int)
	pause, _ := c.get("lifecycle", "preStop", "sleep", "seconds").(int)
	if time.Duration(grace)*time.Second < shutdownGrace+time.Duration(pause)*time.Second+cfg.WeChat.Timeout {
		t.Errorf("terminationGracePeriodSeconds %d is shorter than the preStop pause %ds + the drain %s + wechat.timeout", grace, pause, shutdownGrace)
	}
	if c.get("resources", "requests", "cpu") == nil || c.get("resources", "limits", "memory") == nil {
		t.Error("the container needs resource requests and limits (the HPA scales on CPU)")
	}
	if asMap(pod["securityContext"])["runAsNonRoot"] != true {
		t.Error("the pod must run as non-root")
	}

	// Service, HPA and PDB point at the Deployment's pods.
	labels := asMap(dep.get("spec", "template", "metadata", "labels"))
	matches := func(sel any) bool {
		m := asMap(sel)
		for k, v := range m {
			if labels[k] != v {
				return false
			}
		}
		return len(m) > 0
	}
	if !matches(k["Service"].get("spec", "selector")) {
		t.Error("the Service's selector does not select the Deployment's pods")
	}
	for _, p := range k["Service"].get("spec", "ports").([]any) {
		if tp := manifest(asMap(p)).str("targetPort"); ports[tp] == 0 {
			t.Errorf("Service targetPort %q is not a container port", tp)
		}
	}
	if !matches(k["PodDisruptionBudget"].get("spec", "selector", "matchLabels")) {
		t.Error("the PodDisruptionBudget does not select the Deployment's pods")
	}
	if k["HorizontalPodAutoscaler"].str("spec", "scaleTargetRef", "name") != dep.str("metadata", "name") {
		t.Error("the HorizontalPodAutoscaler does not scale the Deployment")
	}
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	p, err := strconv.Atoi(addr[i+1:])
	if err != nil {
		t.Fatalf("no port in %q", addr)
	}
	return p
}

// contractMetricNames returns every metric name /metrics can expose, with
// the _bucket/_sum/_count series of histograms.
func contractMetricNames(t *testing.T) map[string]bool {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, metrics.Options{AppIDs: []string{"wxa"}, Handlers: []string{"log"}})
	m.ObserveHTTP("GET /healthz", 200, time.Millisecond)
	m.ObserveRequest("wxa", "/sns/jscode2session", "0", time.Millisecond)
	m.ObserveTokenFetch("wxa", "stable", "cold")
	m.PushHandled("log", metrics.HandledOK)
	m.PushLag(time.Second)
	m.OutboxAttempt("customer", "0")
	m.SetCircuitState("wechat", metrics.CircuitClosed)
	m.RateLimited("login")
	reg.MustRegister(metrics.DBCollector{Stats: noStats},
		metrics.QueueCollector{Consumers: []string{"inbox"}, Pending: noPending})
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		n := f.GetName()
		names[n] = true
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			names[n+s] = true
		}
	}
	return names
}

var metricRef = regexp.MustCompile(`\bminiback_[a-z_]+`)

// TestDashboardAndAlertsUseRealMetrics: every miniback_* name in the
// dashboard and the alert rules is a metric miniback exposes, and the
// dashboard shows each family of SPEC §8.1.
func TestDashboardAndAlertsUseRealMetrics(t *testing.T) {
	names := contractMetricNames(t)
	seen := map[string]bool{}
	for _, f := range []string{"grafana/miniback.json", "prometheus/alerts.yml"} {
		raw, err := os.ReadFile(filepath.Join(deployDir, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range metricRef.FindAllString(string(raw), -1) {
			if !names[ref] {
				t.Errorf("deploy/%s uses %s, which miniback does not expose", f, ref)
			}
			if f == "grafana/miniback.json" {
				seen[strings.TrimSuffix(ref, "_bucket")] = true
			}
		}
	}
	for name := range names {
		if base := strings.TrimSuffix(strings.TrimSuffix(name, "_sum"), "_count"); base == name && !strings.HasSuffix(name, "_bucket") &&
			strings.HasPrefix(name, "miniback_") && name != "miniback_build_info" && !seen[name] {
			t.Errorf("the dashboard does not show %s", name)
		}
	}
}

// TestComposeFile parses deploy/compose.yaml: three instances behind
// HAProxy with PostgreSQL, Redis, NATS, Prometheus and Grafana, and every
// file it mounts exists.
func TestComposeFile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(deployDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Image       string
			Command     []string
			Environment map[string]string
			Volumes     []string
			Secrets     []string
		}
		Secrets map[string]struct{ File string }
	}
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	var instances []string
	for name, s := range c.Services {
		if strings.HasPrefix(name, "miniback") {
			instances = append(instances, name)
			if s.Environment["MINIBACK_QUEUE_URL"] == "" || s.Environment["MINIBACK_REDIS_URL"] == "" ||
				s.Environment["MINIBACK_DATABASE_URL_FILE"] == "" || s.Environment["MINIBACK_METRICS_LISTEN"] != ":9090" {
				t.Errorf("%s does not use the shared PostgreSQL, Redis and NATS with metrics on :9090", name)
			}
		}
		for _, v := range s.Volumes {
			if src, _, _ := strings.Cut(v, ":"); strings.HasPrefix(src, "./") {
				if _, err := os.Stat(filepath.Join(deployDir, src)); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
			}
		}
	}
	if len(instances) != 3 {
		t.Errorf("compose runs %d miniback instances, want 3", len(instances))
	}
	for _, s := range []string{"haproxy", "postgres", "redis", "nats", "prometheus", "grafana"} {
		if _, ok := c.Services[s]; !ok {
			t.Errorf("compose has no %s", s)
		}
	}
	for name, s := range c.Secrets {
		if _, err := os.Stat(filepath.Join(deployDir, s.File)); err != nil {
			t.Errorf("secret %s: %v", name, err)
		}
	}
	// An instance's environment is a configuration miniback accepts, with
	// the secrets read from the files compose mounts at /run/secrets.
	var env []string
	for k, v := range c.Services["miniback1"].Environment {
		if name, ok := strings.CutPrefix(v, "/run/secrets/"); ok {
			v = filepath.Join(deployDir, c.Secrets[name].File)
		}
		env = append(env, k+"="+v)
	}
	cfg, err := config.Load("", env)
	if err != nil {
		t.Fatalf("miniback1's environment does not load: %v", err)
	}
	if _, _, err := openKeys(cfg); err != nil || cfg.Sandbox || len(cfg.Admin.APIKeys) == 0 {
		t.Fatalf("miniback1's keys, apps or admin keys are wrong: %v", err)
	}
	haproxy, _ := os.ReadFile(filepath.Join(deployDir, "haproxy/haproxy.cfg"))
	prom, _ := os.ReadFile(filepath.Join(deployDir, "prometheus/prometheus.yml"))
	slices.Sort(instances)
	for _, in := range instances {
		if !strings.Contains(string(haproxy), "server "+in+" "+in+":8080 check") {
			t.Errorf("haproxy.cfg does not balance to %s", in)
		}
		if !strings.Contains(string(prom), in+":9090") {
			t.Errorf("prometheus.yml does not scrape %s", in)
		}
	}
}

// TestGitHubWorkflow: the workflow parses and runs .ci/run.
func TestGitHubWorkflow(t *testing.T) {
	raw, err := os.ReadFile("../../.github/workflows/ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		On   map[string]any `yaml:"on"`
		Jobs map[string]struct {
			Services map[string]any
			Steps    []struct{ Run string }
		}
	}
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatalf("ci.yml: %v", err)
	}
	runs, nats := false, false
	for _, j := range wf.Jobs {
		for _, s := range j.Steps {
			runs = runs || strings.Contains(s.Run, "bash .ci/run")
			// A service container cannot be given -js: NATS is started by a step.
			nats = nats || strings.Contains(s.Run, "nats") && strings.Contains(s.Run, "-js") && strings.Contains(s.Run, "4222")
		}
		for _, svc := range []string{"postgres", "mariadb", "redis"} {
			if _, ok := j.Services[svc]; !ok {
				t.Errorf("the workflow does not start %s", svc)
			}
		}
	}
	if !runs || wf.On == nil {
		t.Fatal("the workflow does not run .ci/run on push")
	}
	if !nats {
		t.Error("the workflow does not start NATS with JetStream on 4222")
	}
}

func noStats() sql.DBStats { return sql.DBStats{} }

func noPending(context.Context, string) (uint64, error) { return 0, nil }
